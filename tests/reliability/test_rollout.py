"""Two model versions in one real Triton behind one real gateway (2 workers) following a rollout state file.

Version 1 is the session's tiny export, version 2 a second seeded-random checkpoint exported beside it (so the
two disagree on many texts), version 3 version 1's files with other labels (Triton loads it; the gateway must
refuse it as a challenger). Every test writes the state it needs and waits until every worker reports it.
"""

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from reliability_helpers import closed_loop, percentile, send, summary
from support import (
    DEFAULT_MODEL_FILES,
    TINY_MODEL_NAME,
    GatewayProcess,
    RunningTriton,
    gateway_settings,
    metric_value,
    require_shared,
    scrape,
    start_gateway,
    start_triton,
)

from contract.rollout import RolloutState, promote, rollback

pytestmark = pytest.mark.slow

# Each request opens its own connection, so consecutive requests land on either worker.
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)


@pytest.fixture(scope="module")
def rollout_triton(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTriton]:
    require_shared(DEFAULT_MODEL_FILES)
    from export.pipeline import ExportRequest, run_export  # torch: only here
    from export.random_checkpoint import build_random_checkpoint

    repository = tmp_path_factory.mktemp("rollout-repository")
    shutil.copytree(model_repository / TINY_MODEL_NAME, repository / TINY_MODEL_NAME)
    second = build_random_checkpoint(tmp_path_factory.mktemp("second-checkpoint"), DEFAULT_MODEL_FILES, seed=1)
    run_export(ExportRequest(model=str(second), name=TINY_MODEL_NAME, repository=repository, version=2))
    relabelled = repository / TINY_MODEL_NAME / "3"
    shutil.copytree(repository / TINY_MODEL_NAME / "1", relabelled)
    metadata = json.loads((relabelled / "serving_metadata.json").read_text())
    (relabelled / "serving_metadata.json").write_text(json.dumps({**metadata, "labels": ["BAD", "GOOD"]}))
    server = start_triton(repository, tmp_path_factory.mktemp("rollout-triton"))
    try:
        yield RunningTriton(server=server, repository=repository)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def state_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rollout-state") / "rollout.json"
    RolloutState("1").write(path)
    return path


@pytest.fixture(scope="module")
def gateway(
    rollout_triton: RunningTriton, state_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    settings = gateway_settings(
        rollout_triton.http_url,
        rollout_triton.repository,
        GATEWAY_WORKERS="2",
        GATEWAY_ROLLOUT_FILE=str(state_file),
        GATEWAY_CACHE_SIZE="10000",  # on, to show it never answers for the other version
    )
    process = start_gateway(settings, tmp_path_factory.mktemp("rollout-gateway") / "gateway.log")
    yield process
    process.stop()


def reported(gateway: GatewayProcess) -> dict:
    with httpx.Client(limits=FRESH_CONNECTIONS, timeout=5) as client:
        return client.get(gateway.url + "/").json()["rollout"]


def wait_for_rollout(gateway: GatewayProcess, matches, timeout_s: float = 15) -> dict:
    """Poll ``GET /`` until ten reads in a row (both workers, by chance of the accept queue) satisfy ``matches``."""
    deadline = time.monotonic() + timeout_s
    in_a_row = 0
    while time.monotonic() < deadline:
        rollout = reported(gateway)
        in_a_row = in_a_row + 1 if matches(rollout) else 0
        if in_a_row == 10:
            return rollout
        time.sleep(0.1)
    raise AssertionError(f"the gateway still reports {rollout}")


def serve(gateway: GatewayProcess, state_file: Path, state: RolloutState) -> None:
    state.write(state_file)
    wanted = {
        "champion": state.champion,
        "challenger": state.challenger,
        "mode": state.mode,
        "percent": state.percent,
        "previous": state.previous,
        "error": None,
    }
    wait_for_rollout(gateway, lambda rollout: rollout == wanted)


def metrics_of(gateway: GatewayProcess) -> str:
    return scrape(gateway.url + "/metrics")


def caller(index: int) -> dict[str, str]:
    """A distinct client address, believed by the gateway because 127.0.0.1 is a trusted proxy."""
    return {"X-Forwarded-For": f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"}


async def answer_versions(
    gateway: GatewayProcess, callers: range, fresh_connections: bool = False, concurrency: int = 16
) -> dict[int, str]:
    """Each caller's answering version for one new text, ``concurrency`` requests at a time.

    ``fresh_connections``: every request on a connection of its own (slower), so a caller's requests reach
    either worker; otherwise the pool's connections are spread over both.
    """
    versions: dict[int, str] = {}
    queue = list(callers)
    limits = FRESH_CONNECTIONS if fresh_connections else httpx.Limits(max_connections=concurrency)

    async with httpx.AsyncClient(base_url=gateway.url, limits=limits, timeout=20) as client:

        async def worker() -> None:
            while queue:
                index = queue.pop()
                response = await client.post(
                    "/v1/sentiment", json={"text": f"caller {index} says hello {len(queue)}"}, headers=caller(index)
                )
                assert response.status_code == 200, response.text
                versions[index] = response.json()["model_version"]

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return versions


def test_without_a_challenger_the_champion_answers_and_the_header_is_checked(
    gateway: GatewayProcess, state_file: Path
) -> None:
    serve(gateway, state_file, RolloutState("1"))
    info = httpx.get(gateway.url + "/").json()
    assert info["model_version"] == "1"
    assert info["rollout"] == {
        "champion": "1",
        "challenger": None,
        "mode": "off",
        "percent": 0.0,
        "previous": None,
        "error": None,
    }
    response = httpx.post(gateway.url + "/v1/sentiment", json={"text": "fine"}, headers={"X-Model-Version": "2"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "X-Model-Version"
    assert "serves 1 (champion)" in response.json()["error"]["message"]


def test_x_model_version_picks_the_version_and_the_cache_never_crosses_versions(
    gateway: GatewayProcess, state_file: Path
) -> None:
    serve(gateway, state_file, RolloutState("1", "2", "off"))
    text = {"text": "The same words, asked of both versions."}
    answers = {}
    for version in ("1", "2", "1", "2"):  # the second round is answered from each version's own cache entries
        response = httpx.post(gateway.url + "/v1/sentiment", json=text, headers={"X-Model-Version": version})
        assert response.status_code == 200, response.text
        assert response.json()["model_version"] == version
        answers.setdefault(version, []).append(response.json()["scores"])
    assert answers["1"][0] == answers["1"][1] and answers["2"][0] == answers["2"][1]
    assert answers["1"][0] != answers["2"][0], "two different models gave the same scores: one answered for both"
    v2 = httpx.post(gateway.url + "/v2/sentiment", json=text, headers={"X-Model-Version": "2"})
    assert v2.status_code == 200 and v2.json()["model_version"] == "2"


def test_the_canary_share_is_sticky_per_caller_and_raising_it_only_adds_callers(
    gateway: GatewayProcess, state_file: Path
) -> None:
    serve(gateway, state_file, RolloutState("1", "2", "canary", 20))
    before = metrics_of(gateway)
    first = asyncio.run(answer_versions(gateway, range(2000)))
    share = sum(version == "2" for version in first.values()) / len(first)
    assert abs(share - 0.20) <= 0.03, f"challenger answered {share:.1%} of 2000 callers at 20 %"

    again = asyncio.run(answer_versions(gateway, range(200), fresh_connections=True))
    assert all(again[index] == first[index] for index in again), "a caller changed version at the same share"

    serve(gateway, state_file, RolloutState("1", "2", "canary", 50))
    raised = asyncio.run(answer_versions(gateway, range(500)))
    assert all(raised[index] == "2" for index in raised if first[index] == "2"), "raising the share moved callers back"
    assert 0.43 <= sum(version == "2" for version in raised.values()) / len(raised) <= 0.57

    # Every challenger answer is also scored by the champion: the comparison goes on under canary.
    after = metrics_of(gateway)
    pair = {"champion": "1", "challenger": "2"}

    def grew(name: str, **labels: str) -> float:
        return metric_value(after, name, **labels) - metric_value(before, name, **labels)

    compared = grew("gateway_compared_texts", **pair)
    answered_by_2 = grew("gateway_version_requests", version="2", role="answer", outcome="ok")
    assert answered_by_2 >= 0.15 * 2000
    shed = grew("gateway_shadow_shed")
    assert compared + shed >= answered_by_2 * 0.99  # a shadow task still running at the scrape is not yet counted
    assert 0 < grew("gateway_compared_agreements", **pair) <= compared
    for version in ("1", "2"):
        assert grew("gateway_compared_labels", **pair, version=version) == compared
    assert grew("gateway_compared_score_delta_count", **pair) == compared
    assert grew("gateway_version_requests", version="1", role="shadow", outcome="ok") > 0
    assert metric_value(after, "gateway_rollout_info", champion="1", challenger="2", mode="canary") == 1
    assert metric_value(after, "gateway_rollout_info", champion="1", challenger="2", mode="off") == 0
    assert metric_value(after, "gateway_rollout_percent") == 50


async def sequential_latencies(gateway: GatewayProcess, count: int, tag: str) -> list[float]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=20) as client:
        outcomes = [
            await send(client, "/v1/sentiment", {"text": f"{tag} sequential request {n}"}) for n in range(count)
        ]
    assert all(outcome.status == 200 for outcome in outcomes), summary(outcomes)
    return [outcome.elapsed_s for outcome in outcomes]


def test_shadow_adds_at_most_a_few_ms_to_the_champions_p50(gateway: GatewayProcess, state_file: Path) -> None:
    without, with_shadow = [], []
    before = metrics_of(gateway)
    for round_ in range(2):  # alternated, so a neighbour's load on the shared cores falls on both
        serve(gateway, state_file, RolloutState("1", "2", "off"))
        without += asyncio.run(sequential_latencies(gateway, 75, f"off {round_}"))
        serve(gateway, state_file, RolloutState("1", "2", "shadow", 100))
        with_shadow += asyncio.run(sequential_latencies(gateway, 75, f"shadow {round_}"))
    p50_without, p50_with = percentile(without, 0.5) * 1000, percentile(with_shadow, 0.5) * 1000
    print(f"champion p50 without shadow {p50_without:.1f} ms, with shadow at 100 % {p50_with:.1f} ms")
    assert p50_with <= p50_without + 10, f"p50 {p50_without:.1f} ms without shadow, {p50_with:.1f} ms with"
    compared = metric_value(metrics_of(gateway), "gateway_compared_texts", champion="1", challenger="2")
    assert compared - metric_value(before, "gateway_compared_texts", champion="1", challenger="2") >= 0.9 * 150


def test_shadow_work_is_shed_first_under_overload(gateway: GatewayProcess, state_file: Path) -> None:
    serve(gateway, state_file, RolloutState("1", "2", "shadow", 100))
    shed_before = metric_value(metrics_of(gateway), "gateway_shadow_shed")

    async def overload() -> list:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=20) as client:
            return await closed_loop(client, "/v1/sentiment", concurrency=48, duration_s=2.5, max_requests=5000)

    outcomes = asyncio.run(overload())
    assert {outcome.status for outcome in outcomes} <= {200, 429}, summary(outcomes)
    text = metrics_of(gateway)
    shed = metric_value(text, "gateway_shadow_shed") - shed_before
    busy = metric_value(text, "gateway_shadow_shed", reason="busy")
    print(f"overload: {summary(outcomes)}; shadow shed {shed:.0f} ({busy:.0f} busy since start)")
    assert shed > 0


def test_promote_and_rollback_under_load_fail_no_request(gateway: GatewayProcess, state_file: Path) -> None:
    trying = RolloutState("1", "2", "canary", 30)
    serve(gateway, state_file, trying)
    promoted = promote(trying)
    back = rollback(promoted)

    async def load_while_switching() -> tuple[list, list[str]]:
        versions: list[str] = []
        async with httpx.AsyncClient(base_url=gateway.url, timeout=20) as client:

            async def switch() -> None:
                await asyncio.sleep(1)
                await asyncio.to_thread(serve, gateway, state_file, promoted)
                await asyncio.sleep(1)
                await asyncio.to_thread(serve, gateway, state_file, back)
                await asyncio.sleep(1)

            switching = asyncio.create_task(switch())
            outcomes = []
            while not switching.done():
                batch = await asyncio.gather(
                    *(
                        client.post("/v1/sentiment", json={"text": f"switch {len(outcomes)} {n}"}, headers=caller(n))
                        for n in range(8)
                    )
                )
                outcomes += batch
                versions += [response.json()["model_version"] for response in batch if response.status_code == 200]
            await switching
        return outcomes, versions

    responses, versions = asyncio.run(load_while_switching())
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == len(statuses), {status: statuses.count(status) for status in set(statuses)}
    assert len(statuses) > 100
    assert {"1", "2"} <= set(versions)
    assert reported(gateway)["champion"] == "1"


def test_a_challenger_with_other_labels_is_refused_in_one_line_and_the_state_kept(
    gateway: GatewayProcess, state_file: Path
) -> None:
    serve(gateway, state_file, RolloutState("1", "2", "shadow", 10))
    RolloutState("1", "3", "shadow", 10).write(state_file)
    refused = wait_for_rollout(gateway, lambda rollout: rollout["error"] is not None)
    assert refused["error"] == (
        "version 3 refused: challenger and champion disagree on the labels: ['BAD', 'GOOD'] against "
        "['NEGATIVE', 'POSITIVE']"
    )
    assert (refused["champion"], refused["challenger"], refused["mode"]) == ("1", "2", "shadow")
    response = httpx.post(gateway.url + "/v1/sentiment", json={"text": "still served"})
    assert response.status_code == 200 and response.json()["model_version"] == "1"

    RolloutState("1", "9", "canary", 10).write(state_file)
    missing = wait_for_rollout(gateway, lambda rollout: "version 9" in (rollout["error"] or ""))
    assert "not exported" in missing["error"] and missing["challenger"] == "2"
    serve(gateway, state_file, RolloutState("1"))
    lines = [line for line in gateway.log().splitlines() if "rollout state refused" in line and "version 3" in line]
    assert 1 <= len(lines) <= 2, lines  # one line per worker


def test_a_version_exported_later_is_served_once_triton_loads_it_without_a_restart(
    gateway: GatewayProcess, rollout_triton: RunningTriton, state_file: Path
) -> None:
    later = rollout_triton.repository / TINY_MODEL_NAME / "4"
    shutil.copytree(rollout_triton.repository / TINY_MODEL_NAME / "1", later)  # as `make export VERSION=4` would
    RolloutState("1", "4", "shadow", 50).write(state_file)
    refused = wait_for_rollout(gateway, lambda rollout: "version 4" in (rollout["error"] or ""))
    assert "not ready in Triton" in refused["error"] and refused["challenger"] is None

    # Explicit model control: Triton loads the new version beside the served ones, which keep serving.
    loaded = httpx.post(f"http://{rollout_triton.http_url}/v2/repository/models/{TINY_MODEL_NAME}/load", timeout=60)
    assert loaded.status_code == 200, loaded.text
    # The refused state is tried again (every 5 s) although the file did not change.
    wait_for_rollout(gateway, lambda rollout: rollout["challenger"] == "4" and rollout["error"] is None, timeout_s=20)
    response = httpx.post(gateway.url + "/v1/sentiment", json={"text": "new version"}, headers={"X-Model-Version": "4"})
    assert response.status_code == 200 and response.json()["model_version"] == "4"
    serve(gateway, state_file, RolloutState("1"))
