"""The playground page in a real headless chromium, against real gateways and a real Triton."""

import json
import re
import struct
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, expect
from support import MAX_TEXT_CHARS, REAL_MODEL_NAME, TINY_MODEL_NAME, GatewayProcess

pytestmark = pytest.mark.slow

# Generous: two cores are shared, and the real model runs on the CPU.
RESULT_TIMEOUT_MS = 30_000
POSITIVE_TEXT = "I love this movie, it was wonderful."
NEGATIVE_TEXT = "This was a terrible waste of time."


class PageWatch:
    """What the page asked for and complained about while a test drove it."""

    def __init__(self, page: Page) -> None:
        self.requests: list[Request] = []
        self.errors: list[str] = []
        page.on("request", self._request)  # a method of ours: Playwright cannot wrap list.append
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _request(self, request: Request) -> None:
        self.requests.append(request)

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium logs every non-2xx fetch as "Failed to load resource"; the error tests want those.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(message.text)

    def assert_clean(self, gateway: GatewayProcess) -> None:
        """No script error or CSP violation, and not one request outside the gateway."""
        assert self.errors == []
        assert [request.url for request in self.requests if not request.url.startswith(gateway.url + "/")] == []


def service_labels(gateway: GatewayProcess, headers: dict[str, str] | None = None) -> list[str]:
    with urllib.request.urlopen(urllib.request.Request(gateway.url + "/", headers=headers or {}), timeout=5) as answer:
        return json.load(answer)["labels"]


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def open_playground(page: Page, gateway: GatewayProcess) -> PageWatch:
    watch = PageWatch(page)
    response = page.goto(gateway.url + "/playground")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    return watch


def read_rows(page: Page) -> list[dict]:
    """Each result row as the person sees it: text, label, and per label the shown percentage and the bar's fill."""
    return page.eval_on_selector_all(
        "#results .result",
        """rows => rows.map(row => ({
            text: row.querySelector('.text').textContent,
            label: row.querySelector('.label').textContent,
            scores: [...row.querySelectorAll('.score')].map(line => ({
                name: line.querySelector('.name').textContent,
                percent: parseFloat(line.querySelector('.pct').textContent),
                fill: line.querySelector('.bar').getBoundingClientRect().width
                    / line.querySelector('.track').getBoundingClientRect().width,
            })),
        }))""",
    )


def test_two_lines_show_labels_score_bars_and_latency(
    page: Page, playground_gateway: GatewayProcess, artifacts_dir: Path
) -> None:
    watch = open_playground(page, playground_gateway)
    labels = service_labels(playground_gateway)
    expect(page.locator("#model-info")).to_contain_text(f"Model {REAL_MODEL_NAME}, version")

    page.locator("#texts").press_sequentially(f"{POSITIVE_TEXT}\n\n{NEGATIVE_TEXT}")  # a blank line is skipped
    with page.expect_response("**/v1/sentiment/batch", timeout=RESULT_TIMEOUT_MS) as answer:
        page.locator("#submit").click()
    expect(page.locator("#results .result")).to_have_count(2, timeout=RESULT_TIMEOUT_MS)

    rows = read_rows(page)
    assert [row["text"] for row in rows] == [POSITIVE_TEXT, NEGATIVE_TEXT]
    assert [row["label"] for row in rows] == ["POSITIVE", "NEGATIVE"]
    for row in rows:
        assert sorted(score["name"] for score in row["scores"]) == sorted(labels)
        assert row["scores"][0]["name"] == row["label"]  # most likely first
        assert sum(score["percent"] for score in row["scores"]) == pytest.approx(100, abs=0.5)
        for score in row["scores"]:
            assert score["fill"] == pytest.approx(score["percent"] / 100, abs=0.02)
    expect(page.locator("#latency")).to_have_text(re.compile(r"Latency \d+ ms"))
    expect(page.locator("#request-id")).to_have_text(answer.value.headers["x-request-id"])
    expect(page.locator("#error")).to_be_hidden()

    screenshot = artifacts_dir / "playground.png"
    page.screenshot(path=screenshot, full_page=True)
    width, height = png_size(screenshot)
    assert width == 1000
    assert height >= 400
    assert screenshot.stat().st_size > 10_000
    watch.assert_clean(playground_gateway)


def test_fits_a_phone_screen(page: Page, playground_gateway: GatewayProcess, artifacts_dir: Path) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    watch = open_playground(page, playground_gateway)
    page.locator("#texts").fill(f"{POSITIVE_TEXT}\n{NEGATIVE_TEXT}")
    page.locator("#submit").click()
    expect(page.locator("#results .result")).to_have_count(2, timeout=RESULT_TIMEOUT_MS)

    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=artifacts_dir / "playground-phone.png", full_page=True)
    assert png_size(artifacts_dir / "playground-phone.png")[0] == 375
    watch.assert_clean(playground_gateway)


def test_a_refused_request_shows_the_error_box(
    page: Page, playground_gateway: GatewayProcess, artifacts_dir: Path
) -> None:
    watch = open_playground(page, playground_gateway)
    page.locator("#texts").fill(f"{POSITIVE_TEXT}\n{'a' * (MAX_TEXT_CHARS + 1)}")
    page.locator("#submit").click()

    error_box = page.locator("#error")
    expect(error_box).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(error_box).to_contain_text("invalid_input")
    expect(error_box).to_contain_text(f"the limit is {MAX_TEXT_CHARS}")
    expect(error_box).to_contain_text("(line 2)")
    expect(page.locator("#results .result")).to_have_count(0)
    expect(page.locator("#request-id")).not_to_be_empty()
    page.screenshot(path=artifacts_dir / "playground-error.png", full_page=True)
    watch.assert_clean(playground_gateway)


def test_api_key_is_sent_only_when_filled(page: Page, keyed_gateway: GatewayProcess, api_key: str) -> None:
    watch = open_playground(page, keyed_gateway)
    expect(page.locator("#model-info")).to_contain_text("API key")

    page.locator("#texts").fill(POSITIVE_TEXT)
    page.locator("#submit").click()
    expect(page.locator("#error")).to_contain_text("unauthorized", timeout=RESULT_TIMEOUT_MS)

    page.locator("#api-key").fill(api_key)
    page.locator("#submit").click()
    expect(page.locator("#results .result")).to_have_count(1, timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#model-info")).to_contain_text(f"Model {TINY_MODEL_NAME}, version")
    labels = service_labels(keyed_gateway, {"Authorization": f"Bearer {api_key}"})
    assert page.locator("#results .label").text_content() in labels

    sent = [request.headers.get("authorization") for request in watch.requests if "/v1/" in request.url]
    assert sent == [None, f"Bearer {api_key}"]
    watch.assert_clean(keyed_gateway)


def test_detailed_analysis_shades_sentences_by_label_and_words_by_weight(
    page: Page, playground_gateway: GatewayProcess, artifacts_dir: Path
) -> None:
    mixed = "I loved the food 😍. The service was terrible."
    watch = open_playground(page, playground_gateway)
    page.locator("#texts").fill(f"{mixed}\n{NEGATIVE_TEXT}")
    page.locator("#explain").check()  # asks for the detailed analysis too
    expect(page.locator("#detailed")).to_be_checked()
    with page.expect_response("**/v2/sentiment/batch", timeout=RESULT_TIMEOUT_MS) as answer:
        page.locator("#submit").click()
    expect(page.locator("#results .result")).to_have_count(2, timeout=RESULT_TIMEOUT_MS)
    results = answer.value.json()["results"]

    shown = page.eval_on_selector_all(
        "#results .result",
        """rows => rows.map(row => ({
            set: row.querySelector('.prediction-set').textContent,
            sentences: [...row.querySelectorAll('.sentence')].map(node => ({
                text: node.textContent, label: node.dataset.label, background: getComputedStyle(node).backgroundColor,
            })),
            words: [...row.querySelectorAll('.word')].map(node => ({
                text: node.textContent, weight: Number(node.dataset.weight), label: node.dataset.label,
                alpha: Number(getComputedStyle(node).backgroundColor.split(',')[3]?.replace(')', '') ?? 1),
            })),
        }))""",
    )
    first = shown[0]
    assert [(s["text"], s["label"]) for s in first["sentences"]] == [
        ("I loved the food 😍.", "POSITIVE"),
        ("The service was terrible.", "NEGATIVE"),
    ]
    assert first["sentences"][0]["background"] != first["sentences"][1]["background"]
    for row, result in zip(shown, results, strict=True):
        assert row["set"] == ", ".join(result["prediction_set"])
        assert [word["text"] for word in row["words"]] == [a["word"] for a in result["attributions"]]
    page.screenshot(path=artifacts_dir / "playground-v2.png", full_page=True)
    # "terrible" pushes toward the negative answer: shaded in the answer's colour; the shade follows |weight|.
    words = {word["text"]: word for word in shown[1]["words"]}
    assert results[1]["label"] == "NEGATIVE"
    assert words["terrible"]["weight"] > 0 and words["terrible"]["label"] == "NEGATIVE"
    by_weight = sorted(shown[1]["words"], key=lambda word: abs(word["weight"]))
    assert [word["alpha"] for word in by_weight] == sorted(word["alpha"] for word in by_weight)
    assert by_weight[-1]["alpha"] == pytest.approx(0.6, abs=0.01)
    watch.assert_clean(playground_gateway)
