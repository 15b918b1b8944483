"""Score a table file: stream its rows in chunks, score chunks concurrently, checkpoint each, merge in order.

Memory stays flat whatever the file's size: the reader streams, at most ``concurrency`` chunks are in
flight, each finished chunk goes to disk at once (``checkpoint``), and the merge reads one chunk at a time.
"""

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from sentiment_client.checkpoint import SENTENCES_PART, Checkpoint
from sentiment_client.client import AnalysisOutcome, AsyncSentimentClient, Outcome
from sentiment_client.errors import InferenceFailed, InferenceTimeout, InvalidInput, SentimentError
from sentiment_client.formats import InputTable, open_writer
from sentiment_client.models import AnalysisResult, LongText, SentimentResult

# Errors that are about the rows of a request, not the service: those rows go to the failure file and the
# run goes on. Anything else (unreachable after retries, wrong key) stops the run, resumable.
ROW_ERRORS = (InvalidInput, InferenceFailed, InferenceTimeout)
ROW_COLUMN = "row"
SENTENCE_COLUMNS = (ROW_COLUMN, "sentence", "start", "end", "text")
ERROR_COLUMNS = ("error_type", "error_message", "error_field", "request_id")
CHECKPOINT_VERSION = 1
# Written at once by the merge: Parquet row groups of a useful size. The merge holds a few copies of a group
# (filtered, cast, encoded), so this bounds the CLI's memory whatever the file's size.
MERGE_BYTES = 4 << 20


class JobError(ValueError):
    """The job cannot start as asked (missing column, clashing names, a checkpoint in the way)."""


@dataclass(frozen=True)
class ScoreJob:
    """What to score and how; the CLI's arguments."""

    input: Path
    output: Path
    failures: Path
    column: str
    input_format: str
    output_format: str
    batch_size: int | None = None
    concurrency: int = 4
    long_text: LongText = "truncate"
    neutral_threshold: float | None = None
    prefix: str = ""
    resume: bool = False
    # Set: score through API v2 and write one row per sentence here (same format as the output).
    sentences_output: Path | None = None

    @property
    def analyze(self) -> bool:
        return self.sentences_output is not None


@dataclass
class Summary:
    rows: int = 0
    scored: int = 0
    done_before: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


class Progress(Protocol):
    """What the runner reports as it goes; the CLI draws a bar from it."""

    def start(self, total_rows: int) -> None: ...

    def advance(self, rows: int) -> None: ...


def result_schema(labels: Iterable[str], prefix: str, analyze: bool = False) -> pa.Schema:
    """The result columns; v2 adds the prediction set (labels joined by commas) and the language's code."""
    v2_columns = [(f"{prefix}prediction_set", pa.string()), (f"{prefix}language", pa.string())] if analyze else []
    return pa.schema(
        [
            (f"{prefix}label", pa.string()),
            (f"{prefix}score", pa.float64()),
            *[(f"{prefix}score_{label}", pa.float64()) for label in labels],
            *v2_columns,
            (f"{prefix}truncated", pa.bool_()),
            (f"{prefix}model", pa.string()),
            (f"{prefix}model_version", pa.string()),
        ]
    )


def sentence_schema(labels: Iterable[str]) -> pa.Schema:
    """The long-format sentence table: the input row each sentence is of, its place, offsets, text and scores."""
    return pa.schema(
        [
            (ROW_COLUMN, pa.int64()),
            ("sentence", pa.int64()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("text", pa.string()),
            ("label", pa.string()),
            ("score", pa.float64()),
            *[(f"score_{label}", pa.float64()) for label in labels],
        ]
    )


def error_schema() -> pa.Schema:
    return pa.schema([(name, pa.string()) for name in ERROR_COLUMNS])


def rechunk(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.Table]:
    """Tables of exactly ``size`` rows (the last one fewer), whatever sizes the reader yields. Slices of the
    reader's batches, never copies: copying every chunk churned the allocator enough to grow the RSS with
    each pass over a file."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        rest = batch
        while rest.num_rows:
            take = min(size - pending_rows, rest.num_rows)
            pending.append(rest.slice(0, take))
            pending_rows += take
            rest = rest.slice(take)
            if pending_rows == size:
                yield pa.Table.from_batches(pending)
                pending, pending_rows = [], 0
    if pending_rows:
        yield pa.Table.from_batches(pending)


def chunk_table(
    chunk: pa.Table,
    first_row: int,
    outcomes: list[Outcome | AnalysisOutcome | SentimentError],
    labels: list[str],
    prefix: str,
    analyze: bool = False,
) -> pa.Table:
    """The chunk's rows with their result columns (null where failed), error columns (null where scored)
    and input row numbers: one file per chunk, split into output and failure file at the merge."""
    results = [outcome if isinstance(outcome, SentimentResult | AnalysisResult) else None for outcome in outcomes]
    errors = [outcome if isinstance(outcome, SentimentError) else None for outcome in outcomes]
    schema = result_schema(labels, prefix, analyze)
    v2_values = (
        [
            [result and ",".join(result.prediction_set) for result in results],
            [result and result.language.code for result in results],
        ]
        if analyze
        else []
    )
    result_values = [
        [result and result.label for result in results],
        [result and result.score for result in results],
        *[[result and result.scores.get(label) for result in results] for label in labels],
        *v2_values,
        [result and result.truncated for result in results],
        [result and result.model for result in results],
        [result and result.model_version for result in results],
    ]
    error_values = [
        [error and error.type for error in errors],
        [error and error.message for error in errors],
        [error and error.field for error in errors],
        [error and error.request_id for error in errors],
    ]
    table = chunk
    for schema_field, values in zip([*schema, *error_schema()], [*result_values, *error_values], strict=True):
        table = table.append_column(schema_field, pa.array(values, type=schema_field.type))
    rows = pa.array(range(first_row, first_row + chunk.num_rows), type=pa.int64())
    return table.append_column(pa.field(ROW_COLUMN, pa.int64()), rows)


def sentence_table(first_row: int, outcomes: list[AnalysisOutcome | SentimentError], labels: list[str]) -> pa.Table:
    """One row per sentence of every analysed text of a chunk, in input order, keyed by the input row."""
    rows = [
        (first_row + position, index, sentence)
        for position, outcome in enumerate(outcomes)
        if isinstance(outcome, AnalysisResult)
        for index, sentence in enumerate(outcome.sentences)
    ]
    columns = [
        [row for row, _, _ in rows],
        [index for _, index, _ in rows],
        [sentence.start for *_, sentence in rows],
        [sentence.end for *_, sentence in rows],
        [sentence.text for *_, sentence in rows],
        [sentence.label for *_, sentence in rows],
        [sentence.score for *_, sentence in rows],
        *[[sentence.scores.get(label) for *_, sentence in rows] for label in labels],
    ]
    return pa.table(columns, schema=sentence_schema(labels))


class BulkScorer:
    def __init__(
        self,
        job: ScoreJob,
        client: AsyncSentimentClient,
        progress: Progress,
        summary: Summary,
        clock: Callable[[], float],
    ) -> None:
        self.job = job
        self.client = client
        self.progress = progress
        self.summary = summary
        self.clock = clock
        self.checkpoint = Checkpoint.for_output(job.output)

    async def run(self) -> Summary:
        started = self.clock()
        try:
            await self._run()
        finally:
            self.summary.elapsed_s = self.clock() - started
        return self.summary

    async def _run(self) -> None:
        job = self.job
        table = InputTable(job.input, job.input_format)
        self._check_column(table.schema)
        labels = (await self.client.info()).labels
        results = result_schema(labels, job.prefix, job.analyze)
        if clashes := sorted(set(results.names) & set(table.schema.names)):
            raise JobError(
                f"the input already has column(s) {', '.join(clashes)}; name the result columns with --prefix, "
                "e.g. --prefix sentiment_"
            )
        limits = await self.client.limits()
        chunk_rows = min(job.batch_size or limits.max_texts_per_request, limits.max_texts_per_request)
        done = self._open_checkpoint(chunk_rows)
        self.summary.rows = table.count_rows()
        self.progress.start(self.summary.rows)

        in_flight: set[asyncio.Task[None]] = set()
        try:
            for index, chunk in enumerate(rechunk(table.batches(), chunk_rows)):
                if index in done:
                    self.summary.done_before += chunk.num_rows
                    self.progress.advance(chunk.num_rows)
                    continue
                while len(in_flight) >= job.concurrency:
                    finished, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    for task in finished:
                        task.result()  # an error that stops the run is raised here
                in_flight.add(asyncio.create_task(self._score_chunk(index, index * chunk_rows, chunk, labels)))
            for task in asyncio.as_completed(in_flight):
                await task
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
        self._merge(table.schema, results, labels)

    def _check_column(self, schema: pa.Schema) -> None:
        if self.job.column not in schema.names:
            raise JobError(f"no column {self.job.column!r} in {self.job.input}; it has: {', '.join(schema.names)}")
        column_type = schema.field(self.job.column).type
        if not (pa.types.is_string(column_type) or pa.types.is_large_string(column_type)):
            raise JobError(f"column {self.job.column!r} holds {column_type}, not text")

    def _open_checkpoint(self, chunk_rows: int) -> set[int]:
        job = self.job
        stat = job.input.stat()
        manifest = {
            "version": CHECKPOINT_VERSION,
            "input": str(job.input.resolve()),
            "input_bytes": stat.st_size,
            "input_mtime_ns": stat.st_mtime_ns,
            "column": job.column,
            "chunk_rows": chunk_rows,
            "long_text": job.long_text,
            "neutral_threshold": job.neutral_threshold,
            "prefix": job.prefix,
            "sentences": job.analyze,
        }
        if self.checkpoint.exists():
            if not job.resume:
                raise JobError(
                    f"an interrupted run left {self.checkpoint.directory}: pass --resume to continue it, "
                    "or delete that folder to start again"
                )
            self.checkpoint.check(manifest)
            return self.checkpoint.completed()
        self.checkpoint.start(manifest)
        return set()

    async def _score_chunk(self, index: int, first_row: int, chunk: pa.Table, labels: list[str]) -> None:
        job = self.job
        texts = chunk.column(job.column).to_pylist()
        present = [position for position, text in enumerate(texts) if text is not None]
        # A null has no JSON string to send: it fails here, in the gateway's words for a missing text.
        missing = InvalidInput(0, "invalid_input", "no text (null)", field=job.column)
        outcomes: list[Outcome | AnalysisOutcome | SentimentError] = [missing] * len(texts)
        present_texts = [texts[position] for position in present]
        try:
            if job.analyze:
                scored: list[Outcome | AnalysisOutcome | SentimentError] = list(
                    await self.client.analyze_many_outcomes(
                        present_texts, long_text=job.long_text, batch_size=job.batch_size, concurrency=1
                    )
                )
            else:
                scored = list(
                    await self.client.classify_many_outcomes(
                        present_texts,
                        long_text=job.long_text,
                        neutral_threshold=job.neutral_threshold,
                        batch_size=job.batch_size,
                        concurrency=1,
                    )
                )
        except ROW_ERRORS as error:
            scored = [error] * len(present)
        for position, outcome in zip(present, scored, strict=True):
            outcomes[position] = outcome
        if job.analyze:
            # Before the chunk itself: a chunk on disk is what marks it done, so its sentences must be there first.
            self.checkpoint.write_chunk(index, sentence_table(first_row, outcomes, labels), part=SENTENCES_PART)
        self.checkpoint.write_chunk(index, chunk_table(chunk, first_row, outcomes, labels, job.prefix, job.analyze))
        for outcome in outcomes:
            if isinstance(outcome, SentimentError):
                self.summary.failures[outcome.type] += 1
            else:
                self.summary.scored += 1
        self.progress.advance(chunk.num_rows)

    def _merge(self, input_schema: pa.Schema, results: pa.Schema, labels: list[str]) -> None:
        """Every chunk, in input order: scored rows to the output, failed rows to the failure file (written
        only when there are some). Both appear under their names only when complete."""
        job = self.job
        output_schema = pa.schema([*input_schema, *results])
        failure_schema = pa.schema([pa.field(ROW_COLUMN, pa.int64()), *input_schema, *error_schema()])
        output_tmp = job.output.with_name(job.output.name + ".tmp")
        failures_tmp = job.failures.with_name(job.failures.name + ".tmp")
        writer = open_writer(output_tmp, job.output_format, output_schema)
        failure_writer = None
        try:
            for chunks in _grouped(self.checkpoint.chunks(), MERGE_BYTES):
                table = pa.concat_tables(chunks)
                failed = pc.is_valid(table["error_type"])
                writer.write(table.filter(pc.invert(failed)).select(output_schema.names).cast(output_schema))
                if pc.any(failed).as_py():
                    if failure_writer is None:
                        failure_writer = open_writer(failures_tmp, job.output_format, failure_schema)
                    failure_writer.write(table.filter(failed).select(failure_schema.names).cast(failure_schema))
        finally:
            writer.close()
            if failure_writer is not None:
                failure_writer.close()
        if job.sentences_output is not None:
            self._merge_sentences(job.sentences_output, sentence_schema(labels))
        output_tmp.replace(job.output)
        if failure_writer is not None:
            failures_tmp.replace(job.failures)
        else:
            job.failures.unlink(missing_ok=True)  # from an earlier run of the same job
        self.checkpoint.remove()

    def _merge_sentences(self, path: Path, schema: pa.Schema) -> None:
        """The sentence table, chunk by chunk in input order, under its name only when complete."""
        temporary = path.with_name(path.name + ".tmp")
        writer = open_writer(temporary, self.job.output_format, schema)
        try:
            for tables in _grouped(self.checkpoint.chunks(SENTENCES_PART), MERGE_BYTES):
                writer.write(pa.concat_tables(tables).cast(schema))
        finally:
            writer.close()
        temporary.replace(path)


def _grouped(tables: Iterable[pa.Table], max_bytes: int) -> Iterator[list[pa.Table]]:
    """Consecutive tables gathered to about ``max_bytes``: Parquet makes a row group per write, and row groups
    of one chunk each would make a slow file to read; a bound in bytes, not rows, keeps wide rows in check."""
    group: list[pa.Table] = []
    grouped_bytes = 0
    for table in tables:
        group.append(table)
        grouped_bytes += table.nbytes
        if grouped_bytes >= max_bytes:
            yield group
            group, grouped_bytes = [], 0
    if group:
        yield group
