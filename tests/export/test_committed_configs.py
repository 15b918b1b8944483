"""The committed Triton configs, parsed with Triton's own protobuf schema: what production and the CPU test
server get. That they are what an export writes is tests/export/test_export.py's job (it needs an export)."""

import pytest
from support import COMMITTED_REPOSITORY, TINY_MODEL_NAME
from tritonclient.grpc import model_config_pb2

from contract.metadata import ServingMetadata
from export import triton_config

pytestmark = pytest.mark.fast


def committed_config(relative_path: str) -> model_config_pb2.ModelConfig:
    return triton_config.parse((COMMITTED_REPOSITORY / TINY_MODEL_NAME / relative_path).read_text(), relative_path)


def test_committed_gpu_config_is_production_ready() -> None:
    config = committed_config("config.pbtxt")
    assert config.backend == "onnxruntime"
    assert config.max_batch_size == ServingMetadata.max_batch_size == 256
    assert [(group.kind, group.count) for group in config.instance_group] == [(config.instance_group[0].KIND_GPU, 2)]
    assert list(config.dynamic_batching.preferred_batch_size) == [256]
    assert 0 < config.dynamic_batching.max_queue_delay_microseconds <= 1000
    # A queue policy turns Triton 2.51's payload prefetching off and brings back its 500 ms stalls.
    assert not config.dynamic_batching.HasField("default_queue_policy")
    assert len(config.model_warmup) == 1
    assert config.output[0].label_filename == "labels.txt"
    fp16 = committed_config("configs/gpu-tensorrt-fp16.pbtxt")
    accelerator = fp16.optimization.execution_accelerators.gpu_execution_accelerator[0]
    assert accelerator.name == "tensorrt" and accelerator.parameters["precision_mode"] == "FP16"


@pytest.mark.parametrize(
    ("relative_path", "ragged"), [("configs/cpu.pbtxt", True), ("configs/cpu-strict.pbtxt", False)]
)
def test_cpu_configs_differ_only_in_ragged_batching(relative_path: str, ragged: bool) -> None:
    config = committed_config(relative_path)
    assert config.backend == "python" and config.max_batch_size == ServingMetadata.max_batch_size
    assert [tensor.allow_ragged_batch for tensor in config.input] == [ragged, ragged]
    assert not config.dynamic_batching.HasField("default_queue_policy")
    strict = committed_config("configs/cpu-strict.pbtxt")
    for tensor in strict.input:
        tensor.allow_ragged_batch = ragged
    assert strict == config, "cpu-strict must batch like cpu in every other respect"


@pytest.mark.parametrize("variant", triton_config.VARIANTS, ids=lambda variant: variant.relative_path)
def test_every_config_loads_every_exported_version(variant: triton_config.ConfigVariant) -> None:
    # Triton's default policy serves only the highest version; a rollout needs champion and challenger at once.
    assert committed_config(variant.relative_path).version_policy.WhichOneof("policy_choice") == "all"
