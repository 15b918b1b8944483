"""What a new rollout state changes in a worker's set of versions, and whether it may be applied at all."""

from collections.abc import Mapping
from dataclasses import dataclass

from contract.metadata import ServingMetadata
from contract.rollout import RolloutState, incompatibility


def state_versions(state: RolloutState) -> list[str]:
    """The versions a state serves: the champion, then the challenger if any (also in mode off: kept warm)."""
    return [state.champion] if state.challenger is None else [state.champion, state.challenger]


@dataclass(frozen=True)
class VersionChanges:
    opened: list[str]  # to open before the state is applied
    kept: list[str]
    closed: list[str]  # to retire once applied: closed when their in-flight requests have finished


def version_changes(serving: list[str], state: RolloutState) -> VersionChanges:
    wanted = state_versions(state)
    return VersionChanges(
        opened=[version for version in wanted if version not in serving],
        kept=[version for version in wanted if version in serving],
        closed=[version for version in serving if version not in wanted],
    )


def state_problem(
    state: RolloutState, metadata: Mapping[str, ServingMetadata], unavailable: Mapping[str, str]
) -> str | None:
    """Why ``state`` cannot be served (one line), or None.

    ``unavailable`` names the versions that could not be opened (not exported, not loaded in Triton) and why;
    ``metadata`` holds the others'. A challenger whose labels or inputs differ from the champion's is refused.
    """
    for version in state_versions(state):
        if version in unavailable:
            return f"version {version}: {unavailable[version]}"
    if state.challenger is None:
        return None
    problem = incompatibility(metadata[state.champion], metadata[state.challenger])
    return None if problem is None else f"version {state.challenger} refused: {problem}"
