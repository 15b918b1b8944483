"""The verbs on the running local stack: check the challenger, have Triton load it, write the state file, and
wait until every gateway worker follows it. Nothing is restarted; the gateway re-reads the file within ~1 s.

Each verb returns the one line it prints; a verb that cannot go on raises RolloutError with one line, and
leaves the state as it found it (a state the gateway refuses is written back to what it was).
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from contract.labelled_data import load_tsv
from contract.metadata import ServingMetadata
from contract.rollout import Mode, RolloutError, RolloutState, incompatibility, promote, rollback, try_challenger
from contract.versions import NoServedVersion, resolve_version
from rollout.policy import Figures, Policy, Verdict, decide
from rollout.stack import Stack, StackError

# Reads of GET / in a row that must all show the new state: each on a new connection, so with a few workers
# every one of them has almost surely answered at least once (2 workers: 1 - 2 x 0.5^12 > 99.9 %).
AGREEING_READS = 12
# A worker re-reads the file within about 1 s; an error it still reports after this is about the new state.
REFUSAL_GRACE_S = 2.0
ACCURACY_BATCH = 64


@dataclass(frozen=True)
class Target:
    """Where the verbs act: the stack's addresses and files (``python -m rollout --help`` names each)."""

    stack: Stack
    repository: Path
    name: str
    state_file: Path
    timeout_s: float = 60.0
    poll_s: float = 0.1


def describe(state: RolloutState) -> str:
    if state.challenger is None:
        return f"champion {state.champion}, no challenger"
    return f"champion {state.champion}, challenger {state.challenger} ({state.mode} {state.percent:g}%)"


def metadata(target: Target, version: str) -> ServingMetadata:
    try:
        version_dir, _ = resolve_version(target.repository, target.name, int(version))
    except (NoServedVersion, ValueError) as error:
        raise RolloutError(f"version {version} of {target.name} is not exported under {target.repository}") from error
    return ServingMetadata.read(version_dir)


def read_state(target: Target) -> RolloutState:
    if not target.state_file.exists():
        raise RolloutError(f"no rollout state at {target.state_file}: start the gateway with `make gateway` first")
    return RolloutState.read(target.state_file)


def initial_state(repository: Path, name: str, version: int | None = None) -> RolloutState:
    """What a gateway without a state file serves: the version asked for, else the highest exported."""
    try:
        _, served = resolve_version(repository, name, version)
    except NoServedVersion as error:
        raise RolloutError(str(error)) from error
    return RolloutState(champion=served)


def wait_until(condition: Callable[[], bool], timeout_s: float, poll_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll_s)
    return condition()


def ensure_loaded(target: Target, version: str) -> None:
    if target.stack.version_ready(target.name, version):
        return
    target.stack.load_model(target.name)
    if not wait_until(lambda: target.stack.version_ready(target.name, version), target.timeout_s, target.poll_s):
        raise RolloutError(
            f"Triton loaded {target.name} but version {version} is not ready after {target.timeout_s:g} s "
            "(its config's version_policy must list it: `all { }`)"
        )


def reported(report: dict, state: RolloutState) -> bool:
    fields = asdict(state)
    return report.get("error") is None and all(
        float(report.get(key) or 0) == value if key == "percent" else report.get(key) == value
        for key, value in fields.items()
    )


def apply(target: Target, old: RolloutState, new: RolloutState) -> None:
    """Write ``new`` and wait until the gateway has followed it on AGREEING_READS reads in a row. A gateway
    that reports an error with it (a version Triton lacks, an incompatible one) gets ``old`` back."""
    for version in filter(None, (new.champion, new.challenger)):
        ensure_loaded(target, version)
    new.write(target.state_file)
    written = time.monotonic()
    streak = 0
    while streak < AGREEING_READS:
        try:
            report = target.stack.rollout_report()
        except StackError as error:  # a verb that cannot see the gateway follow must not leave the state changed
            old.write(target.state_file)
            raise RolloutError(f"{describe(new)}: {error}; the state is back to {describe(old)}") from error
        streak = streak + 1 if reported(report, new) else 0
        error = report.get("error") if time.monotonic() - written > REFUSAL_GRACE_S else None
        if error is not None or time.monotonic() - written > target.timeout_s:
            old.write(target.state_file)
            why = f"the gateway refused it: {error}" if error else f"not followed within {target.timeout_s:g} s"
            raise RolloutError(f"{describe(new)}: {why}; the state is back to {describe(old)}")
        if streak == 0:
            time.sleep(target.poll_s)


def try_version(target: Target, version: str, mode: Mode, percent: float) -> str:
    state = read_state(target)
    why = incompatibility(metadata(target, state.champion), metadata(target, version))
    if why:
        raise RolloutError(f"version {version} cannot challenge {state.champion}: {why}")
    new = try_challenger(state, version, mode, percent)
    apply(target, state, new)
    share = "of texts also scored by it" if mode == "shadow" else "of callers answered by it"
    return f"{mode}: version {version} beside champion {new.champion}, {percent:g}% {share} (was: {describe(state)})"


def promote_challenger(target: Target) -> str:
    state = read_state(target)
    new = promote(state)
    apply(target, state, new)
    return f"promote: version {new.champion} is the champion (was {state.champion}; rollback returns to it)"


def roll_back(target: Target) -> str:
    state = read_state(target)
    new = rollback(state)
    apply(target, state, new)
    if state.challenger is not None:
        return f"rollback: challenger {state.challenger} dropped, champion {new.champion} answers everything"
    return f"rollback: version {new.champion} is the champion again (was {state.champion})"


def status(target: Target) -> str:
    state = read_state(target)
    report = target.stack.rollout_report()
    follows = "follows it" if reported(report, state) else f"reports {report}"
    return f"state {target.state_file}: {describe(state)}; the gateway {follows}"


def accuracy(target: Target, data: Path, version: str) -> float:
    examples = load_tsv(data)
    right = 0
    for start in range(0, len(examples), ACCURACY_BATCH):
        batch = examples[start : start + ACCURACY_BATCH]
        labels = target.stack.labels([example.text for example in batch], version)
        right += sum(label == example.label_name for label, example in zip(labels, batch, strict=True))
    return right / len(examples)


def gate(target: Target, policy: Policy, accuracy_data: Path | None = None) -> tuple[Figures, Verdict]:
    """The pair's figures from the gateway's /metrics (and a labelled set, if given) and the policy's verdict."""
    from prometheus_client.parser import text_string_to_metric_families  # the local gate's parser only

    from rollout.figures import figures_from_samples

    state = read_state(target)
    if state.challenger is None:
        raise RolloutError(f"nothing to gate: {describe(state)}")
    try:
        text = target.stack.metrics_text()
        samples = [sample for family in text_string_to_metric_families(text) for sample in family.samples]
    except ValueError as error:
        raise RolloutError(f"the gateway's /metrics does not parse: {error}") from error
    figures = figures_from_samples(samples, state.champion, state.challenger)
    if accuracy_data is not None:
        figures = with_accuracy(figures, target, accuracy_data)
    return figures, decide(policy, figures)


def with_accuracy(figures: Figures, target: Target, data: Path) -> Figures:
    return replace(
        figures,
        champion_figures=replace(figures.champion_figures, accuracy=accuracy(target, data, figures.champion)),
        challenger_figures=replace(figures.challenger_figures, accuracy=accuracy(target, data, figures.challenger)),
    )


def act(target: Target, verdict: Verdict) -> str | None:
    """``gate --auto``: promote or roll back as the verdict says; a hold changes nothing."""
    if verdict.decision == "promote":
        return promote_challenger(target)
    if verdict.decision == "rollback":
        return roll_back(target)
    return None
