"""Check a gateway answer against the API contract; shared by the locustfile and the accuracy evaluation.

A load test that counts any 200 as a success would report a gateway that answers garbage fast as
healthy, so every answer is checked field by field. Pure functions over parsed JSON: no locust or
HTTP imports, so they are tested on their own (importing locust monkey-patches the process).
"""

import math
from collections.abc import Collection

RESULT_FIELDS = {"label": str, "score": float, "scores": dict, "truncated": bool, "model": str, "model_version": str}


def _field_problem(result: dict) -> str | None:
    for name, kind in RESULT_FIELDS.items():
        if name not in result:
            return f"missing field {name!r}"
        value = result[name]
        # JSON numbers without a fraction arrive as int; bool is an int subclass and never a valid score.
        if kind is float:
            valid = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            valid = isinstance(value, kind)
        if not valid:
            return f"field {name!r} is {type(value).__name__}, expected {kind.__name__}"
    return None


def _label_problem(result: dict, labels: Collection[str]) -> str | None:
    if result["label"] not in labels:
        return f"unknown label {result['label']!r}"
    if not 0 <= result["score"] <= 1:
        return f"score {result['score']} outside [0, 1]"
    return None


def _scores_problem(result: dict, labels: Collection[str]) -> str | None:
    scores = result["scores"]
    if not scores or not set(scores) <= set(labels):
        return f"scores has labels {sorted(scores)}, expected some of {sorted(labels)}"
    if any(not isinstance(p, (int, float)) or not 0 <= p <= 1 for p in scores.values()):
        return "a probability in scores is outside [0, 1]"
    if not math.isclose(sum(scores.values()), 1, abs_tol=1e-4):
        return f"scores sum to {sum(scores.values())}, not 1"
    # `score` is the winning model label's probability, also when the answer is NEUTRAL (the confidence band).
    if not math.isclose(max(scores.values()), result["score"], rel_tol=1e-6, abs_tol=1e-9):
        return "score is not the largest of scores"
    return None


def result_problem(result: object, labels: Collection[str]) -> str | None:
    """Why ``result`` is not a valid ``SentimentResult`` with a known label, or None if it is."""
    if not isinstance(result, dict):
        return f"result is {type(result).__name__}, not an object"
    return _field_problem(result) or _label_problem(result, labels) or _scores_problem(result, labels)


def batch_problem(answer: object, expected_count: int, labels: Collection[str]) -> str | None:
    """Why ``answer`` is not a valid batch answer with ``expected_count`` results, or None if it is."""
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        return "answer has no 'results' list"
    if len(answer["results"]) != expected_count:
        return f"{len(answer['results'])} results for {expected_count} texts"
    for index, result in enumerate(answer["results"]):
        if problem := result_problem(result, labels):
            return f"results[{index}]: {problem}"
    return None
