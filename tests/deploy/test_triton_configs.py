"""The model configs parse under the Triton release production runs (NGC 26.08): tritonclient's model_config_pb2
is that release line's schema (tritonclient 2.73), text_format.Parse is how Triton reads config.pbtxt, and an
unknown or renamed field fails the parse. The local test server stays 2.51 (nvidia-pytriton 0.7.0)."""

from importlib.metadata import version
from pathlib import Path

import pytest
from eks_support import REPO_ROOT
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

pytestmark = pytest.mark.fast

CONFIGS = sorted((REPO_ROOT / "model_repository").glob("*/config.pbtxt")) + sorted(
    (REPO_ROOT / "model_repository").glob("*/configs/*.pbtxt")
)


def test_the_schema_is_the_production_release_lines() -> None:
    assert version("tritonclient").startswith("2.73."), "NGC 26.08 ships Triton 2.73's schema"
    assert CONFIGS, "no model configs found"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_each_config_parses_under_the_production_schema(path: Path) -> None:
    config = text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
    assert config.max_batch_size > 0


def test_the_shipped_config_is_the_gpu_one() -> None:
    """What publish_model uploads next to model.onnx: the onnxruntime backend on a GPU instance group."""
    config = text_format.Parse(
        (REPO_ROOT / "model_repository" / "sentiment" / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
    )
    assert config.backend == "onnxruntime"
    assert [group.kind for group in config.instance_group] == [model_config_pb2.ModelInstanceGroup.KIND_GPU]
