"""The rollout policy and the verdict it gives on a pair's figures: promote, hold or rollback. Pure.

The policy file (deploy/rollout-policy.toml) states every threshold once; the local gate evaluates it here and
the EKS AnalysisTemplate is generated from it (rollout.argo), so the two cannot drift apart.
"""

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Decision = Literal["promote", "hold", "rollback"]
DEFAULT_POLICY = Path(__file__).resolve().parent.parent / "deploy" / "rollout-policy.toml"


class PolicyError(ValueError):
    """A policy file that cannot be used; the message is one line naming the field."""


@dataclass(frozen=True)
class Policy:
    min_compared_texts: int = 500
    min_challenger_requests: int = 200
    min_label_agreement: float = 0.97
    max_error_rate_increase: float = 0.005
    max_p99_ratio: float = 1.5
    p99_slack_ms: float = 10.0
    max_accuracy_drop_points: float = 0.5
    prometheus_window: str = "30m"

    def __post_init__(self) -> None:
        bounds = {
            "sample.min_compared_texts": (self.min_compared_texts, 1, math.inf),
            "sample.min_challenger_requests": (self.min_challenger_requests, 1, math.inf),
            "agreement.min_label_agreement": (self.min_label_agreement, 0, 1),
            "errors.max_error_rate_increase": (self.max_error_rate_increase, 0, 1),
            "latency.max_p99_ratio": (self.max_p99_ratio, 1, math.inf),
            "latency.p99_slack_ms": (self.p99_slack_ms, 0, math.inf),
            "accuracy.max_drop_points": (self.max_accuracy_drop_points, 0, 100),
        }
        for name, (value, low, high) in bounds.items():
            if not low <= value <= high:
                raise PolicyError(f"{name} = {value} is outside {low} to {high}")

    @classmethod
    def parse(cls, text: str) -> "Policy":
        """The policy from TOML text; a missing field keeps its default, an unknown one is refused."""
        try:
            tables = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise PolicyError(f"not TOML: {error}") from error
        fields: dict[str, object] = {}
        for table, entries in tables.items():
            for key, value in entries.items() if isinstance(entries, dict) else [(None, None)]:
                if (table, key) not in FILE_FIELDS:
                    raise PolicyError(f"unknown policy field {table}{'' if key is None else '.' + key}")
                fields[FILE_FIELDS[table, key]] = value
        try:
            return cls(**fields)  # type: ignore[arg-type]
        except TypeError as error:
            raise PolicyError(str(error)) from error

    @classmethod
    def read(cls, path: Path) -> "Policy":
        try:
            return cls.parse(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise PolicyError(f"cannot read the policy {path}: {error.strerror}") from error


# (table, key) in the file -> field of Policy.
FILE_FIELDS = {
    ("sample", "min_compared_texts"): "min_compared_texts",
    ("sample", "min_challenger_requests"): "min_challenger_requests",
    ("agreement", "min_label_agreement"): "min_label_agreement",
    ("errors", "max_error_rate_increase"): "max_error_rate_increase",
    ("latency", "max_p99_ratio"): "max_p99_ratio",
    ("latency", "p99_slack_ms"): "p99_slack_ms",
    ("accuracy", "max_drop_points"): "max_accuracy_drop_points",
    ("prometheus", "window"): "prometheus_window",
}


@dataclass(frozen=True)
class VersionFigures:
    """One version's own figures: its requests by outcome and its model-time p99 (seconds; NaN when none)."""

    ok: float = 0
    errors: float = 0
    p99_s: float = math.nan
    accuracy: float | None = None  # share right on the labelled set, when one was scored

    @property
    def requests(self) -> float:
        return self.ok + self.errors

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Figures:
    """What the gate knows of a champion/challenger pair."""

    champion: str
    challenger: str
    compared_texts: float
    agreements: float
    champion_figures: VersionFigures
    challenger_figures: VersionFigures
    mean_score_delta: float = math.nan
    p95_score_delta: float = math.nan
    label_shift: float = math.nan  # the largest difference of one label's share between the two, 0 to 1

    @property
    def agreement(self) -> float:
        return self.agreements / self.compared_texts if self.compared_texts else math.nan


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    limit: float
    passed: bool

    def line(self) -> str:
        return f"{'ok  ' if self.passed else 'FAIL'} {self.name}: {self.value:.4g} (limit {self.limit:.4g})"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str
    checks: tuple[Check, ...]


def at_least(name: str, value: float, limit: float) -> Check:
    return Check(name, value, limit, value >= limit)


def at_most(name: str, value: float, limit: float) -> Check:
    return Check(name, value, limit, value <= limit)


def sample_checks(policy: Policy, figures: Figures) -> tuple[Check, ...]:
    return (
        at_least("compared texts", figures.compared_texts, policy.min_compared_texts),
        at_least("challenger requests", figures.challenger_figures.requests, policy.min_challenger_requests),
    )


def quality_checks(policy: Policy, figures: Figures) -> tuple[Check, ...]:
    champion, challenger = figures.champion_figures, figures.challenger_figures
    checks = [
        at_least("label agreement", figures.agreement, policy.min_label_agreement),
        at_most("challenger error rate", challenger.error_rate, champion.error_rate + policy.max_error_rate_increase),
    ]
    # A version with no timed request has no p99 (NaN): nothing to compare, which the sample checks bound.
    if not math.isnan(champion.p99_s) and not math.isnan(challenger.p99_s):
        p99_limit = champion.p99_s * policy.max_p99_ratio + policy.p99_slack_ms / 1000
        checks.append(at_most("challenger p99 s", challenger.p99_s, p99_limit))
    if champion.accuracy is not None and challenger.accuracy is not None:
        drop_points = (champion.accuracy - challenger.accuracy) * 100
        checks.append(at_most("accuracy drop points", drop_points, policy.max_accuracy_drop_points))
    return tuple(checks)


def decide(policy: Policy, figures: Figures) -> Verdict:
    """Hold while the sample is short (nothing else is read from too few texts); then rollback on any failed
    check, promote when every one passes."""
    sample = sample_checks(policy, figures)
    if not all(check.passed for check in sample):
        short = ", ".join(f"{c.name} {c.value:.0f} < {c.limit:.0f}" for c in sample if not c.passed)
        return Verdict("hold", f"too few samples: {short}", sample)
    quality = quality_checks(policy, figures)
    failed = [check.name for check in quality if not check.passed]
    if failed:
        return Verdict("rollback", "failed: " + ", ".join(failed), sample + quality)
    return Verdict("promote", "every check passed", sample + quality)
