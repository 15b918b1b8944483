"""The rollout a worker follows: the state file, the versions it names, and which of them answers each request.

Every worker re-reads ``GATEWAY_ROLLOUT_FILE`` twice a second and compares its content (a ConfigMap update swaps
a symlink, so timestamps say nothing). A new state is applied only once every version it names is open (exported,
loaded in Triton, matching the champion's labels and inputs); otherwise the worker keeps serving the previous
state, logs one line and shows it in ``GET /``. A request takes its version when it starts and keeps it to the
end: a version that leaves the state closes after its last request, so switching states fails no request.
"""

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from contract.rollout import RolloutError, RolloutState
from gateway import metrics
from gateway.errors import GatewayError, InvalidInput, Overloaded
from gateway.lifecycle.changes import state_problem, state_versions, version_changes
from gateway.lifecycle.compare import compare
from gateway.lifecycle.split import answering_version, shadow_plan, shed_reason
from gateway.lifecycle.versions import ServedVersion, VersionPool, VersionUnavailable
from gateway.pipeline.cache import ResultCache
from gateway.schemas import RolloutInfo, ScoringOptions, SentimentResult
from gateway.schemas_v2 import AnalysisOptions, AnalysisResult
from gateway.settings import Settings

logger = logging.getLogger("gateway.lifecycle")

# "Within about a second of a change" (the rollout verbs wait for every worker to report the new state).
POLL_S = 0.5
# A refused state whose file has not changed is tried again this often: the version may have been loaded since.
RETRY_S = 5.0
VERSION_HEADER = "X-Model-Version"

T = TypeVar("T")


@dataclass(frozen=True)
class Serving:
    """A state and the open version of each name in it; replaced whole, so a request sees one or the other."""

    state: RolloutState
    versions: dict[str, ServedVersion]


class Rollout:
    def __init__(self, settings: Settings, pool: VersionPool, serving: Serving) -> None:
        self.settings = settings
        self.pool = pool
        self.serving = serving
        self.error: str | None = None
        self.seen: str | None = None  # the file content last acted on
        self.retry_at = 0.0
        self.shadow_tasks: set[asyncio.Task] = set()
        self.random = random.Random()
        self.follower: asyncio.Task | None = None
        self.published: tuple[str, str, str] | None = None

    @classmethod
    async def start(cls, settings: Settings, cache: ResultCache | None) -> "Rollout":
        """Serve the file's state if it can be served, else the default version alone (with the error shown)."""
        pool = VersionPool(settings, cache)
        text = read_state_text(settings.rollout_file)
        state, error = None, None
        if text is not None:
            try:
                state = RolloutState.parse(text)
            except RolloutError as refusal:
                error = f"{settings.rollout_file}: {refusal}"
        champion = None
        if state is not None:
            try:
                champion = await pool.open(state.champion, strict=True)
            except VersionUnavailable as refusal:
                error, state = f"version {state.champion}: {refusal}", None
        champion = champion or await pool.open(None, strict=False)
        rollout = cls(settings, pool, Serving(RolloutState(champion.version), {champion.version: champion}))
        rollout.seen = text
        if state is not None:
            await rollout.apply(state)
        if error is not None:
            rollout.refuse(error)
        rollout.publish()
        if settings.rollout_file is not None:
            rollout.follower = asyncio.get_running_loop().create_task(rollout.follow(settings.rollout_file))
        return rollout

    @property
    def champion(self) -> ServedVersion:
        return self.serving.versions[self.serving.state.champion]

    def info(self) -> RolloutInfo:
        state = self.serving.state
        return RolloutInfo(
            champion=state.champion,
            challenger=state.challenger,
            mode=state.mode,
            percent=state.percent,
            previous=state.previous,
            error=self.error,
        )

    # -- following the file ------------------------------------------------------------------------------------

    async def follow(self, path: Path) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            text = read_state_text(path)
            retry = self.error is not None and time.monotonic() >= self.retry_at
            if text is None or (text == self.seen and not retry):
                continue
            self.seen = text
            try:
                state = RolloutState.parse(text)
            except RolloutError as refusal:
                self.refuse(f"{path}: {refusal}")
                continue
            try:
                await self.apply(state)
            except Exception as error:  # the follower must outlive any one bad state; the worker keeps serving
                logger.exception("rollout state %s could not be applied", state)
                self.refuse(f"version {state.challenger or state.champion}: {type(error).__name__}: {error}")

    async def apply(self, state: RolloutState) -> bool:
        """Serve ``state`` if every version in it can be served; else keep the current one and say why."""
        current = self.serving
        changes = version_changes(list(current.versions), state)
        opened: dict[str, ServedVersion] = {}
        unavailable: dict[str, str] = {}
        for version in changes.opened:
            try:
                opened[version] = await self.pool.open(version, strict=True)
            except VersionUnavailable as refusal:
                unavailable[version] = str(refusal)
        versions = {**{version: current.versions[version] for version in changes.kept}, **opened}
        problem = state_problem(state, {version: served.metadata for version, served in versions.items()}, unavailable)
        if problem is not None:
            for served in opened.values():
                await self.pool.close(served)
            self.refuse(problem)
            return False
        self.serving = Serving(state, {version: versions[version] for version in state_versions(state)})
        for version in changes.closed:
            self.pool.retire(current.versions[version])
        if self.error is not None or state != current.state:
            logger.info(
                "rollout: champion %s, challenger %s, mode %s, %g %%",
                state.champion,
                state.challenger,
                state.mode,
                state.percent,
            )
        self.error = None
        self.publish()
        return True

    def refuse(self, problem: str) -> None:
        if problem != self.error:
            logger.error("rollout state refused, still serving version %s: %s", self.serving.state.champion, problem)
        self.error = problem
        self.retry_at = time.monotonic() + RETRY_S

    def publish(self) -> None:
        state = self.serving.state
        labels = (state.champion, state.challenger or "", state.mode)
        if self.published is not None and self.published != labels:
            metrics.ROLLOUT_INFO.labels(*self.published).set(0)
        metrics.ROLLOUT_INFO.labels(*labels).set(1)
        metrics.ROLLOUT_PERCENT.set(state.percent)
        self.published = labels

    # -- answering ---------------------------------------------------------------------------------------------

    def choose(self, serving: Serving, caller: str, requested: str | None) -> ServedVersion:
        if requested is not None and requested not in serving.versions:
            served = ", ".join(f"{version} ({role})" for version, role in roles(serving.state))
            raise InvalidInput(
                f"{VERSION_HEADER} {requested!r} is not served here; this gateway serves {served}",
                field=VERSION_HEADER,
            )
        return serving.versions[answering_version(serving.state, caller, requested)]

    async def classify(
        self, texts: list[str], options: ScoringOptions, route: str, caller: str, requested: str | None
    ) -> list[SentimentResult]:
        serving = self.serving
        served = self.choose(serving, caller, requested)
        results = await self._answer(served, served.service.classify(texts, options, route))
        labels = served.metadata.labels
        probabilities = [[result.scores[label] for label in labels] for result in results]
        field = "text" if route == "/v1/sentiment" else "texts"
        self._shadow(serving, served, requested is not None, texts, options.long_text, field, probabilities)
        return results

    async def analyze(
        self, texts: list[str], options: AnalysisOptions, route: str, caller: str, requested: str | None
    ) -> list[AnalysisResult]:
        serving = self.serving
        served = self.choose(serving, caller, requested)
        results, outputs = await self._answer(served, served.analyzer.analyze(texts, options, route))
        field = "text" if route == "/v2/sentiment" else "texts"
        probabilities = [output.probabilities for output in outputs]
        self._shadow(serving, served, requested is not None, texts, options.long_text, field, probabilities)
        return results

    async def _answer(self, served: ServedVersion, work: Awaitable[T]) -> T:
        self.pool.acquire(served)
        try:
            return await timed(served.version, "answer", work)
        finally:
            self.pool.release(served)

    # -- shadow ------------------------------------------------------------------------------------------------

    def _shadow(
        self,
        serving: Serving,
        answered: ServedVersion,
        pinned: bool,
        texts: list[str],
        long_text: str,
        field: str,
        probabilities: list[list[float]],
    ) -> None:
        """Start the other version's scoring of this request's shadowed texts, unless the worker is loaded."""
        plan = shadow_plan(serving.state, answered.version, pinned, [self.random.random() for _ in texts])
        if plan is None:
            return
        other = serving.versions[plan.version]
        waiting = sum(served.service.coalescer.waiting_rows for served in serving.versions.values())
        slot_free = other.service.coalescer.has_free_slot
        if reason := shed_reason(waiting, slot_free, len(self.shadow_tasks), self.settings.shadow_max_in_flight):
            metrics.SHADOW_SHED.labels(reason=reason).inc()
            return
        self.pool.acquire(other)
        task = asyncio.get_running_loop().create_task(
            self._score_shadow(
                serving.state,
                answered,
                other,
                [texts[position] for position in plan.positions],
                [probabilities[position] for position in plan.positions],
                long_text,
                field,
            )
        )
        self.shadow_tasks.add(task)
        task.add_done_callback(self.shadow_tasks.discard)

    async def _score_shadow(
        self,
        state: RolloutState,
        answered: ServedVersion,
        other: ServedVersion,
        texts: list[str],
        answered_probabilities: list[list[float]],
        long_text: str,
        field: str,
    ) -> None:
        try:
            outputs = await timed(other.version, "shadow", other.service.model_outputs(texts, long_text, field))
        except Overloaded:
            metrics.SHADOW_SHED.labels(reason="overloaded").inc()
            return
        except GatewayError as error:  # counted by ``timed``; nobody waits for this answer
            logger.warning("shadow scoring by version %s failed: %s", other.version, error.message)
            return
        finally:
            self.pool.release(other)
        champion_first = answered.version == state.champion
        for answer, output in zip(answered_probabilities, outputs, strict=True):
            pair = (answer, output.probabilities) if champion_first else (output.probabilities, answer)
            record_comparison(state, answered.metadata.labels, *pair)

    async def close(self) -> None:
        tasks = [*self.shadow_tasks, *([self.follower] if self.follower else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.pool.close_all()


def roles(state: RolloutState) -> list[tuple[str, str]]:
    return [(state.champion, "champion")] + ([(state.challenger, "challenger")] if state.challenger else [])


def read_state_text(path: Path | None) -> str | None:
    """The state file's content, or None when there is none (yet): then the worker keeps what it serves."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


async def timed(version: str, role: str, work: Awaitable[T]) -> T:
    """Await one version's pipeline work, counting its model time and outcome by version and role."""
    started = time.perf_counter()
    outcome = None
    try:
        result = await work
        outcome = "ok"
        return result
    except GatewayError as error:
        outcome = "refused" if error.status_code < 500 else "error"
        raise
    except Exception:
        outcome = "error"
        raise
    finally:
        if outcome is not None:  # a cancelled request (the client left) is neither
            metrics.VERSION_SECONDS.labels(version=version, role=role).observe(time.perf_counter() - started)
            metrics.VERSION_REQUESTS.labels(version=version, role=role, outcome=outcome).inc()


def record_comparison(
    state: RolloutState, labels: Sequence[str], champion: Sequence[float], challenger: Sequence[float]
) -> None:
    pair = {"champion": state.champion, "challenger": state.challenger or ""}
    comparison = compare(champion, challenger)
    metrics.COMPARED_TEXTS.labels(**pair).inc()
    if comparison.agrees:
        metrics.COMPARED_AGREEMENTS.labels(**pair).inc()
    metrics.COMPARED_SCORE_DELTA.labels(**pair).observe(comparison.score_delta)
    metrics.COMPARED_LABELS.labels(**pair, version=state.champion, label=labels[comparison.champion_label]).inc()
    metrics.COMPARED_LABELS.labels(**pair, version=pair["challenger"], label=labels[comparison.challenger_label]).inc()
