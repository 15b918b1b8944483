"""The benchmark's models, built with the project's own commands into a build folder and reused if present.

- ``tiny``: 2 layers, 32 wide, random weights. Inference is nearly free, so what its numbers show
  is the cost of serving itself (HTTP, JSON, tokenizing, queues).
- ``shape-true``: the real DistilBERT-SST-2 ``config.json`` with seeded random weights: the real
  model's graph, so the real model's speed (its predictions mean nothing).
- ``shape-true-int8``: the same checkpoint through ``python -m export --quantize int8`` (dynamic
  int8 quantization), when the export offers that option.

Exports go through ``python -m export`` as a user would run it, one repository per model so that
each Triton run loads only the model it measures. An export is reused while its Triton configs are
exactly what this checkout's export writes; otherwise (an older checkout's configs) it is redone.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from contract.metadata import ServingMetadata
from export import triton_config

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = Path(os.environ.get("SHARED_DIR", REPO_ROOT.parent / "shared"))
DEFAULT_MODEL_FILES = SHARED_DIR / "models" / "distilbert-base-uncased-finetuned-sst-2-english"
MODEL_NAME = "sentiment"
MODEL_KEYS = ("tiny", "shape-true", "shape-true-int8")


class ModelBuildError(RuntimeError):
    """A checkpoint or export command failed; the message carries the end of its output."""


@dataclass(frozen=True)
class BenchModel:
    """One benchmark model: the PyTorch checkpoint (the baseline's) and the Triton repository exported from it."""

    key: str
    checkpoint: Path
    repository: Path
    quantized: bool = False
    name: str = MODEL_NAME
    version: int = 1

    @property
    def version_dir(self) -> Path:
        return self.repository / self.name / str(self.version)

    @property
    def metadata(self) -> ServingMetadata:
        return ServingMetadata.read(self.version_dir)


def _run(command: list[str]) -> None:
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-20:])
        raise ModelBuildError(f"{' '.join(command)} failed with code {completed.returncode}:\n{tail}")


def export_supports_int8() -> bool:
    """Whether this checkout's export has ``--quantize int8`` (it is being added alongside the benchmark)."""
    completed = subprocess.run([sys.executable, "-m", "export", "--help"], capture_output=True, text=True, check=False)
    return "--quantize" in completed.stdout


def _checkpoint(kind: str, build_dir: Path, rebuild: bool) -> Path:
    out = build_dir / "checkpoints" / kind
    if rebuild or not (out / "config.json").exists():
        command = [
            sys.executable,
            "-m",
            "export.random_checkpoint",
            "--tokenizer",
            str(DEFAULT_MODEL_FILES),
            "--out",
            str(out),
        ]
        if kind == "shape-true":
            command += ["--config-from", str(DEFAULT_MODEL_FILES)]
        _run(command)
    return out


def is_current(model: BenchModel) -> bool:
    """Whether the export exists and its configs are what this checkout's export would write for it."""
    if not (model.version_dir / "model.onnx").exists():
        return False
    metadata = model.metadata
    model_dir = model.repository / model.name
    return all(
        (model_dir / variant.relative_path).exists()
        and (model_dir / variant.relative_path).read_text(encoding="utf-8") == triton_config.render(metadata, variant)
        for variant in triton_config.VARIANTS
    )


def prepare_model(key: str, build_dir: Path, rebuild: bool = False) -> BenchModel:
    """Build (or reuse) the checkpoint and the exported repository of model ``key``."""
    if key not in MODEL_KEYS:
        raise ValueError(f"unknown model {key!r}; choose from {', '.join(MODEL_KEYS)}")
    quantized = key.endswith("-int8")
    checkpoint = _checkpoint(key.removesuffix("-int8"), build_dir, rebuild)
    model = BenchModel(key=key, checkpoint=checkpoint, repository=build_dir / "repositories" / key, quantized=quantized)
    if rebuild or not is_current(model):
        command = [
            sys.executable,
            "-m",
            "export",
            "--model",
            str(checkpoint),
            "--name",
            model.name,
            "--repository",
            str(model.repository),
            "--force",
        ]
        if quantized:
            # Random weights: int8 and fp32 labels agree only by chance, and only speed matters here.
            command += ["--quantize", "int8", "--min-agreement", "0"]
        _run(command)
    return model
