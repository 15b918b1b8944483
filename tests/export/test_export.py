"""The export: files it writes, the parity check, the committed configs, and its errors."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from google.protobuf import text_format
from onnx import numpy_helper
from support import (
    COMMITTED_REPOSITORY,
    DEFAULT_MODEL_FILES,
    REAL_MODEL_NAME,
    REPO_ROOT,
    SST2_DEV,
    STAND_IN_MODEL,
    TINY_MODEL_NAME,
)
from transformers import DistilBertConfig, DistilBertModel

from contract.metadata import ServingMetadata
from export import triton_config
from export.checkpoint import load_checkpoint
from export.errors import ExportError
from export.onnx_scoring import OnnxScorer
from export.parity import PARITY_SENTENCES, compare_with_pytorch
from export.quantize import compare_int8_with_fp32, quantize_int8
from export.random_checkpoint import tiny_config
from export.source import checkpoint_digest

pytestmark = pytest.mark.slow


def run_export_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "export", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=300,
        check=False,
    )


def test_export_writes_model_labels_metadata_and_tokenizer(model_repository: Path) -> None:
    version_dir = model_repository / REAL_MODEL_NAME / "1"
    assert (version_dir / "model.onnx").stat().st_size > 1_000_000
    assert (version_dir / "model.py").exists()
    assert (version_dir / "tokenizer" / "tokenizer.json").exists()
    assert (model_repository / REAL_MODEL_NAME / "labels.txt").read_text().split() == ["NEGATIVE", "POSITIVE"]

    metadata = ServingMetadata.read(version_dir)
    assert metadata.model_name == REAL_MODEL_NAME
    assert metadata.labels == ["NEGATIVE", "POSITIVE"]
    assert metadata.input_names == ["input_ids", "attention_mask"]
    assert metadata.output_name == "logits"
    assert metadata.max_length == 512
    assert metadata.pad_token_id == 0

    graph = onnx.load(str(version_dir / "model.onnx"), load_external_data=False).graph
    input_shape = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert all(isinstance(dim, str) for dim in input_shape), f"batch and sequence axes must be dynamic: {input_shape}"


@pytest.mark.parametrize("variant", triton_config.VARIANTS, ids=lambda v: v.relative_path)
def test_committed_configs_are_what_the_export_writes(model_repository: Path, variant) -> None:
    metadata = ServingMetadata.read(model_repository / TINY_MODEL_NAME / "1")
    committed = (COMMITTED_REPOSITORY / TINY_MODEL_NAME / variant.relative_path).read_text()
    assert committed == triton_config.render(metadata, variant)


def test_a_config_whose_max_batch_size_differs_from_the_metadata_stops_the_export(
    tmp_path: Path, model_repository: Path
) -> None:
    metadata = ServingMetadata.read(model_repository / TINY_MODEL_NAME / "1")
    model_dir = tmp_path / TINY_MODEL_NAME
    (model_dir / "configs").mkdir(parents=True)
    config = triton_config.parse(triton_config.render(metadata, triton_config.CPU_STRICT), "cpu-strict")
    config.max_batch_size = 64  # e.g. hand-tuned down; the gateway would still send 256 rows
    (model_dir / triton_config.CPU_STRICT.relative_path).write_text(text_format.MessageToString(config))
    with pytest.raises(ExportError, match="max_batch_size is 64, the serving metadata's is 256"):
        triton_config.write_or_check(model_dir, metadata, overwrite=False)
    written = triton_config.write_or_check(model_dir, metadata, overwrite=True)
    assert len(written) == len(triton_config.VARIANTS)
    for variant in triton_config.VARIANTS:
        path = model_dir / variant.relative_path
        assert triton_config.parse(path.read_text(), str(path)).max_batch_size == metadata.max_batch_size


def test_a_config_that_contradicts_the_model_stops_the_export(tmp_path: Path, model_repository: Path) -> None:
    metadata = ServingMetadata.read(model_repository / TINY_MODEL_NAME / "1")
    model_dir = tmp_path / TINY_MODEL_NAME
    (model_dir / "configs").mkdir(parents=True)
    text = triton_config.render(metadata, triton_config.GPU).replace('name: "attention_mask"', 'name: "mask"')
    (model_dir / "config.pbtxt").write_text(text)
    with pytest.raises(ExportError, match=r"inputs are \['input_ids', 'mask'\]"):
        triton_config.write_or_check(model_dir, metadata, overwrite=False)


def test_parity_check_passes_on_the_export_and_fails_on_a_corrupted_model(
    tiny_checkpoint: Path, model_repository: Path, tmp_path: Path
) -> None:
    checkpoint = load_checkpoint(str(tiny_checkpoint))
    version_dir = model_repository / TINY_MODEL_NAME / "1"
    onnx_path = version_dir / "model.onnx"
    metadata = ServingMetadata.read(version_dir)
    report = compare_with_pytorch(checkpoint, OnnxScorer(onnx_path, checkpoint.tokenizer, metadata))
    assert report.max_abs_diff <= 1e-4 and report.labels_agree

    model = onnx.load(str(onnx_path))
    # Nudge every weight matrix by a little: the kind of damage a bad conversion does.
    for initializer in model.graph.initializer:
        weights = numpy_helper.to_array(initializer)
        if weights.dtype == np.float32 and weights.ndim == 2:
            initializer.CopyFrom(numpy_helper.from_array(weights + np.float32(0.05), initializer.name))
    corrupted = tmp_path / "corrupted.onnx"
    onnx.save(model, str(corrupted))
    with pytest.raises(ExportError, match="disagree"):
        compare_with_pytorch(checkpoint, OnnxScorer(corrupted, checkpoint.tokenizer, metadata))


def test_the_scorer_reads_the_output_the_metadata_names(
    tiny_checkpoint: Path, model_repository: Path, tmp_path: Path
) -> None:
    checkpoint = load_checkpoint(str(tiny_checkpoint))
    version_dir = model_repository / TINY_MODEL_NAME / "1"
    metadata = ServingMetadata.read(version_dir)
    model = onnx.load(str(version_dir / "model.onnx"))
    for node in model.graph.node:
        node.output[:] = ["scores" if name == metadata.output_name else name for name in node.output]
    model.graph.output[0].name = "scores"
    renamed = tmp_path / "renamed.onnx"
    onnx.save(model, str(renamed))

    expected = OnnxScorer(version_dir / "model.onnx", checkpoint.tokenizer, metadata).logits(PARITY_SENTENCES)
    scored = OnnxScorer(renamed, checkpoint.tokenizer, replace(metadata, output_name="scores")).logits(PARITY_SENTENCES)
    np.testing.assert_array_equal(scored, expected)


def test_rerun_refuses_to_overwrite_without_force(tiny_checkpoint: Path, tmp_path: Path) -> None:
    args = ("--model", str(tiny_checkpoint), "--name", "again", "--repository", str(tmp_path))
    first = run_export_cli(*args)
    assert first.returncode == 0, first.stderr
    for step in ("[1/4] load", "[2/4] export", "[3/4] check", "[4/4] write"):
        assert f"{step}" in first.stderr and "done in" in first.stderr
    second = run_export_cli(*args)
    assert second.returncode == 2
    assert "already exists; pass --force" in second.stderr
    assert "Traceback" not in second.stderr
    forced = run_export_cli(*args, "--force")
    assert forced.returncode == 0, forced.stderr


def test_the_export_prints_its_own_numbered_steps_and_no_framework_noise(tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = run_export_cli(
        "--model", str(tiny_checkpoint), "--repository", str(tmp_path), "--reference-data", str(SST2_DEV)
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    for line in lines:  # every line is the export's own log line: "HH:MM:SS message"
        time.strptime(line[:8], "%H:%M:%S")
    started = [line[9:].split("]")[0] + "]" for line in lines if line.endswith(" ...")]
    assert started == ["[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"]


def test_reuse_keeps_an_export_of_the_same_checkpoint_and_exports_another_over_it(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    repository = tmp_path / "repository"
    args = ("--repository", str(repository), "--reuse")
    assert run_export_cli("--model", str(tiny_checkpoint), *args).returncode == 0
    version_dir = repository / TINY_MODEL_NAME / "1"

    # The same files in another folder are the same checkpoint: one line, nothing exported.
    moved = shutil.copytree(tiny_checkpoint, tmp_path / "moved-checkpoint")
    reused = run_export_cli("--model", str(moved), *args)
    assert reused.returncode == 0, reused.stderr
    (line,) = reused.stderr.splitlines()
    assert f"{version_dir} already holds {moved} (fp32): reusing it" in line

    switched = run_export_cli("--model", str(STAND_IN_MODEL), *args)
    assert switched.returncode == 0, switched.stderr
    assert f"{version_dir} holds {tiny_checkpoint}, not {STAND_IN_MODEL}: exporting" in switched.stderr
    metadata = ServingMetadata.read(version_dir)
    assert metadata.source == str(STAND_IN_MODEL)
    assert metadata.source_digest == checkpoint_digest(STAND_IN_MODEL)


@pytest.fixture(params=["refused", "silent"])
def unreachable_hub(request: pytest.FixtureRequest) -> Iterator[str]:
    """A hub address that refuses connections, or one that accepts them and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        if request.param == "silent":
            listener.listen(8)  # the kernel completes the handshake; nobody ever reads the request
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_an_unreachable_hub_is_one_clear_line_within_seconds(unreachable_hub: str, tmp_path: Path) -> None:
    env = {**os.environ, "HF_ENDPOINT": unreachable_hub, "HF_HOME": str(tmp_path / "empty-hf-cache")}
    env.pop("HF_HUB_OFFLINE", None)
    started = time.monotonic()
    result = run_export_cli("--repository", str(tmp_path / "repository"), env=env)
    assert time.monotonic() - started < 10
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "cannot reach the Hugging Face hub" in line and "MODEL=/path/to/checkpoint" in line


def _not_a_classifier(tmp: Path) -> str:
    folder = tmp / "encoder-only"
    DistilBertModel(DistilBertConfig(**tiny_config().to_diff_dict())).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["DistilBertModel"]
    (folder / "config.json").write_text(json.dumps(config))
    return str(folder)


def _broken_config(tmp: Path) -> str:
    folder = tmp / "broken"
    folder.mkdir()
    (folder / "config.json").write_text("{ not json")
    return str(folder)


@pytest.mark.parametrize(
    ("make_source", "expected"),
    [
        (lambda tmp: str(tmp / "does-not-exist"), "does not exist"),
        (lambda tmp: str(DEFAULT_MODEL_FILES / "config.json"), "is not a folder"),
        (_broken_config, "cannot load"),
        (_not_a_classifier, "is not a sequence classifier"),
        (lambda tmp: "distilbert-base-uncased-finetuned-sst-2-english", "Pass a local checkpoint folder"),
    ],
    ids=["missing-path", "file-not-folder", "unreadable-config", "not-a-classifier", "hub-unreachable"],
)
def test_user_errors_are_one_clear_line_not_a_traceback(tmp_path: Path, make_source, expected: str) -> None:
    # Offline mode makes "hub unreachable" immediate instead of half a minute of retries.
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = run_export_cli("--model", make_source(tmp_path), "--repository", str(tmp_path / "repo"), env=env)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_int8_variant_is_quantized_and_compared_with_fp32(
    tiny_checkpoint: Path, model_repository: Path, tmp_path: Path
) -> None:
    checkpoint = load_checkpoint(str(tiny_checkpoint))
    version_dir = model_repository / TINY_MODEL_NAME / "1"
    int8_path = quantize_int8(version_dir / "model.onnx", tmp_path / "int8" / "model.onnx")
    operators = {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    assert "DynamicQuantizeLinear" in operators or "MatMulInteger" in operators

    labelled = tmp_path / "labelled.tsv"
    labelled.write_text("sentence\tlabel\ngreat fun\t1\nawful\t0\nnot bad\t1\n")
    metadata = ServingMetadata.read(version_dir)
    fp32 = OnnxScorer(version_dir / "model.onnx", checkpoint.tokenizer, metadata)
    int8 = OnnxScorer(int8_path, checkpoint.tokenizer, metadata)
    report = compare_int8_with_fp32(fp32, int8, labelled, min_agreement=0.0)
    assert report.texts == 3
    assert 0.0 <= report.label_agreement <= 1.0 and report.max_score_diff >= 0.0
    assert report.fp32_accuracy is not None and report.int8_accuracy is not None
    with pytest.raises(ExportError, match="serve the fp32 model instead"):
        compare_int8_with_fp32(fp32, int8, None, min_agreement=1.01)
