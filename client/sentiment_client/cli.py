"""``sentiment-client score INPUT --column text --output OUTPUT``: score a table file through the gateway.

Exit status: 0 every row scored; 1 some rows failed for good (they are in the failure file); 2 the job
could not start as asked; 3 the run stopped (service unreachable after retries, key refused) or was
interrupted: its checkpoint is kept, and ``--resume`` continues it.
"""

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from sentiment_client.bulk import BulkScorer, JobError, ScoreJob, Summary
from sentiment_client.checkpoint import CheckpointMismatch
from sentiment_client.client import API_KEY_ENV, DEFAULT_URL, AsyncSentimentClient
from sentiment_client.errors import SentimentError
from sentiment_client.formats import FORMATS, FormatError, detect_format
from sentiment_client.retry import RetryEvent, RetryPolicy

URL_ENV = "SENTIMENT_URL"
EXIT_OK, EXIT_ROWS_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 3


def _probability(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentiment-client", description="Client of the sentiment gateway.")
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser(
        "score",
        help="score every row of a CSV, TSV, JSON Lines or Parquet file",
        description="Writes the input's columns plus label, score, score_<LABEL> per label, truncated, model and "
        "model_version. Rows the service refuses go to a failure file with their error.",
    )
    score.add_argument("input", type=Path, help="the table to score")
    score.add_argument("--column", default="text", help="the column holding the texts (default: text)")
    score.add_argument("--output", "-o", type=Path, required=True, help="where to write the scored table")
    score.add_argument(
        "--failures", type=Path, help="where rows that failed go (default: OUTPUT's name with .failures)"
    )
    score.add_argument("--input-format", choices=FORMATS, help="default: from the input's suffix")
    score.add_argument("--output-format", choices=FORMATS, help="default: from the output's suffix")
    score.add_argument(
        "--url", default=os.environ.get(URL_ENV, DEFAULT_URL), help=f"gateway URL (default: ${URL_ENV} or %(default)s)"
    )
    score.add_argument("--api-key", help=f"API key (default: ${API_KEY_ENV})")
    score.add_argument(
        "--batch-size", type=_positive, help="texts per request (default and most: the server's max_texts_per_request)"
    )
    score.add_argument("--concurrency", type=_positive, default=4, help="requests in flight (default: %(default)s)")
    score.add_argument("--long-text", choices=("truncate", "windows"), default="truncate")
    score.add_argument("--neutral-threshold", type=_probability, help="answer NEUTRAL under this winning score")
    score.add_argument("--prefix", default="", help="prefix of the result columns, e.g. sentiment_")
    score.add_argument(
        "--sentences-output",
        type=Path,
        help="score through API v2 (calibrated label, prediction_set and language columns) and write each text's "
        "sentences here, one row per sentence keyed by the input row (row, sentence, start, end, text, label, "
        "score, score_<LABEL>), in the output's format",
    )
    score.add_argument("--resume", action="store_true", help="continue an interrupted run of the same job")
    score.add_argument(
        "--deadline", type=float, default=RetryPolicy.deadline_s, help="seconds one request may take, retries included"
    )
    score.add_argument("--timeout", type=float, default=60.0, help="seconds one HTTP attempt may take")
    score.add_argument("--no-progress", action="store_true", help="no progress bar (the summary is still printed)")
    score.add_argument("--summary-json", type=Path, help="also write the summary to this file, as JSON")
    return parser


class BarProgress:
    """tqdm's bar: texts done, texts/s and the time left."""

    def __init__(self, disable: bool) -> None:
        self.bar = tqdm(unit=" texts", unit_scale=False, dynamic_ncols=True, disable=disable, mininterval=0.5)

    def start(self, total_rows: int) -> None:
        self.bar.reset(total=total_rows)

    def advance(self, rows: int) -> None:
        self.bar.update(rows)

    def close(self) -> None:
        self.bar.close()


def job_from(arguments: argparse.Namespace) -> ScoreJob:
    output_format = detect_format(arguments.output, arguments.output_format)
    failures = arguments.failures or arguments.output.with_name(
        arguments.output.name.removesuffix(arguments.output.suffix) + ".failures" + arguments.output.suffix
    )
    return ScoreJob(
        input=arguments.input,
        output=arguments.output,
        failures=failures,
        column=arguments.column,
        input_format=detect_format(arguments.input, arguments.input_format),
        output_format=output_format,
        batch_size=arguments.batch_size,
        concurrency=arguments.concurrency,
        long_text=arguments.long_text,
        neutral_threshold=arguments.neutral_threshold,
        prefix=arguments.prefix,
        resume=arguments.resume,
        sentences_output=arguments.sentences_output,
    )


def print_summary(summary: Summary, job: ScoreJob, json_path: Path | None) -> None:
    rate = summary.scored / summary.elapsed_s if summary.elapsed_s else 0.0
    if json_path is not None:
        fields = {
            "rows": summary.rows,
            "scored": summary.scored,
            "failed": summary.failed,
            "done_before": summary.done_before,
            "failures": dict(summary.failures),
            "retries": dict(summary.retries),
            "elapsed_s": summary.elapsed_s,
            "texts_per_s": rate,
        }
        json_path.write_text(json.dumps(fields, indent=2))
    lines = [
        f"rows: {summary.rows}  scored: {summary.scored}  failed: {summary.failed}"
        + (f"  done before (resumed): {summary.done_before}" if summary.done_before else ""),
        f"time: {summary.elapsed_s:.1f} s ({rate:.1f} texts/s)",
    ]
    if summary.failures:
        by_type = ", ".join(f"{kind} {count}" for kind, count in summary.failures.most_common())
        lines.append(f"failures by type: {by_type} -> {job.failures}")
    if summary.retries:
        lines.append("retries: " + ", ".join(f"{kind} {count}" for kind, count in summary.retries.most_common()))
    print("\n".join(lines), file=sys.stderr)


async def score(arguments: argparse.Namespace, job: ScoreJob, summary: Summary) -> None:
    def count_retry(event: RetryEvent) -> None:
        summary.retries[event.error.type] += 1

    progress = BarProgress(disable=arguments.no_progress)
    try:
        async with AsyncSentimentClient(
            arguments.url,
            api_key=arguments.api_key,
            timeout_s=arguments.timeout,
            retry=RetryPolicy(deadline_s=arguments.deadline),
            max_connections=job.concurrency,
            on_retry=count_retry,
        ) as client:
            await BulkScorer(job, client, progress, summary, time.perf_counter).run()
    finally:
        progress.close()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.sentences_output and arguments.neutral_threshold is not None:
        parser.error("--neutral-threshold is v1's band; with --sentences-output (v2) the prediction set says unsure")
    try:
        job = job_from(arguments)
    except FormatError as error:
        print(f"sentiment-client: {error}", file=sys.stderr)
        return EXIT_USAGE
    summary = Summary()
    try:
        asyncio.run(score(arguments, job, summary))
    except (JobError, CheckpointMismatch, FormatError) as error:
        print(f"sentiment-client: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SentimentError as error:
        print_summary(summary, job, arguments.summary_json)
        print(f"sentiment-client: stopped: {error}\nfinished chunks are kept; rerun with --resume", file=sys.stderr)
        return EXIT_STOPPED
    except KeyboardInterrupt:
        print_summary(summary, job, arguments.summary_json)
        print("sentiment-client: interrupted; rerun with --resume to continue", file=sys.stderr)
        return EXIT_STOPPED
    print_summary(summary, job, arguments.summary_json)
    return EXIT_ROWS_FAILED if summary.failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
