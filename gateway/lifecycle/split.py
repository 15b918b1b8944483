"""Who answers a request, which of its texts the other version also scores, and when that shadow work is shed.

Pure functions of the rollout state, the caller and numbers the caller reads off the worker, so the sticky
split and the shedding rule can be property-tested without a server.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from contract.rollout import RolloutState


def caller_share(version: str, caller: str) -> float:
    """Where ``caller`` falls in [0, 100) for ``version``: the same caller always falls in the same place.

    Salted by the version, so each new challenger draws a fresh set of callers (the same few do not try every
    new model first), and a caller is in a canary of ``p`` percent exactly when its share is under ``p``: raising
    the share only adds callers.
    """
    digest = hashlib.sha256(f"{version}:{caller}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def answering_version(state: RolloutState, caller: str, requested: str | None = None) -> str:
    """The version that answers: the one asked for (X-Model-Version, already checked), else the canary split."""
    if requested is not None:
        return requested
    if (
        state.mode == "canary"
        and state.challenger is not None
        and caller_share(state.challenger, caller) < state.percent
    ):
        return state.challenger
    return state.champion


@dataclass(frozen=True)
class ShadowPlan:
    """Which of a request's texts the other ``version`` scores, off the response path."""

    version: str
    positions: list[int]


def shadow_plan(state: RolloutState, answered: str, pinned: bool, draws: Sequence[float]) -> ShadowPlan | None:
    """The shadow work of one answered request; ``draws`` holds one uniform [0, 1) number per text.

    Shadow mode: each champion-answered text with probability ``percent``. Canary mode: every text the challenger
    answered is also scored by the champion, so the comparison goes on while the challenger takes traffic. A
    request pinned to a version (X-Model-Version, the gate's labelled set) is never shadowed.
    """
    if pinned or state.challenger is None:
        return None
    if state.mode == "shadow" and answered == state.champion:
        positions = [index for index, draw in enumerate(draws) if draw * 100 < state.percent]
        return ShadowPlan(state.challenger, positions) if positions else None
    if state.mode == "canary" and answered == state.challenger:
        return ShadowPlan(state.champion, list(range(len(draws))))
    return None


def shed_reason(waiting_rows: int, slot_free: bool, shadow_in_flight: int, max_shadow_in_flight: int) -> str | None:
    """Why shadow work must be dropped now, or None when it may go.

    ``waiting_rows``: rows of this worker waiting for a Triton call, any version; ``slot_free``: the shadow
    version's coalescer has a call slot free. When anything waits, or the shadow rows would, the worker is
    loaded: shadow rows would only queue, or hold up answers, so they go first.
    """
    if waiting_rows > 0 or not slot_free:
        return "busy"
    if shadow_in_flight >= max_shadow_in_flight:
        return "backlog"
    return None
