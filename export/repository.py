"""Write one model version into a Triton model repository."""

import shutil
import tempfile
from pathlib import Path

import onnx

from contract.drift_profile import TrafficProfile
from contract.metadata import ServingMetadata
from export import triton_config
from export.checkpoint import Checkpoint
from export.onnx_export import ONNX_FILENAME
from export.source import checkpoint_digest, is_local

PYTHON_BACKEND_MODEL = Path(__file__).with_name("python_backend_model.py")


def build_metadata(checkpoint: Checkpoint, name: str, onnx_path: Path, precision: str) -> ServingMetadata:
    """The metadata of ``onnx_path``, tensor names read from its graph: every reader feeds what the model declares."""
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return ServingMetadata(
        model_name=name,
        source=checkpoint.source,
        source_digest=checkpoint_digest(Path(checkpoint.source)) if is_local(checkpoint.source) else "",
        max_length=checkpoint.max_length,
        labels=checkpoint.labels,
        input_names=[graph_input.name for graph_input in graph.input],
        output_name=graph.output[0].name,
        pad_token_id=int(checkpoint.tokenizer.pad_token_id or 0),
        precision=precision,
    )


def write_version(
    checkpoint: Checkpoint,
    onnx_path: Path,
    metadata: ServingMetadata,
    repository: Path,
    version: int,
    force: bool,
    profile: TrafficProfile | None = None,
) -> list[str]:
    """Write ``<repository>/<name>/<version>/`` and the model's labels and configs.

    The version folder is assembled beside its final place and renamed into it, so a Triton that
    polls the repository never sees half a model. The caller has already refused to replace an
    existing version without ``force``. Returns a line per file group written or kept.
    """
    model_dir = repository / metadata.model_name
    version_dir = model_dir / str(version)
    model_dir.mkdir(parents=True, exist_ok=True)

    # Checked first: a config that contradicts the model must stop the export before anything is replaced.
    outcome = triton_config.write_or_check(model_dir, metadata, overwrite=force)
    (model_dir / triton_config.LABELS_FILENAME).write_text("\n".join(metadata.labels) + "\n", encoding="utf-8")

    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=model_dir))
    try:
        shutil.copyfile(onnx_path, staging / ONNX_FILENAME)
        shutil.copyfile(PYTHON_BACKEND_MODEL, staging / "model.py")
        checkpoint.tokenizer.save_pretrained(staging / metadata.tokenizer_dir)
        metadata.write(staging)
        if profile:
            profile.write(staging)
        staging.chmod(0o755)  # mkdtemp makes it private; a non-root Triton must be able to read it
        if version_dir.exists():
            shutil.rmtree(version_dir)
        staging.rename(version_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    outcome.append(
        f"{version_dir}: model.onnx, model.py, tokenizer/, serving_metadata.json"
        + (", reference_profile.json" if profile else " (no reference profile: pass --reference-data for drift)")
    )
    return outcome
