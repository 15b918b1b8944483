"""The gateway profiler, one short real run against Triton and a gateway; its summary of a py-spy file alone is
tests/loadtest/test_profile_summary.py."""

from pathlib import Path

import pytest
from support import TINY_MODEL_NAME

from loadtest.bench.loadgen import LoadSettings
from loadtest.corpus import BUILTIN_CORPUS
from loadtest.profile import profile_gateway, top_functions

pytestmark = pytest.mark.slow


def test_a_short_profile_of_a_real_gateway_names_the_gateways_code(model_repository: Path, tmp_path: Path) -> None:
    texts = [example.text for example in BUILTIN_CORPUS]
    settings = LoadSettings(concurrency=8, warmup_s=1.0, duration_s=2.0)
    sample, raw = profile_gateway(model_repository, TINY_MODEL_NAME, texts, settings, tmp_path)
    assert sample.errors == 0 and sample.latencies_s and sample.server_cpu_s > 0
    own, inclusive = top_functions(raw, count=200)
    assert own, "py-spy recorded no samples"
    worker_code = "gateway/pipeline/service.py"
    assert any(worker_code in frame for frame, _ in inclusive), "the worker's own code is in the profile"
