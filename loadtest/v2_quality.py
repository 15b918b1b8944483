"""How good v2's extras are: calibration and conformal coverage in and out of domain, explanation faithfulness.

    python -m loadtest.v2_quality --version-dir model_repository/sentiment-sst2/1 [--shared ../shared]

Scores in-process with ONNX Runtime (the export's ``OnnxScorer``, the served model.onnx) and applies
what the gateway applies: the export's temperature and conformal scores (``contract.calibration``) and
the gateway's occlusion (``gateway.pipeline.explain``). The version must have been exported with
``--calibration-data`` on SST-2 dev; its held-out 20 % (the same seeded split) is the in-domain set,
CR and UCI are the shifted ones.

Faithfulness is the AOPC of deletion curves: leave out the k most-attributed words, k = 1..K, and average
the fall in the winning label's probability; the same with k random words is the baseline. Higher is
more faithful; an explanation no better than chance scores the baseline.
"""

import argparse
import json
import random
from pathlib import Path

import numpy as np
from transformers import AutoTokenizer

from contract.calibration import scale_probabilities
from contract.labelled_data import load_tsv
from contract.metadata import ServingMetadata
from export.calibration import coverage_and_set_size, expected_calibration_error, gold_indices, split_examples
from export.onnx_scoring import OnnxScorer
from gateway.pipeline.explain import word_spans

COVERAGES = (0.9, 0.95)
DELETION_STEPS = 5
RANDOM_ORDERS = 3


def calibration_rows(scorer: OnnxScorer, metadata: ServingMetadata, sets: dict[str, list]) -> list[dict]:
    calibration = metadata.calibration
    rows = []
    for name, examples in sets.items():
        probabilities = scorer.probabilities([e.text for e in examples])
        gold = gold_indices(examples, metadata.labels)
        calibrated = scale_probabilities(probabilities, calibration.temperature)
        row = {
            "set": name,
            "texts": len(examples),
            "accuracy": float(np.mean(probabilities.argmax(axis=1) == gold)),
            "ece_before": expected_calibration_error(probabilities, gold),
            "ece_after": expected_calibration_error(calibrated, gold),
        }
        for coverage in COVERAGES:
            reached, size = coverage_and_set_size(calibrated, gold, calibration.threshold(coverage))
            row[f"coverage_{coverage}"] = reached
            row[f"set_size_{coverage}"] = size
        rows.append(row)
    return rows


def without(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every span left out (spans in any order, not overlapping)."""
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + text[end:]
    return text


def deletion_aopc(scorer: OnnxScorer, temperature: float, texts: list[str], seed: int = 0) -> dict[str, float]:
    """AOPC of top-k attributed deletions and of random deletions, over ``texts`` with at least 2 words."""
    rng = random.Random(seed)
    texts = [text for text in texts if len(word_spans(text)) >= 2]

    def probabilities(batch: list[str]) -> np.ndarray:
        return scale_probabilities(scorer.probabilities(batch), temperature)

    full = probabilities(texts)
    winners = full.argmax(axis=1)
    spans = [word_spans(text) for text in texts]
    variants = [without(text, [span]) for text, text_spans in zip(texts, spans, strict=True) for span in text_spans]
    variant_p = probabilities(variants)
    curves: dict[str, list[list[str]]] = {"attributed": [], **{f"random{r}": [] for r in range(RANDOM_ORDERS)}}
    offset = 0
    for text, text_spans, winner in zip(texts, spans, winners, strict=True):
        weights = full[len(curves["attributed"]), winner] - variant_p[offset : offset + len(text_spans), winner]
        offset += len(text_spans)
        steps = min(DELETION_STEPS, len(text_spans))
        ranked = [text_spans[i] for i in np.argsort(-weights, kind="stable")]
        curves["attributed"].append([without(text, ranked[:k]) for k in range(1, steps + 1)])
        for r in range(RANDOM_ORDERS):
            shuffled = rng.sample(text_spans, len(text_spans))
            curves[f"random{r}"].append([without(text, shuffled[:k]) for k in range(1, steps + 1)])
    aopc = {}
    for name, per_text in curves.items():
        deleted = probabilities([variant for steps in per_text for variant in steps])
        drops, position = [], 0
        for index, steps in enumerate(per_text):
            winner = winners[index]
            drops.append(np.mean(full[index, winner] - deleted[position : position + len(steps), winner]))
            position += len(steps)
        aopc[name] = float(np.mean(drops))
    return {
        "texts": len(texts),
        "steps": DELETION_STEPS,
        "aopc_attributed": aopc["attributed"],
        "aopc_random": float(np.mean([aopc[f"random{r}"] for r in range(RANDOM_ORDERS)])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.v2_quality", description=__doc__.split("\n")[0])
    parser.add_argument("--version-dir", type=Path, required=True, help="an export made with --calibration-data")
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="the shared assets folder")
    parser.add_argument("--faithfulness-texts", type=int, default=300, help="SST-2 dev texts for AOPC")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    metadata = ServingMetadata.read(args.version_dir)
    if metadata.calibration is None:
        parser.error(f"{args.version_dir} has no calibration: export it with --calibration-data")
    scorer = OnnxScorer(
        args.version_dir / "model.onnx", AutoTokenizer.from_pretrained(args.version_dir / "tokenizer"), metadata
    )
    data = args.shared / "data"
    dev = load_tsv(data / "sst2" / "dev.tsv")
    sets = {
        "SST-2 dev, held-out 20 %": split_examples(dev).held_out,
        "CR test": load_tsv(data / "cr" / "test.tsv"),
        **{f"UCI {name}": load_tsv(data / "uci" / f"{name}_labelled.txt") for name in ("amazon_cells", "yelp", "imdb")},
    }
    report = {
        "temperature": metadata.calibration.temperature,
        "calibration": calibration_rows(scorer, metadata, sets),
        "faithfulness": deletion_aopc(
            scorer, metadata.calibration.temperature, [e.text for e in dev[: args.faithfulness_texts]]
        ),
    }
    print(f"temperature {report['temperature']:.3f}")
    for row in report["calibration"]:
        print(
            f"{row['set']:26} n={row['texts']:5} acc {row['accuracy']:.1%}  ECE {row['ece_before']:.4f} -> "
            f"{row['ece_after']:.4f}  "
            + "  ".join(f"cov@{c:.2f} {row[f'coverage_{c}']:.1%} (set {row[f'set_size_{c}']:.2f})" for c in COVERAGES)
        )
    faithfulness = report["faithfulness"]
    print(
        f"AOPC over k=1..{faithfulness['steps']} on {faithfulness['texts']} SST-2 dev texts: top-k attributed "
        f"{faithfulness['aopc_attributed']:.4f}, k random {faithfulness['aopc_random']:.4f}"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
