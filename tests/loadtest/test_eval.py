"""The accuracy check end to end: a real gateway with a tight quota, the project's client, PyTorch beside it."""

import json
import logging
from pathlib import Path

import pytest
from support import REAL_MODEL_NAME, SST2_DEV, RunningTriton, gateway_settings, start_gateway

from loadtest.eval import main

pytestmark = pytest.mark.slow

TEXTS = 40  # two batch requests of 32, so the second one meets the spent quota


def test_eval_waits_out_the_quota_and_agrees_with_pytorch(
    triton: RunningTriton, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "dev-head.tsv"
    data.write_text("".join(SST2_DEV.read_text(encoding="utf-8").splitlines(keepends=True)[: TEXTS + 1]))
    settings = gateway_settings(triton.http_url, triton.repository, REAL_MODEL_NAME, GATEWAY_RATE_LIMIT="1/second")
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    out = tmp_path / "eval.json"
    caplog.set_level(logging.INFO, logger="loadtest.eval")
    try:
        status = main(
            [
                *("--data", str(data), "--url", gateway.url, "--out", str(out)),
                *("--model-repository", str(triton.repository), "--model-name", REAL_MODEL_NAME),
            ]
        )
    finally:
        gateway.stop()

    assert "rate_limited" in caplog.text, "the quota of 1/second should have made the client wait and retry"
    (report,) = json.loads(out.read_text())
    assert status == 0
    assert report["examples"] == TEXTS and report["agreement"] == 1.0
    assert report["max_score_diff"] < 1e-3
