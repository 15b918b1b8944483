"""The locust load test against a real gateway: texts do not repeat, and the summary reports the cache hit rate."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    REPO_ROOT,
    SST2_DEV,
    TINY_MODEL_NAME,
    GatewayProcess,
    RunningTriton,
    gateway_settings,
    start_gateway,
)

pytestmark = pytest.mark.slow

SST2_TRAIN = SST2_DEV.with_name("train.tsv")  # 67k sentences: what `make loadtest` sends by default


@pytest.fixture(scope="module")
def cached_gateway(triton: RunningTriton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    settings = gateway_settings(triton.http_url, triton.repository, TINY_MODEL_NAME, GATEWAY_CACHE_SIZE="10000")
    process = start_gateway(settings, tmp_path_factory.mktemp("locust-gateway") / "gateway.log")
    yield process
    process.stop()


def run_locust(gateway: GatewayProcess, corpus: Path, out: Path) -> str:
    """A short headless run, as `make loadtest` starts it; returns its log."""
    result = subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", "loadtest/locustfile.py", "--headless", "--host", gateway.url,
            "-u", "2", "-r", "2", "-t", "4s", "--corpus", str(corpus), "--only-summary",
            "--csv", str(out / "locust"),
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def test_a_large_corpus_never_repeats_and_the_cache_serves_nothing(
    cached_gateway: GatewayProcess, tmp_path: Path
) -> None:
    log = run_locust(cached_gateway, SST2_TRAIN, tmp_path)
    assert "(no text sent twice)" in log
    assert "answer cache: 0.0 % hits of" in log


def test_a_small_corpus_repeats_and_the_summary_says_the_cache_served_it(
    cached_gateway: GatewayProcess, tmp_path: Path
) -> None:
    corpus = tmp_path / "three.tsv"
    corpus.write_text("a fine film\t1\na dull film\t0\nan odd film\t1\n", encoding="utf-8")
    log = run_locust(cached_gateway, corpus, tmp_path)
    assert "texts repeated once the corpus was used up" in log
    (line,) = [line for line in log.splitlines() if "answer cache:" in line]
    hit_rate = float(line.split("answer cache: ")[1].split(" %")[0])
    assert hit_rate > 90
