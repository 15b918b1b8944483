"""The client speaks v2: ``analyze`` and friends, and ``score --sentences-output`` in every format."""

from pathlib import Path

import pytest
from sentiment_client import AnalysisResult, InvalidInput, SentimentClient
from sentiment_client.cli import EXIT_OK, EXIT_ROWS_FAILED, EXIT_USAGE
from support import TINY_MODEL_NAME, GatewayProcess
from test_client_cli import RESULT_COLUMNS, read_table, score, write_table

pytestmark = pytest.mark.slow

TEXTS = [
    "Great food. Slow service!",
    "Café crème 😍 was fine. The bill, however, was not.",
    "one sentence without a full stop",
]


def test_analyze_answers_every_v2_field(client: SentimentClient) -> None:
    result = client.analyze(TEXTS[1], explain=True)
    assert isinstance(result, AnalysisResult)
    assert result.model == TINY_MODEL_NAME
    assert [sentence.text for sentence in result.sentences] == [
        "Café crème 😍 was fine.",
        "The bill, however, was not.",
    ]
    for sentence in result.sentences:
        assert TEXTS[1][sentence.start : sentence.end] == sentence.text
    assert [attribution.word for attribution in result.attributions][:4] == ["Café", "crème", "😍", "was"]
    assert result.prediction_set[0] in result.scores
    assert result.language.code == "en"


def test_analyze_many_keeps_order_and_refused_texts_get_their_error_in_place(client: SentimentClient) -> None:
    results = client.analyze_many(TEXTS * 3, batch_size=2)
    assert [len(result.sentences) for result in results] == [2, 2, 1] * 3
    assert results[0].attributions is None
    outcomes = client.analyze_many_outcomes(["fine", "  ", "good"])
    assert isinstance(outcomes[1], InvalidInput) and outcomes[1].field == "texts[1]"
    assert [isinstance(outcome, AnalysisResult) for outcome in outcomes] == [True, False, True]
    with pytest.raises(InvalidInput):
        client.analyze_many(["fine", ""])


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_sentences_output_is_one_row_per_sentence_keyed_by_the_input_row(
    suffix: str, client_gateway: GatewayProcess, client: SentimentClient, tmp_path: Path
) -> None:
    rows = [{"id": f"r{index}", "text": text} for index, text in enumerate([*TEXTS, "", *TEXTS])]
    source, output, sentences = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}", tmp_path / f"sentences{suffix}"
    write_table(source, rows)
    result = score(client_gateway, source, output, "--batch-size", "2", "--sentences-output", str(sentences))
    assert result == EXIT_ROWS_FAILED  # the empty text, in the failure file
    scored = read_table(output)
    v2_columns = [*RESULT_COLUMNS[:4], "prediction_set", "language", *RESULT_COLUMNS[4:]]
    assert list(scored[0]) == ["id", "text", *v2_columns]
    expected = client.analyze_many([row["text"] for row in rows if row["text"]])
    assert [row["label"] for row in scored] == [answer.label for answer in expected]
    assert [row["prediction_set"] for row in scored] == [",".join(answer.prediction_set) for answer in expected]

    long_format = read_table(sentences)
    assert list(long_format[0]) == ["row", "sentence", "start", "end", "text", "label", "score", *RESULT_COLUMNS[2:4]]
    texts_by_row = {index: row["text"] for index, row in enumerate(rows)}
    wanted = [
        (row, index, sentence.text)
        for row, answer in zip([i for i, r in enumerate(rows) if r["text"]], expected, strict=True)
        for index, sentence in enumerate(answer.sentences)
    ]
    assert [(int(r["row"]), int(r["sentence"]), r["text"]) for r in long_format] == wanted
    for row in long_format:
        assert texts_by_row[int(row["row"])][int(row["start"]) : int(row["end"])] == row["text"]
    assert not (tmp_path / f"out{suffix}.partial").exists()


def test_the_neutral_band_is_refused_with_v2(client_gateway: GatewayProcess, tmp_path: Path) -> None:
    write_table(tmp_path / "in.csv", [{"text": "fine"}])
    with pytest.raises(SystemExit) as refused:
        score(
            client_gateway,
            tmp_path / "in.csv",
            tmp_path / "out.csv",
            "--sentences-output",
            "s.csv",
            "--neutral-threshold",
            "0.8",
        )
    assert refused.value.code == EXIT_USAGE


def test_without_sentences_output_the_output_is_v1s(client_gateway: GatewayProcess, tmp_path: Path) -> None:
    write_table(tmp_path / "in.csv", [{"text": "fine"}])
    assert score(client_gateway, tmp_path / "in.csv", tmp_path / "out.csv") == EXIT_OK
    assert list(read_table(tmp_path / "out.csv")[0]) == ["text", *RESULT_COLUMNS]
