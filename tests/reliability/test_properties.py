"""Property tests (hypothesis) that need an exported model: the real tokenizer, and the whole pipeline through a
real gateway.

The real tokenizer cuts any text into framed windows. End to end: order kept, every text answered exactly once,
any unicode string answered or refused with 4xx. The pure steps' properties (bucketing, padding, batch planning,
window combination, softmax) are in the fast tier: tests/gateway/pipeline/test_*_properties.py.
"""

import json
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from property_support import MAX_LENGTH, PURE
from support import TINY_MODEL_NAME, GatewayProcess

from contract.metadata import ServingMetadata
from gateway.pipeline.tokenization import TextEncoder

pytestmark = pytest.mark.slow

# Each example is a real HTTP request through Triton: few, and no flakiness check on wall time.
END_TO_END = settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Any code point, lone surrogates included: what a JSON \\uXXXX escape can put into a Python str.
# Surrogates are drawn on purpose as often as the rest: in the full code space they are 2 in 1000.
any_text = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=()), st.characters(categories=["Cs"])), max_size=300
)


@pytest.fixture(scope="module")
def encoder(model_repository: Path) -> TextEncoder:
    version_dir = model_repository / TINY_MODEL_NAME / "1"
    metadata = ServingMetadata.read(version_dir)
    return TextEncoder(version_dir / metadata.tokenizer_dir / "tokenizer.json", MAX_LENGTH, window_stride=8)


@PURE
@given(text=st.text(max_size=2_000))
def test_the_real_tokenizer_cuts_any_text_into_framed_windows(encoder: TextEncoder, text: str) -> None:
    (encoded,) = encoder.encode([text])
    cls_id, sep_id = encoder.tokenizer.token_to_id("[CLS]"), encoder.tokenizer.token_to_id("[SEP]")
    for window in encoded.windows:
        assert 2 <= len(window) <= MAX_LENGTH
        assert window[0] == cls_id and window[-1] == sep_id
    assert encoded.truncated == (len(encoded.windows) > 1)


def post_json(gateway: GatewayProcess, path: str, payload: object) -> httpx.Response:
    # ensure_ascii: lone surrogates travel as \\uXXXX escapes, exactly as a hostile client would send them.
    body = json.dumps(payload, ensure_ascii=True).encode()
    return httpx.post(gateway.url + path, content=body, headers={"Content-Type": "application/json"}, timeout=30)


@END_TO_END
@given(text=any_text)
def test_any_unicode_string_is_answered_or_refused_with_4xx(open_gateway: GatewayProcess, text: str) -> None:
    response = post_json(open_gateway, "/v1/sentiment", {"text": text})
    if response.status_code == 200:
        assert response.json()["label"] in {"NEGATIVE", "POSITIVE"}
    else:
        assert 400 <= response.status_code < 500, f"{response.status_code} for {text!r}: {response.text[:300]}"
        assert response.json()["error"]["type"] == "invalid_input"


@END_TO_END
@given(texts=st.lists(st.text(min_size=1, max_size=200).filter(str.strip), min_size=1, max_size=30))
def test_batch_answers_every_text_once_in_order(open_gateway: GatewayProcess, texts: list[str]) -> None:
    forward = post_json(open_gateway, "/v1/sentiment/batch", {"texts": texts})
    backward = post_json(open_gateway, "/v1/sentiment/batch", {"texts": texts[::-1]})
    assert forward.status_code == backward.status_code == 200, forward.text
    forward_results, backward_results = forward.json()["results"], backward.json()["results"][::-1]
    assert len(forward_results) == len(texts) == len(backward_results)
    # The same text gets the same scores wherever it sits in the batch: nothing was shuffled or swapped.
    for ahead, behind in zip(forward_results, backward_results, strict=True):
        assert ahead["scores"] == pytest.approx(behind["scores"], abs=1e-4)
