"""Accuracy through the running stack, and agreement with the checkpoint run in PyTorch in this process.

    python -m loadtest.eval --data ../shared/data/sst2/dev.tsv [--data more.tsv] [--url http://127.0.0.1:8080]

Every labelled sentence goes through ``POST /v1/sentiment/batch`` of the gateway; the answers give
the accuracy and a confusion matrix. The same sentences then run through the PyTorch checkpoint the
served model was exported from (``--checkpoint``, by default the ``source`` in the repository's
serving metadata): tokenizer, export, bucketing, Triton and the gateway must change nothing, so
agreement must be 100%, and the largest probability difference shows how close the numbers are.
The exit status is 1 when any label disagrees. ``--serve REPOSITORY`` starts Triton and the gateway
on free ports for the run instead of using ``--url``.
"""

import argparse
import json
import logging
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from contract.labelled_data import LABEL_NAMES, LabelledText, load_tsv
from contract.metadata import ServingMetadata
from contract.versions import resolve_version
from loadtest.answers import batch_problem

logger = logging.getLogger("loadtest.eval")
REQUEST_BATCH = 32
MAX_RETRIES = 120


@dataclass(frozen=True)
class EvalReport:
    """The figures for one data set; the confusion matrix is rows = gold, columns = predicted, in LABEL_NAMES order."""

    data: str
    examples: int
    accuracy: float
    confusion: list[list[int]]
    pytorch_accuracy: float
    agreement: float
    disagreements: list[str]
    max_score_diff: float


def _post_with_backoff(request: urllib.request.Request) -> object:
    """The parsed answer; a 429 (quota, e.g. the default 100/minute) or 503 is waited out, as Retry-After asks."""
    for _ in range(MAX_RETRIES):
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code not in (429, 503):
                raise SystemExit(f"the gateway answered {error.code}: {error.read()[:300]!r}") from error
            time.sleep(float(error.headers.get("Retry-After") or 1))
    raise SystemExit(f"the gateway kept refusing after {MAX_RETRIES} tries; is GATEWAY_RATE_LIMIT very low?")


def classify_via_gateway(url: str, texts: list[str], labels: list[str]) -> tuple[list[str], np.ndarray]:
    """Labels and per-label probabilities (columns in ``labels`` order) as the gateway answers them."""
    predicted, scores = [], []
    for start in range(0, len(texts), REQUEST_BATCH):
        chunk = texts[start : start + REQUEST_BATCH]
        request = urllib.request.Request(
            url.rstrip("/") + "/v1/sentiment/batch",
            data=json.dumps({"texts": chunk}).encode(),
            headers={"Content-Type": "application/json"},
        )
        answer = _post_with_backoff(request)
        if problem := batch_problem(answer, len(chunk), labels):
            raise SystemExit(f"the gateway answered off-contract: {problem}")
        for result in answer["results"]:
            predicted.append(result["label"])
            scores.append([result["scores"][label] for label in labels])
    return predicted, np.array(scores)


def classify_with_pytorch(checkpoint: str, texts: list[str]) -> tuple[list[str], np.ndarray, list[str]]:
    """Labels, probabilities and the label order of the checkpoint run in PyTorch (the reference)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    probabilities = []
    with torch.inference_mode():
        for start in range(0, len(texts), REQUEST_BATCH):
            encoded = tokenizer(
                texts[start : start + REQUEST_BATCH],
                padding=True,
                truncation=True,
                max_length=model.config.max_position_embeddings,
                return_tensors="pt",
            )
            probabilities.append(torch.softmax(model(**encoded).logits.double(), dim=-1).numpy())
    stacked = np.concatenate(probabilities)
    return [labels[i] for i in stacked.argmax(axis=1)], stacked, labels


def evaluate(data: Path, examples: list[LabelledText], url: str, checkpoint: str) -> EvalReport:
    texts = [example.text for example in examples]
    reference_labels, reference_scores, labels = classify_with_pytorch(checkpoint, texts)
    served_labels, served_scores = classify_via_gateway(url, texts, labels)
    gold = [example.label_name for example in examples]
    confusion = [
        [
            sum(1 for g, p in zip(gold, served_labels, strict=True) if g == gold_name and p == predicted_name)
            for predicted_name in LABEL_NAMES
        ]
        for gold_name in LABEL_NAMES
    ]
    disagreements = [
        text
        for text, served, reference in zip(texts, served_labels, reference_labels, strict=True)
        if served != reference
    ]
    return EvalReport(
        data=str(data),
        examples=len(examples),
        accuracy=float(np.mean([g == p for g, p in zip(gold, served_labels, strict=True)])),
        confusion=confusion,
        pytorch_accuracy=float(np.mean([g == p for g, p in zip(gold, reference_labels, strict=True)])),
        agreement=1 - len(disagreements) / len(examples),
        disagreements=disagreements[:10],
        max_score_diff=float(np.abs(served_scores - reference_scores).max()),
    )


def markdown(reports: list[EvalReport]) -> str:
    lines = [
        "| data | examples | accuracy (stack) | accuracy (PyTorch) | agreement | max score diff | "
        "confusion [[TN, FP], [FN, TP]] |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r.data} | {r.examples} | {100 * r.accuracy:.2f}% | {100 * r.pytorch_accuracy:.2f}% | "
        f"{100 * r.agreement:.2f}% | {r.max_score_diff:.1e} | {r.confusion} |"
        for r in reports
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtest.eval", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", required=True, help="sentence<TAB>label file; repeat")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the running gateway")
    parser.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--model-name", default="sentiment")
    parser.add_argument("--checkpoint", help="PyTorch reference (default: the serving metadata's source)")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="start Triton and the gateway on --model-repository for this run instead of using --url",
    )
    parser.add_argument("--out", type=Path, help="also write the reports as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    checkpoint = (
        args.checkpoint or ServingMetadata.read(resolve_version(args.model_repository, args.model_name)[0]).source
    )
    with ExitStack() as stack:
        url = args.url
        if args.serve:
            from localtriton.server import start_on_free_ports

            from loadtest.bench.servers import start_gateway

            work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="eval-")))
            triton = start_on_free_ports(args.model_repository, work_dir, ready_timeout_s=300)
            stack.callback(triton.stop)
            gateway = start_gateway(
                f"127.0.0.1:{triton.options.http_port}",
                args.model_repository,
                args.model_name,
                workers=1,
                work_dir=work_dir,
            )
            stack.callback(gateway.stop)
            url = gateway.base_url
        reports = []
        for data in args.data:
            logger.info("evaluating %s through %s against %s", data, url, checkpoint)
            reports.append(evaluate(data, load_tsv(data), url, checkpoint))
    print(markdown(reports))
    for report in reports:
        for text in report.disagreements:
            print(f"disagreement in {report.data}: {text!r}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps([asdict(r) for r in reports], indent=2) + "\n", encoding="utf-8")
    return 0 if all(report.agreement == 1 for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
