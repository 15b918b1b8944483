"""Render and check the Triton model configurations of an exported model.

Four configs share one ``model.onnx``:
  ``config.pbtxt``                    production: official Triton container, onnxruntime backend on GPU
  ``configs/gpu-tensorrt-fp16.pbtxt`` the same with ONNX Runtime's TensorRT accelerator in FP16
                                      (``--model-config-name=gpu-tensorrt-fp16``): faster, after a slow first load
  ``configs/cpu.pbtxt``               this machine: Python backend running ONNX Runtime (``--model-config-name=cpu``),
                                      ragged batches (requests of several lengths share one call)
  ``configs/cpu-strict.pbtxt``        the same, batching like the GPU backend: one shape per batch
                                      (``--model-config-name=cpu-strict``), to reproduce production batching on CPU

Every config has the serving metadata's ``max_batch_size``: the gateway splits requests at that value,
so a config that disagrees with it is refused.

They are text with comments, because the comments are the point: each says why a number is what it
is. Every rendered text is parsed back into Triton's ``ModelConfig`` protobuf, and existing
(possibly hand-tuned) configs are parsed and checked against the exported model instead of being
overwritten.
"""

from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from contract.metadata import ServingMetadata
from export.errors import ExportError

LABELS_FILENAME = "labels.txt"


@dataclass(frozen=True)
class ConfigVariant:
    """One config file and what distinguishes it."""

    relative_path: str
    purpose: str
    backend: str
    max_batch_why: str
    instance_group: str
    max_queue_delay_microseconds: int
    queue_delay_why: str
    warmup_batch_size: int | None  # None: the metadata's max_batch_size
    preferred_batch_size: str = ""
    extra: str = ""
    ragged_inputs: bool = False


# The GPU figures cited below are ../shared/gpu/README.md's: one H100, DistilBERT-base in fp16, Triton 2.51
# with 2 instances and a 0.5 ms queue delay, 64-token texts.
GPU_MAX_BATCH_WHY = """full 64-row batches gave 32k texts/s on an H100, 256-row batches 58k and 1024-row 65k:
# 256 reaches about 90 % of the peak at a quarter of the latency and activation memory of 1024."""

GPU_INSTANCES = """instance_group [
  {
    # Two instances per GPU (as measured): the batcher forms a batch only for a free instance, so with
    # one the GPU would idle while each next batch is formed and copied to it.
    count: 2
    kind: KIND_GPU
  }
]"""

GPU_PREFERRED = """  # Only full batches are cut early; anything smaller waits out the queue delay. A batch costs
  # ~2.4 ms of launches whatever its size (64 rows 3.0 ms, 256 rows 4.4 ms on the H100), so a batch
  # sent before it is full wastes most of one.
  preferred_batch_size: [ 256 ]
"""

CPU_INSTANCES = """instance_group [
  {
    # One instance using every core (see intra_op_num_threads): on a CPU, one large batch beats
    # several small ones competing for the same cores.
    count: 1
    kind: KIND_CPU
  }
]"""

CPU_PARAMETERS = """parameters: {
  # ONNX Runtime threads in model.py; 0 = one per core. Set it to the container's CPU limit
  # when Triton shares a node.
  key: "intra_op_num_threads"
  value: { string_value: "0" }
}
parameters: {
  # 0: ONNX Runtime's threads sleep between batches instead of spin-waiting. Spinning takes the cores
  # Triton's HTTP threads and the gateway need (tiny model, 2 cores: 1,015 -> 1,366 requests/s).
  key: "intra_op_allow_spinning"
  value: { string_value: "0" }
}"""

TENSORRT_FP16 = """optimization {
  execution_accelerators {
    gpu_execution_accelerator: [
      {
        # TensorRT builds an FP16 engine per input shape on first use (minutes), cached on disk
        # so restarts are fast; FP16 keeps DistilBERT's labels and roughly halves latency.
        name: "tensorrt"
        parameters { key: "precision_mode" value: "FP16" }
        parameters { key: "max_workspace_size_bytes" value: "1073741824" }
        parameters { key: "trt_engine_cache_enable" value: "1" }
        parameters { key: "trt_engine_cache_path" value: "/tmp/triton-trt-cache" }
      }
    ]
  }
}"""

GPU = ConfigVariant(
    relative_path="config.pbtxt",
    purpose="Production: the official Triton container on a GPU node, ONNX Runtime backend (CUDA).",
    backend="onnxruntime",
    max_batch_why=GPU_MAX_BATCH_WHY,
    instance_group=GPU_INSTANCES,
    max_queue_delay_microseconds=500,
    queue_delay_why="a small GPU batch costs ~2.4 ms of launches (H100), so waiting up to 0.5 ms for more\n"
    "  # rows is cheaper than launching a second batch, and an idle request pays at most 0.5 ms",
    warmup_batch_size=None,
    preferred_batch_size=GPU_PREFERRED,
)
GPU_TENSORRT_FP16 = ConfigVariant(
    relative_path="configs/gpu-tensorrt-fp16.pbtxt",
    purpose="Option: as config.pbtxt, with the TensorRT FP16 execution accelerator.",
    backend="onnxruntime",
    max_batch_why=GPU_MAX_BATCH_WHY,
    instance_group=GPU_INSTANCES,
    max_queue_delay_microseconds=500,
    queue_delay_why=GPU.queue_delay_why,
    warmup_batch_size=None,
    preferred_batch_size=GPU_PREFERRED,
    extra=TENSORRT_FP16,
)
CPU_MAX_BATCH_WHY = """the GPU configs' value: every config has the serving metadata's. On a CPU, batches
# past 32 rows neither help nor hurt throughput (docs/benchmarks.md's batch-size sweep)."""
CPU = ConfigVariant(
    relative_path="configs/cpu.pbtxt",
    purpose="Local CPU server: the Python backend runs the same model.onnx with ONNX Runtime (model.py).",
    backend="python",
    max_batch_why=CPU_MAX_BATCH_WHY,
    instance_group=CPU_INSTANCES,
    max_queue_delay_microseconds=2000,
    queue_delay_why="one CPU batch takes 10-100 ms, so a 2 ms wait to merge concurrent requests is cheap "
    "and raises throughput",
    warmup_batch_size=1,
    extra=CPU_PARAMETERS,
    ragged_inputs=True,
)
CPU_STRICT = ConfigVariant(
    relative_path="configs/cpu-strict.pbtxt",
    purpose="Local CPU server batching like the GPU backend: no ragged batching, so every batch Triton forms has\n"
    "# one shape, as with the onnxruntime backend. Python backend running model.onnx (model.py).",
    backend="python",
    max_batch_why=CPU_MAX_BATCH_WHY,
    instance_group=CPU_INSTANCES,
    max_queue_delay_microseconds=CPU.max_queue_delay_microseconds,
    queue_delay_why=CPU.queue_delay_why,
    warmup_batch_size=1,
    extra=CPU_PARAMETERS,
)
VARIANTS = (GPU, GPU_TENSORRT_FP16, CPU, CPU_STRICT)


def _tensor(name: str, data_type: str, dims: str, why: str, extra: str = "") -> str:
    return f"""  {{
    # {why}
    name: "{name}"
    data_type: {data_type}
    dims: [ {dims} ]{extra}
  }}"""


def _warmup(metadata: ServingMetadata, batch_size: int) -> str:
    inputs = "\n".join(
        f'    inputs {{ key: "{name}" value: {{ data_type: TYPE_{metadata.input_dtype} '
        "dims: [ 128 ] zero_data: true } }"
        for name in metadata.input_names
    )
    return f"""# Warm-up runs one batch at the 128-token bucket before the model reports ready, so the first
# user request does not pay for memory arenas and kernel selection.
model_warmup [
  {{
    name: "bucket128_batch{batch_size}"
    batch_size: {batch_size}
{inputs}
  }}
]"""


RAGGED = """
    # Ragged: requests of different buckets may share one execute() call; model.py runs one ONNX Runtime
    # call per shape. Not on GPU: the onnxruntime backend needs one shape per batch (cpu-strict.pbtxt
    # batches like it).
    allow_ragged_batch: true"""

# Why no config has a default_queue_policy (Triton 2.51 = triton-inference-server/core r24.10). Any
# queue policy field turns payload prefetching off (src/scheduler_utils.cc: support_prefetching_).
# Without it, a batcher holding requests while every instance is busy waits for a free one in
# DynamicBatchScheduler::WaitForPayloadSlotAvailable, a 500 ms poll on a condition variable that a
# model instance going idle never signals (RateLimiter::DequeuePayload only counts it); only the next
# arriving request wakes it. With closed-loop clients nothing arrives, so requests stalled up to
# 500 ms. Shape-true DistilBERT on CPU, mixed buckets, concurrency 1, alternating runs of 300 requests:
# p99 522-560 ms with the policy (3-16 % of requests over 100 ms), 32-48 ms and none without it.
NO_QUEUE_POLICY = """  # No default_queue_policy: with one, Triton 2.51's batcher noticed a freed instance only by a
  # 500 ms poll (see export/triton_config.py). The gateway bounds the queue (in-flight permits per
  # worker, 429 past them) and answers 504 at each request's deadline."""


# Without a policy Triton serves only the highest version; a rollout serves two at once (docs/rollouts.md).
VERSION_POLICY = """# Every exported version is loaded: the gateway serves the champion and the challenger
# side by side (shadow, canary), and a version exported later is loaded through the model-control API
# without a restart.
version_policy: { all { } }"""


def render(metadata: ServingMetadata, variant: ConfigVariant) -> str:
    """The config text of ``variant`` for this model."""
    inputs = ",\n".join(
        _tensor(
            name,
            f"TYPE_{metadata.input_dtype}",
            "-1",
            "-1: the gateway pads to a few length buckets; each bucket is one shape the batcher can merge.",
            RAGGED if variant.ragged_inputs else "",
        )
        for name in metadata.input_names
    )
    output = _tensor(
        metadata.output_name,
        "TYPE_FP32",
        str(len(metadata.labels)),
        "One logit per label; labels.txt names them (the checkpoint's id2label).",
        f'\n    label_filename: "{LABELS_FILENAME}"',
    )
    sections = [
        f"# {variant.purpose}\n# Written by `python -m export`; edit freely, the export checks it against the model.",
        f'name: "{metadata.model_name}"\nbackend: "{variant.backend}"',
        VERSION_POLICY,
        f"# {metadata.max_batch_size}: {variant.max_batch_why}\n"
        "# The gateway splits larger requests at the serving metadata's max_batch_size, the same value.\n"
        f"max_batch_size: {metadata.max_batch_size}",
        f"input [\n{inputs}\n]",
        f"output [\n{output}\n]",
        variant.instance_group,
        f"""dynamic_batching {{
{variant.preferred_batch_size}  # {variant.max_queue_delay_microseconds} us: {variant.queue_delay_why}.
  max_queue_delay_microseconds: {variant.max_queue_delay_microseconds}
{NO_QUEUE_POLICY}
}}""",
        _warmup(metadata, variant.warmup_batch_size or metadata.max_batch_size),
    ]
    if variant.extra:
        sections.append(variant.extra)
    text = "\n\n".join(sections) + "\n"
    parse(text, variant.relative_path)
    return text


def parse(text: str, origin: str) -> model_config_pb2.ModelConfig:
    """Parse config text into Triton's protobuf, the same schema Triton itself loads."""
    try:
        return text_format.Parse(text, model_config_pb2.ModelConfig())
    except text_format.ParseError as error:
        raise ExportError(f"{origin} is not a valid Triton model config: {error}") from error


def check(config: model_config_pb2.ModelConfig, metadata: ServingMetadata, origin: str) -> None:
    """Raise ``ExportError`` naming every way ``config`` disagrees with the exported model."""
    dtype = model_config_pb2.DataType.Value(f"TYPE_{metadata.input_dtype}")
    problems = []
    if config.name and config.name != metadata.model_name:
        problems.append(f'name is "{config.name}", the folder is "{metadata.model_name}"')
    if config.max_batch_size != metadata.max_batch_size:
        problems.append(
            f"max_batch_size is {config.max_batch_size}, the serving metadata's is {metadata.max_batch_size} "
            "(the gateway splits requests at the metadata's value, so every config must have it)"
        )
    if [tensor.name for tensor in config.input] != metadata.input_names:
        problems.append(f"inputs are {[t.name for t in config.input]}, the model has {metadata.input_names}")
    for tensor in config.input:
        if tensor.data_type != dtype or list(tensor.dims) != [-1]:
            problems.append(f"input {tensor.name} must be TYPE_{metadata.input_dtype} with dims [-1]")
    expected_output = (metadata.output_name, model_config_pb2.TYPE_FP32, [len(metadata.labels)])
    outputs = [(tensor.name, tensor.data_type, list(tensor.dims)) for tensor in config.output]
    if outputs != [expected_output]:
        problems.append(f"output must be {metadata.output_name} TYPE_FP32 dims [{len(metadata.labels)}]")
    if config.version_policy.WhichOneof("policy_choice") != "all":
        problems.append("version_policy must be { all { } }: Triton would serve only the latest version")
    if not config.HasField("dynamic_batching"):
        problems.append("dynamic_batching is missing: concurrent requests would run one by one")
    if problems:
        raise ExportError(f"{origin} does not match the exported model: " + "; ".join(problems))


def write_or_check(model_dir: Path, metadata: ServingMetadata, overwrite: bool) -> list[str]:
    """Write each missing config (all of them with ``overwrite``); check the ones that exist.

    Returns one line per config saying what happened, for the export's summary.
    """
    outcome = []
    for variant in VARIANTS:
        path = model_dir / variant.relative_path
        if path.exists() and not overwrite:
            check(parse(path.read_text(encoding="utf-8"), str(path)), metadata, str(path))
            outcome.append(f"{path}: kept (matches the model)")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(metadata, variant), encoding="utf-8")
        outcome.append(f"{path}: written")
    return outcome
