"""The verbs and the gate on a real local stack: one real Triton serving two versions, one real gateway (2 workers)
following the state file the verbs write.

Version 1 is the session's tiny export; version 2 a differently seeded random checkpoint made bad on purpose (its
classifier negated: two random tiny models both answer nearly one label, so a plain reseed agrees on 100 % of
texts, as a first run of this test showed), exported after Triton started, so the verb itself must have Triton
load it; version 3 version 1's files again (the same model). The
gate says hold before any traffic, rollback on version 2 with its figures, promote on version 3.
"""

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import (
    DEFAULT_MODEL_FILES,
    TINY_MODEL_NAME,
    GatewayProcess,
    RunningTriton,
    gateway_settings,
    require_shared,
    start_gateway,
    start_triton,
)

from contract.rollout import RolloutState
from rollout.__main__ import main

pytestmark = pytest.mark.slow

# The committed policy with minimums a few seconds of traffic reach: the thresholds stay the file's.
SMALL_SAMPLE = "[sample]\nmin_compared_texts = 200\nmin_challenger_requests = 100\n"
TEXTS = [f"review {index}: the {word} was {mood}" for index in range(400) for word, mood in [("film", "great")]]


@pytest.fixture(scope="module")
def stack(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningTriton, Path]]:
    require_shared(DEFAULT_MODEL_FILES)
    repository = tmp_path_factory.mktemp("verbs-repository")
    shutil.copytree(model_repository / TINY_MODEL_NAME, repository / TINY_MODEL_NAME)
    server = start_triton(repository, tmp_path_factory.mktemp("verbs-triton"))
    try:
        yield RunningTriton(server=server, repository=repository), tmp_path_factory.mktemp("verbs-checkpoint")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, Path]]:
    triton, _ = stack
    state = tmp_path_factory.mktemp("verbs-state") / "rollout.json"
    RolloutState("1").write(state)
    settings = gateway_settings(
        triton.http_url, triton.repository, GATEWAY_WORKERS="2", GATEWAY_ROLLOUT_FILE=str(state)
    )
    process = start_gateway(settings, tmp_path_factory.mktemp("verbs-gateway") / "gateway.log")
    yield process, state
    process.stop()


def verb(stack, gateway, capsys, *args: str, policy: Path | None = None) -> tuple[int, str, str]:
    triton, _ = stack
    process, state = gateway
    options = ["--gateway", process.url, "--triton", triton.http_url, "--repository", str(triton.repository)]
    options += ["--name", TINY_MODEL_NAME, "--state", str(state), "--timeout", "60"]
    options += ["--policy", str(policy)] if policy else []
    code = main([*options, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def traffic(url: str, requests: int) -> list[int]:
    """Single-text requests from 8 callers at once, each text new to the answer cache."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        semaphore = asyncio.Semaphore(8)

        async def one(index: int) -> int:
            async with semaphore:
                response = await client.post("/v1/sentiment", json={"text": f"{TEXTS[index % len(TEXTS)]} {index}"})
                return response.status_code

        return await asyncio.gather(*(one(index) for index in range(requests)))


def test_the_verbs_and_the_gate_on_a_real_stack(stack, gateway, capsys, tmp_path: Path) -> None:
    from export.pipeline import ExportRequest, run_export  # torch: only here
    from export.random_checkpoint import build_random_checkpoint

    triton, checkpoint_dir = stack
    process, state_file = gateway
    policy = tmp_path / "policy.toml"
    policy.write_text(SMALL_SAMPLE)
    import torch
    from transformers import DistilBertForSequenceClassification

    second = build_random_checkpoint(checkpoint_dir, DEFAULT_MODEL_FILES, seed=1)
    model = DistilBertForSequenceClassification.from_pretrained(second)
    with torch.no_grad():
        model.classifier.weight.neg_()
        model.classifier.bias.neg_()
    model.save_pretrained(second)
    run_export(ExportRequest(model=str(second), name=TINY_MODEL_NAME, repository=triton.repository, version=2))
    shutil.copytree(triton.repository / TINY_MODEL_NAME / "1", triton.repository / TINY_MODEL_NAME / "3")

    code, out, err = verb(stack, gateway, capsys, "shadow", "--version", "9", "--percent", "10")
    assert code == 2
    assert err.strip() == f"rollout shadow: version 9 of {TINY_MODEL_NAME} is not exported under {triton.repository}"

    code, out, err = verb(stack, gateway, capsys, "shadow", "--version", "2", "--percent", "100")
    assert code == 0, err
    assert (
        out.strip()
        == "shadow: version 2 beside champion 1, 100% of texts also scored by it (was: champion 1, no challenger)"
    )
    assert RolloutState.read(state_file) == RolloutState("1", "2", "shadow", 100.0)

    code, out, _ = verb(stack, gateway, capsys, "gate", policy=policy)
    assert code == 0
    assert out.splitlines()[-1].startswith("verdict: hold (too few samples: compared texts 0 < 200")

    statuses = asyncio.run(traffic(process.url, 400))
    assert statuses.count(200) == len(statuses)
    code, out, _ = verb(stack, gateway, capsys, "gate", "--auto", policy=policy)
    lines = out.splitlines()
    assert code == 0, out
    assert "verdict: rollback (failed: label agreement" in out, out
    assert any(line.startswith("  compared texts ") for line in lines), "the figures it decided on"
    assert lines[-1] == "rollback: challenger 2 dropped, champion 1 answers everything"
    assert RolloutState.read(state_file) == RolloutState("1")

    code, out, err = verb(stack, gateway, capsys, "shadow", "--version", "3", "--percent", "100")
    assert code == 0, err
    asyncio.run(traffic(process.url, 400))
    code, out, _ = verb(stack, gateway, capsys, "gate", "--auto", policy=policy)
    assert "verdict: promote (every check passed)" in out, out
    assert out.splitlines()[-1] == "promote: version 3 is the champion (was 1; rollback returns to it)"
    code, out, _ = verb(stack, gateway, capsys, "rollback")
    assert (code, out.strip()) == (0, "rollback: version 1 is the champion again (was 3)")
    code, out, _ = verb(stack, gateway, capsys, "status")
    assert out.strip().endswith("champion 1, no challenger; the gateway follows it")
