"""API v2 against real processes: a gateway serving the calibrated SST-2 stand-in from the session's Triton."""

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import REAL_MODEL_NAME, REPO_ROOT, SST2_DEV, GatewayProcess, RunningTriton, gateway_settings, start_gateway
from transformers import AutoTokenizer

from contract.labelled_data import load_tsv
from contract.metadata import ServingMetadata
from export.calibration import calibrate, split_examples
from export.onnx_scoring import OnnxScorer

pytestmark = pytest.mark.slow

EXPLAIN_MAX_WORDS = 20
LANGUAGES_TSV = REPO_ROOT / "tests" / "data" / "languages.tsv"


@pytest.fixture(scope="module")
def calibrated_repository(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's stand-in export, calibrated on SST-2 dev as `--calibration-data` would (about 7 s).

    Only the gateway's files are copied: the gateway reads metadata and tokenizer from here while the
    session's Triton serves the very same model.onnx.
    """
    source = model_repository / REAL_MODEL_NAME / "1"
    repository = tmp_path_factory.mktemp("calibrated-repository")
    version_dir = repository / REAL_MODEL_NAME / "1"
    shutil.copytree(source / "tokenizer", version_dir / "tokenizer")
    metadata = ServingMetadata.read(source)
    scorer = OnnxScorer(source / "model.onnx", AutoTokenizer.from_pretrained(source / "tokenizer"), metadata)
    report = calibrate(split_examples(load_tsv(SST2_DEV)), metadata.labels, scorer.probabilities, str(SST2_DEV))
    dataclasses.replace(metadata, calibration=report.calibration).write(version_dir)
    return repository


@pytest.fixture(scope="module")
def v2_gateway(
    triton: RunningTriton, calibrated_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    settings = gateway_settings(
        triton.http_url, calibrated_repository, REAL_MODEL_NAME, GATEWAY_EXPLAIN_MAX_WORDS=str(EXPLAIN_MAX_WORDS)
    )
    process = start_gateway(settings, tmp_path_factory.mktemp("v2-gateway") / "gateway.log")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def strict_gateway(
    triton: RunningTriton, calibrated_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """Refuses other languages, asks for 97 % coverage (sets of two come sooner) and allows 512 tokens a request."""
    settings = gateway_settings(
        triton.http_url,
        calibrated_repository,
        REAL_MODEL_NAME,
        GATEWAY_UNSUPPORTED_LANGUAGE="refuse",
        GATEWAY_COVERAGE="0.97",
        GATEWAY_MAX_TOKENS_PER_REQUEST="512",
    )
    process = start_gateway(settings, tmp_path_factory.mktemp("strict-gateway") / "gateway.log")
    yield process
    process.stop()


def analyze(gateway: GatewayProcess, text: str, **options) -> dict:
    response = httpx.post(f"{gateway.url}/v2/sentiment", json={"text": text, **options}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def analyze_batch(gateway: GatewayProcess, texts: list[str], **options) -> list[dict]:
    response = httpx.post(f"{gateway.url}/v2/sentiment/batch", json={"texts": texts, **options}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_a_result_carries_every_field_and_offsets_slice_unicode_and_emoji(v2_gateway: GatewayProcess) -> None:
    text = "Café crème was wonderful 😍! The staff, however, were rude 😡.  这家餐厅很好。 Dr. Ng said no…"
    result = analyze(v2_gateway, text, explain=True)
    assert set(result) == {
        *("label", "score", "scores", "calibrated", "prediction_set", "sentences", "language", "attributions"),
        *("truncated", "windows", "model", "model_version"),
    }
    assert result["calibrated"] is True
    assert (result["model"], result["truncated"], result["windows"]) == (REAL_MODEL_NAME, False, 1)
    sentences = result["sentences"]
    assert [s["text"] for s in sentences] == [
        "Café crème was wonderful 😍!",
        "The staff, however, were rude 😡.",
        "这家餐厅很好。",
        "Dr. Ng said no…",
    ]
    for sentence in sentences:
        assert text[sentence["start"] : sentence["end"]] == sentence["text"]
        assert set(sentence) == {"text", "start", "end", "label", "score", "scores"}
    assert [s["start"] for s in sentences] == sorted(s["start"] for s in sentences)
    words = [a["word"] for a in result["attributions"]]
    assert words[:5] == ["Café", "crème", "was", "wonderful", "😍"]
    for attribution in result["attributions"]:
        assert text[attribution["start"] : attribution["end"]] == attribution["word"]


def test_sentences_get_their_own_labels(v2_gateway: GatewayProcess) -> None:
    result = analyze(v2_gateway, "I loved the food, it was delicious. The service was terrible and the waiter rude.")
    assert [s["label"] for s in result["sentences"]] == ["POSITIVE", "NEGATIVE"]
    for sentence in result["sentences"]:
        assert sentence["score"] == max(sentence["scores"].values())


@pytest.mark.parametrize(
    ("text", "label", "word"),
    [("The movie was terrible.", "NEGATIVE", "terrible"), ("A wonderful, moving film.", "POSITIVE", "wonderful")],
)
def test_the_word_that_carries_the_answer_has_the_largest_positive_weight(
    v2_gateway: GatewayProcess, text: str, label: str, word: str
) -> None:
    result = analyze(v2_gateway, text, explain=True)
    assert result["label"] == label
    weights = {a["word"]: a["weight"] for a in result["attributions"]}
    assert weights[word] > 0
    assert max(weights, key=weights.get) == word


def test_without_explain_there_are_no_attributions(v2_gateway: GatewayProcess) -> None:
    assert analyze(v2_gateway, "Fine.")["attributions"] is None


def test_the_language_of_the_multilingual_set_and_whether_it_is_supported(v2_gateway: GatewayProcess) -> None:
    rows = [line.split("\t") for line in LANGUAGES_TSV.read_text(encoding="utf-8").splitlines()[1:]]
    results = analyze_batch(v2_gateway, [text for _, text in rows])
    found = [result["language"] for result in results]
    right = sum(language["code"] == code for (code, _), language in zip(rows, found, strict=True))
    assert right / len(rows) >= 0.95, found
    for (code, _), language in zip(rows, found, strict=True):
        if language["code"] == code:
            assert language["supported"] is (code == "en")
            assert 0 < language["confidence"] <= 1


def test_another_language_is_flagged_and_scored_by_default(v2_gateway: GatewayProcess) -> None:
    result = analyze(v2_gateway, "Das Essen war ausgezeichnet und der Service sehr freundlich.")
    assert result["language"]["code"] == "de"
    assert result["language"]["supported"] is False
    assert result["label"] in {"POSITIVE", "NEGATIVE", "NEUTRAL"}


def test_refused_languages_are_a_422_naming_the_language_and_the_text(strict_gateway: GatewayProcess) -> None:
    texts = ["A great film.", "Das Essen war ausgezeichnet und der Service sehr freundlich."]
    response = httpx.post(f"{strict_gateway.url}/v2/sentiment/batch", json={"texts": texts}, timeout=30)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "unsupported_language"
    assert error["field"] == "texts[1]"
    assert "'de'" in error["message"] and "supports en" in error["message"]


def test_clear_texts_get_one_label_and_ambiguous_ones_an_unsure_set(strict_gateway: GatewayProcess) -> None:
    clear, ambiguous = analyze_batch(
        strict_gateway, ["An absolute masterpiece, I loved every minute.", "Some parts worked, others did not."]
    )
    assert clear["prediction_set"] == ["POSITIVE"]
    assert clear["label"] == "POSITIVE"
    assert sorted(ambiguous["prediction_set"]) == ["NEGATIVE", "POSITIVE"]
    assert ambiguous["label"] == "NEUTRAL"
    assert ambiguous["score"] == max(ambiguous["scores"].values())


def test_the_v2_label_is_the_v1_label_wherever_the_set_has_one_label(v2_gateway: GatewayProcess) -> None:
    texts = [example.text for example in load_tsv(SST2_DEV)[:80]]
    v1 = httpx.post(f"{v2_gateway.url}/v1/sentiment/batch", json={"texts": texts}, timeout=60).json()["results"]
    v2 = analyze_batch(v2_gateway, texts)
    single = [(old, new) for old, new in zip(v1, v2, strict=True) if len(new["prediction_set"]) == 1]
    assert len(single) > 60
    for old, new in single:
        assert new["label"] == old["label"]
        # Calibrated: a temperature over 1 pulls the winner's probability towards 1/2, never past it.
        assert 0.5 <= new["score"] <= old["score"] + 1e-6


def test_explaining_more_words_than_the_limit_is_a_clear_422(v2_gateway: GatewayProcess) -> None:
    long_text = " ".join(["good"] * (EXPLAIN_MAX_WORDS + 1))
    response = httpx.post(
        f"{v2_gateway.url}/v2/sentiment/batch", json={"texts": ["fine", long_text], "explain": True}, timeout=30
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["type"], error["field"]) == ("invalid_input", "texts[1]")
    assert (
        f"{EXPLAIN_MAX_WORDS + 1} words; the limit is {EXPLAIN_MAX_WORDS} (GATEWAY_EXPLAIN_MAX_WORDS)"
        in error["message"]
    )
    # The same text is fine without explain: the limit is on the extra rows, not the text.
    assert analyze(v2_gateway, long_text)["label"] == "POSITIVE"


def test_occlusion_rows_are_costed_like_any_other_rows(strict_gateway: GatewayProcess) -> None:
    """40 words: one 64-token row alone fits the 512-token request limit; with 40 variants it does not."""
    text = " ".join(["The plot was thin but the cast was lovely and the music was grand."] * 3)
    assert analyze(strict_gateway, text)["label"] in {"POSITIVE", "NEUTRAL", "NEGATIVE"}
    response = httpx.post(f"{strict_gateway.url}/v2/sentiment", json={"text": text, "explain": True}, timeout=30)
    assert response.status_code == 413
    assert "GATEWAY_MAX_TOKENS_PER_REQUEST" in response.json()["error"]["message"]


def test_an_uncalibrated_export_says_so_and_answers_the_winner_alone(real_gateway: GatewayProcess) -> None:
    result = analyze(real_gateway, "It was okay.")
    assert result["calibrated"] is False
    assert result["prediction_set"] == [max(result["scores"], key=result["scores"].get)]
    v1 = httpx.post(f"{real_gateway.url}/v1/sentiment", json={"text": "It was okay."}, timeout=30).json()
    assert result["scores"] == pytest.approx(v1["scores"])
