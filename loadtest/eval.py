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
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sentiment_client import RetryEvent, SentimentClient, SentimentError

from contract.labelled_data import LABEL_NAMES, LabelledText, load_tsv
from contract.metadata import ServingMetadata
from contract.versions import resolve_version
from loadtest.answers import result_problem

logger = logging.getLogger("loadtest.eval")
REQUEST_BATCH = 32


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


def classify_via_gateway(client: SentimentClient, texts: list[str], labels: list[str]) -> tuple[list[str], np.ndarray]:
    """Labels and per-label probabilities (columns in ``labels`` order) as the gateway answers them.

    The client's ``RetryPolicy`` waits out a spent quota (the default is 100/minute) or an unready model as
    ``Retry-After`` asks; an error it gives up on, or an answer off the API contract, ends the run.
    """
    try:
        results = client.classify_many(texts, batch_size=REQUEST_BATCH)
    except SentimentError as error:
        raise SystemExit(f"the gateway refused: {error}") from error
    for index, result in enumerate(results):
        if problem := result_problem(result.model_dump(), labels):
            raise SystemExit(f"the gateway answered off-contract: texts[{index}]: {problem}")
    return [result.label for result in results], np.array(
        [[result.scores[label] for label in labels] for result in results]
    )


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


def evaluate(data: Path, examples: list[LabelledText], client: SentimentClient, checkpoint: str) -> EvalReport:
    texts = [example.text for example in examples]
    reference_labels, reference_scores, labels = classify_with_pytorch(checkpoint, texts)
    served_labels, served_scores = classify_via_gateway(client, texts, labels)
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


def _log_retry(event: RetryEvent) -> None:
    logger.info("waiting %.1f s before try %d: %s", event.delay_s, event.attempt + 1, event.error)


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
            url = gateway.url
        client = stack.enter_context(SentimentClient(url, on_retry=_log_retry))
        reports = []
        for data in args.data:
            logger.info("evaluating %s through %s against %s", data, url, checkpoint)
            reports.append(evaluate(data, load_tsv(data), client, checkpoint))
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
