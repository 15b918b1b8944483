"""The rollout policy file and the verdict it gives on figures: hold on a short sample, else rollback on any
failed check, else promote."""

import math
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.policy import DEFAULT_POLICY, FILE_FIELDS, Figures, Policy, PolicyError, VersionFigures, decide
from tests.property_support import PURE

pytestmark = pytest.mark.fast

POLICY = Policy()


def good(**changes: object) -> Figures:
    """A challenger as good as its champion, with a large enough sample."""
    figures = Figures(
        champion="1",
        challenger="2",
        compared_texts=1000,
        agreements=995,
        champion_figures=VersionFigures(ok=2000, errors=0, p99_s=0.020),
        challenger_figures=VersionFigures(ok=1000, errors=0, p99_s=0.022),
    )
    return replace(figures, **changes)


def test_the_committed_policy_file_reads_and_states_every_field() -> None:
    text = DEFAULT_POLICY.read_text()
    policy = Policy.parse(text)
    assert policy.min_label_agreement == 0.97
    assert policy.max_accuracy_drop_points == 0.5
    # Every threshold is written in the file, none left to a default its reader never sees.
    assert {(table, key) for table, entries in tomllib.loads(text).items() for key in entries} == set(FILE_FIELDS)


def test_a_good_challenger_is_promoted() -> None:
    verdict = decide(POLICY, good())
    assert verdict.decision == "promote", verdict
    assert all(check.passed for check in verdict.checks)


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({"agreements": 900}, "label agreement"),
        ({"challenger_figures": VersionFigures(ok=990, errors=10, p99_s=0.02)}, "challenger error rate"),
        ({"challenger_figures": VersionFigures(ok=1000, errors=0, p99_s=0.5)}, "challenger p99 s"),
    ],
)
def test_a_failed_check_rolls_back_and_names_it(changes: dict, failed: str) -> None:
    verdict = decide(POLICY, good(**changes))
    assert verdict.decision == "rollback"
    assert failed in verdict.reason
    assert [c.name for c in verdict.checks if not c.passed] == [failed]


def test_too_few_samples_hold_even_a_bad_challenger() -> None:
    verdict = decide(POLICY, good(compared_texts=100, agreements=10))
    assert verdict.decision == "hold"
    assert "compared texts 100 < 500" in verdict.reason
    verdict = decide(POLICY, good(challenger_figures=VersionFigures(ok=50, p99_s=0.02)))
    assert verdict.decision == "hold"
    assert "challenger requests 50 < 200" in verdict.reason


def test_accuracy_counts_only_when_both_were_scored() -> None:
    within = good(
        champion_figures=VersionFigures(ok=2000, p99_s=0.02, accuracy=0.8922),
        challenger_figures=VersionFigures(ok=1000, p99_s=0.02, accuracy=0.8880),
    )
    assert decide(POLICY, within).decision == "promote"
    beyond = replace(within, challenger_figures=VersionFigures(ok=1000, p99_s=0.02, accuracy=0.8860))
    verdict = decide(POLICY, beyond)
    assert verdict.decision == "rollback"
    assert "accuracy drop points" in verdict.reason
    assert "accuracy drop points" not in [c.name for c in decide(POLICY, good()).checks]


def test_a_version_without_timings_skips_the_p99_check() -> None:
    verdict = decide(POLICY, good(challenger_figures=VersionFigures(ok=1000, p99_s=math.nan)))
    assert verdict.decision == "promote"
    assert "challenger p99 s" not in [c.name for c in verdict.checks]


@PURE
@given(
    compared=st.integers(0, 5000),
    agreement=st.floats(0, 1),
    challenger_ok=st.integers(0, 5000),
    challenger_errors=st.integers(0, 100),
    p99_ratio=st.floats(0.1, 5),
)
def test_the_verdict_is_hold_exactly_when_the_sample_is_short(
    compared: int, agreement: float, challenger_ok: int, challenger_errors: int, p99_ratio: float
) -> None:
    figures = good(
        compared_texts=compared,
        agreements=round(compared * agreement),
        challenger_figures=VersionFigures(ok=challenger_ok, errors=challenger_errors, p99_s=0.02 * p99_ratio),
    )
    verdict = decide(POLICY, figures)
    short = compared < POLICY.min_compared_texts or challenger_ok + challenger_errors < POLICY.min_challenger_requests
    assert (verdict.decision == "hold") == short
    if not short:
        assert (verdict.decision == "promote") == all(check.passed for check in verdict.checks)


@PURE
@given(agreements=st.integers(0, 1000), more=st.integers(0, 1000))
def test_more_agreement_never_turns_a_promote_into_a_rollback(agreements: int, more: int) -> None:
    worse = decide(POLICY, good(agreements=agreements))
    better = decide(POLICY, good(agreements=min(1000, agreements + more)))
    assert not (worse.decision == "promote" and better.decision == "rollback")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[agreement]\nmin_label_agreement = 1.5\n", "agreement.min_label_agreement = 1.5 is outside 0 to 1"),
        ("[agreement]\nmin_agreement = 0.9\n", "unknown policy field agreement.min_agreement"),
        ("[latency]\nmax_p99_ratio = 0.5\n", "latency.max_p99_ratio = 0.5 is outside 1 to inf"),
        ("surprise = 1\n", "unknown policy field surprise"),
        ("[sample\n", "not TOML"),
    ],
)
def test_a_bad_policy_is_one_line_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match="^" + message.replace("(", r"\(").replace(".", r"\.")):
        Policy.parse(text)


def test_a_missing_policy_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy"):
        Policy.read(tmp_path / "absent.toml")
