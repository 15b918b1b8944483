"""The gateway profiler: its summary of a py-spy file, and one short real run against Triton and a gateway."""

from pathlib import Path

import pytest
from support import TINY_MODEL_NAME

from loadtest.bench.loadgen import LoadSettings
from loadtest.corpus import BUILTIN_CORPUS
from loadtest.profile import profile_gateway, top_functions

pytestmark = pytest.mark.slow


def test_top_functions_share_samples_by_own_time_and_with_callees(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "main (a.py:1);serve (a.py:2);parse (b.py:3) 6\n"
        "main (a.py:1);serve (a.py:2);infer (c.py:4) 3\n"
        "main (a.py:1);idle (a.py:9) 1\n"
    )
    own, inclusive = top_functions(raw, count=10)
    assert own == [("parse (b.py:3)", 0.6), ("infer (c.py:4)", 0.3), ("idle (a.py:9)", 0.1)]
    # main is in every sample (the server's own stack) and is left out; serve holds parse and infer.
    assert inclusive[0] == ("serve (a.py:2)", 0.9)
    assert "main (a.py:1)" not in dict(inclusive)


def test_a_short_profile_of_a_real_gateway_names_the_gateways_code(model_repository: Path, tmp_path: Path) -> None:
    texts = [example.text for example in BUILTIN_CORPUS]
    settings = LoadSettings(concurrency=8, warmup_s=1.0, duration_s=2.0)
    sample, raw = profile_gateway(model_repository, TINY_MODEL_NAME, texts, settings, tmp_path)
    assert sample.errors == 0 and sample.latencies_s and sample.server_cpu_s > 0
    own, inclusive = top_functions(raw, count=200)
    assert own, "py-spy recorded no samples"
    assert any("gateway/service.py" in frame for frame, _ in inclusive), "the worker's own code is in the profile"
