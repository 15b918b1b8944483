"""API v2's detailed analysis: the text, its sentences and its occlusion variants scored as rows of one pass.

Per request: check languages and explain limits (cheap, before any tokenizing) -> split sentences and
words -> collect every distinct row (texts, sentences, texts with one word left out) -> one call to the
service's ``model_outputs`` (cache, per-request cost limits, token budget, coalescer: the same path as
v1, never around it) -> calibrate each row, decide labels and prediction sets -> assemble.
"""

from dataclasses import dataclass

import numpy as np

from gateway.errors import InvalidInput, UnsupportedLanguage
from gateway.pipeline.cache import ModelOutput
from gateway.pipeline.conformal import CalibratedDecider, Decision
from gateway.pipeline.explain import occlusion_variants, occlusion_weights, word_spans
from gateway.pipeline.language import LanguageIdentifier
from gateway.pipeline.sentences import split_sentences
from gateway.pipeline.service import SentimentService
from gateway.schemas_v2 import AnalysisOptions, AnalysisResult, Attribution, LanguageResult, SentenceResult


class _Rows:
    """Distinct texts to score, each once however many times a request needs it."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, text: str) -> int:
        if text not in self._index:
            self._index[text] = len(self.texts)
            self.texts.append(text)
        return self._index[text]


@dataclass
class _Plan:
    """One text's rows: its own, one per sentence, and one per explained word."""

    text: str
    language: LanguageResult
    row: int
    sentences: list[tuple[int, int, int]]  # (start, end, row)
    words: list[tuple[int, int, int]]  # (start, end, row of the text without this word)


class Analyzer:
    def __init__(self, service: SentimentService) -> None:
        self.service = service
        self.settings = service.settings
        self.languages = LanguageIdentifier(service.metadata.supported_languages)
        self.decider = CalibratedDecider(
            service.metadata.labels, service.metadata.calibration, service.settings.coverage
        )

    async def analyze(
        self, texts: list[str], options: AnalysisOptions, route: str
    ) -> tuple[list[AnalysisResult], list[ModelOutput]]:
        """One result per text, in input order, and the model's raw output for each text (before calibration:
        what a rollout compares between two versions)."""
        field = "text" if route == "/v2/sentiment" else "texts"
        rows = _Rows()
        plans = [self._plan(text, options.explain, rows, field, position) for position, text in enumerate(texts)]
        outputs = await self.service.model_outputs(rows.texts, options.long_text, field)
        decisions = [self.decider.decide(np.asarray(output.probabilities)) for output in outputs]
        results = [self._result(plan, outputs, decisions, options.explain) for plan in plans]
        text_outputs = [outputs[plan.row] for plan in plans]
        self.service.record(text_outputs, [result.label for result in results], route)
        return results, text_outputs

    def _plan(self, text: str, explain: bool, rows: _Rows, field: str, position: int) -> _Plan:
        name = field if field == "text" else f"texts[{position}]"
        language = self.languages.identify(text)
        if not language.supported and self.settings.unsupported_language == "refuse":
            supported = ", ".join(sorted(self.languages.supported))
            raise UnsupportedLanguage(
                f"the text looks like language '{language.code}' (confidence {language.confidence:.2f}); this model "
                f"supports {supported} (GATEWAY_UNSUPPORTED_LANGUAGE=refuse)",
                field=name,
            )
        words = word_spans(text) if explain else []
        if len(words) > self.settings.explain_max_words:
            raise InvalidInput(
                f"explain: the text has {len(words)} words; the limit is {self.settings.explain_max_words} "
                "(GATEWAY_EXPLAIN_MAX_WORDS). Send a shorter text, or leave explain off",
                field=name,
            )
        row = rows.add(text)
        spans = split_sentences(text)
        # A text of one sentence is that sentence: its own row answers both.
        sentences = [(start, end, row if len(spans) == 1 else rows.add(text[start:end])) for start, end in spans]
        variants = occlusion_variants(text, words)
        return _Plan(
            text=text,
            language=language,
            row=row,
            sentences=sentences,
            words=[(start, end, rows.add(variant)) for (start, end), variant in zip(words, variants, strict=True)],
        )

    def _result(
        self, plan: _Plan, outputs: list[ModelOutput], decisions: list[Decision], explain: bool
    ) -> AnalysisResult:
        decision, output = decisions[plan.row], outputs[plan.row]
        attributions = None
        if explain:
            # The winner among the model's labels, even when the answer is NEUTRAL.
            winner = decision.prediction_set[0]
            weights = occlusion_weights(
                decision.scores[winner], [decisions[row].scores[winner] for *_, row in plan.words]
            )
            attributions = [
                Attribution(word=plan.text[start:end], start=start, end=end, weight=round(weight, 6))
                for (start, end, _), weight in zip(plan.words, weights, strict=True)
            ]
        return AnalysisResult(
            label=decision.label,
            score=decision.score,
            scores=decision.scores,
            calibrated=self.decider.calibrated,
            prediction_set=decision.prediction_set,
            sentences=[
                SentenceResult(
                    text=plan.text[start:end],
                    start=start,
                    end=end,
                    label=decisions[row].label,
                    score=decisions[row].score,
                    scores=decisions[row].scores,
                )
                for start, end, row in plan.sentences
            ],
            language=plan.language,
            attributions=attributions,
            truncated=output.truncated,
            windows=output.windows,
            model=self.service.metadata.model_name,
            model_version=self.service.version,
        )
