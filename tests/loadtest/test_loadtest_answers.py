"""The answer checks the load test and the evaluation rely on to tell a wrong answer from a right one."""

import pytest

from loadtest.answers import batch_problem, result_problem

pytestmark = pytest.mark.fast

LABELS = ("NEGATIVE", "POSITIVE")


def valid_result(**changes: object) -> dict:
    result = {
        "label": "POSITIVE",
        "score": 0.75,
        "scores": {"NEGATIVE": 0.25, "POSITIVE": 0.75},
        "truncated": False,
        "model": "sentiment",
        "model_version": "1",
    }
    return result | changes


def test_neutral_answer_keeps_the_winning_model_label_score() -> None:
    neutral = valid_result(label="NEUTRAL", score=0.6, scores={"NEGATIVE": 0.4, "POSITIVE": 0.6})
    assert result_problem(neutral, (*LABELS, "NEUTRAL")) is None
    assert "unknown label" in result_problem(neutral, LABELS)


def test_valid_result_and_batch_pass() -> None:
    assert result_problem(valid_result(), LABELS) is None
    assert result_problem(valid_result(score=1, scores={"NEGATIVE": 0, "POSITIVE": 1}), LABELS) is None
    assert batch_problem({"results": [valid_result(), valid_result()]}, 2, LABELS) is None


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ([], "not an object"),
        ({"label": "POSITIVE"}, "missing field 'score'"),
        (valid_result(label="NEUTRAL"), "unknown label"),
        (valid_result(score="0.75"), "field 'score' is str"),
        (valid_result(score=True), "field 'score' is bool"),
        (valid_result(score=1.5), "outside"),
        (valid_result(scores={"POSITIVE": 0.75, "MAYBE": 0.25}), "scores has labels"),
        (valid_result(scores={"POSITIVE": 0.75}), "sum to 0.75"),
        (valid_result(scores={"NEGATIVE": 0.5, "POSITIVE": 0.5}), "not the largest"),
        (valid_result(scores={"NEGATIVE": -0.25, "POSITIVE": 1.25}), "outside [0, 1]"),
        (valid_result(truncated="no"), "field 'truncated'"),
    ],
)
def test_bad_results_are_named(result: object, message: str) -> None:
    assert message in result_problem(result, LABELS)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"error": {"type": "overloaded"}}, "no 'results'"),
        ({"results": [valid_result()]}, "1 results for 2 texts"),
        ({"results": [valid_result(), valid_result(label="x")]}, "results[1]: unknown label"),
    ],
)
def test_bad_batches_are_named(answer: object, message: str) -> None:
    assert message in batch_problem(answer, 2, LABELS)
