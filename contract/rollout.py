"""The rollout state: which model version answers (the champion), which one is tried (the challenger), and how.

One small JSON file, written by the rollout verbs (``make shadow|canary|promote|rollback``, ``deploy.sh``) and
read by every gateway worker, which follows it while serving. Locally it is a file beside the run; on EKS a
ConfigMap mounted into every gateway pod, so all replicas follow one decision and it survives their restarts.

Fields:
  champion   the version that answers every request outside the canary share
  challenger the version tried beside it, or null
  mode       off (challenger idle or none), shadow (a share of texts is also scored by the challenger, off the
             response path; callers see only the champion) or canary (a share of callers is answered by it)
  percent    the share, 0 to 100, of texts (shadow) or of callers (canary)
  previous   the champion before the last promotion, which ``rollback`` returns to once no challenger is left

The transitions are pure functions of a state, so the verbs and their tests need no server.
"""

import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from contract.metadata import ServingMetadata

Mode = Literal["off", "shadow", "canary"]
MODES: tuple[Mode, ...] = ("off", "shadow", "canary")


class RolloutError(ValueError):
    """A state or a transition that cannot be: the message is one line saying what and why."""


@dataclass(frozen=True)
class RolloutState:
    champion: str
    challenger: str | None = None
    mode: Mode = "off"
    percent: float = 0.0
    previous: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RolloutError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if not 0 <= self.percent <= 100:
            raise RolloutError(f"percent {self.percent} is outside 0 to 100")
        if self.mode != "off" and self.challenger is None:
            raise RolloutError(f"mode {self.mode} needs a challenger")
        if self.challenger is not None and self.challenger == self.champion:
            raise RolloutError(f"version {self.champion} cannot be its own challenger")

    def write(self, path: Path) -> None:
        """Replace the file atomically, so a reader sees the old state or the new one, never half of one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as file:
            file.write(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(file.name, path)

    @classmethod
    def parse(cls, text: str) -> "RolloutState":
        try:
            fields = json.loads(text)
            return cls(
                champion=str(fields["champion"]),
                challenger=None if fields.get("challenger") is None else str(fields["challenger"]),
                mode=fields.get("mode", "off"),
                percent=float(fields.get("percent", 0)),
                previous=None if fields.get("previous") is None else str(fields["previous"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            if isinstance(error, RolloutError):
                raise
            raise RolloutError(f"not a rollout state ({error.__class__.__name__}: {error})") from error

    @classmethod
    def read(cls, path: Path) -> "RolloutState":
        return cls.parse(path.read_text(encoding="utf-8"))


def try_challenger(state: RolloutState, version: str, mode: Mode, percent: float) -> RolloutState:
    """Shadow or canary ``version`` at ``percent``; the champion stays."""
    if mode == "off":
        raise RolloutError("try a challenger in shadow or canary mode")
    return replace(state, challenger=version, mode=mode, percent=percent)


def promote(state: RolloutState) -> RolloutState:
    """The challenger becomes the champion; the old champion is kept as ``previous`` for a rollback."""
    if state.challenger is None:
        raise RolloutError(f"nothing to promote: version {state.champion} has no challenger")
    return RolloutState(champion=state.challenger, previous=state.champion)


def rollback(state: RolloutState) -> RolloutState:
    """Drop the challenger; with none, return to the champion before the last promotion."""
    if state.challenger is not None:
        return RolloutState(champion=state.champion, previous=state.previous)
    if state.previous is None:
        raise RolloutError(f"nothing to roll back: version {state.champion} has no challenger and no predecessor")
    return RolloutState(champion=state.previous)


def incompatibility(champion: ServingMetadata, challenger: ServingMetadata) -> str | None:
    """Why ``challenger`` cannot stand in for ``champion`` (one line), or None when it can.

    The gateway gives both the same requests and compares their answers label by label, so the two must take
    the same tensors and mean the same labels; tokenizer, precision and calibration may differ.
    """
    checks = [
        ("model name", champion.model_name, challenger.model_name),
        ("labels", champion.labels, challenger.labels),
        ("inputs", champion.input_names, challenger.input_names),
        ("input type", champion.input_dtype, challenger.input_dtype),
        ("output", champion.output_name, challenger.output_name),
    ]
    for what, ours, theirs in checks:
        if ours != theirs:
            return f"challenger and champion disagree on the {what}: {theirs!r} against {ours!r}"
    return None
