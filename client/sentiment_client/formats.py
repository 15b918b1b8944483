"""Tables in and out, streamed in Arrow record batches: CSV, TSV, JSON Lines and Parquet.

pyarrow rather than polars: it reads every one of these formats as a stream of record batches
(``csv.open_csv``, ``json.open_json``, ``ParquetFile.iter_batches``) and writes them batch by batch
(``csv.CSVWriter``, ``parquet.ParquetWriter``), which is exactly what a bounded-memory scorer needs; it is
a single wheel with no required dependencies. Polars streams through lazy queries that own the whole
pipeline, which does not fit "send this batch, write its answers, checkpoint".

CSV and TSV columns are read as strings, whatever they look like: a streaming reader infers types from
its first block only, so a later block could fail to convert, and "007" stays "007". TSV is CSV with a
tab: the same RFC 4180 quoting, so what this tool writes it reads back.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

FORMATS = ("csv", "tsv", "jsonl", "parquet")
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
DELIMITERS = {"csv": ",", "tsv": "\t"}
READ_BLOCK_BYTES = 1 << 20


class FormatError(ValueError):
    """The file's format cannot be told from its name, or the file cannot be read as that format."""


def detect_format(path: Path, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    suffixes = [suffix.lower() for suffix in path.suffixes]
    # ``reviews.csv.gz``: the format is the suffix before the compression one (pyarrow decompresses).
    for suffix in reversed(suffixes):
        if suffix in SUFFIX_FORMATS:
            return SUFFIX_FORMATS[suffix]
    raise FormatError(f"cannot tell the format of {path} from its name; pass one of {', '.join(FORMATS)}")


class InputTable:
    """A table file read as a stream of record batches, as many times as asked (counting, then scoring)."""

    def __init__(self, path: Path, file_format: str) -> None:
        self.path = path
        self.format = file_format
        self.schema = self._open_schema()

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self.format == "parquet":
            yield from pq.ParquetFile(self.path).iter_batches(batch_size=64 * 1024)
        elif self.format == "jsonl":
            yield from self._open_json()
        else:
            yield from self._open_csv({name: pa.string() for name in self.schema.names})

    def count_rows(self) -> int:
        """Rows in the file (Parquet: from its footer; the others: one streaming pass), for the ETA."""
        if self.format == "parquet":
            return pq.ParquetFile(self.path).metadata.num_rows
        return sum(batch.num_rows for batch in self.batches())

    def _open_schema(self) -> pa.Schema:
        try:
            if self.format == "parquet":
                return pq.ParquetFile(self.path).schema_arrow
            if self.format == "jsonl":
                return self._open_json().schema
            names = self._open_csv(None).schema.names
            return pa.schema([(name, pa.string()) for name in names])
        except (pa.ArrowInvalid, OSError) as error:
            raise FormatError(f"cannot read {self.path} as {self.format}: {error}") from error

    def _open_json(self) -> pa.RecordBatchReader:
        return pa_json.open_json(self.path, read_options=pa_json.ReadOptions(block_size=READ_BLOCK_BYTES))

    def _open_csv(self, column_types: dict[str, pa.DataType] | None) -> pa.RecordBatchReader:
        return pa_csv.open_csv(
            self.path,
            read_options=pa_csv.ReadOptions(block_size=READ_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(delimiter=DELIMITERS[self.format]),
            convert_options=pa_csv.ConvertOptions(column_types=column_types or {}),
        )


class BatchWriter(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> None: ...


class _JsonLinesWriter:
    """pyarrow writes no JSON: one object per line, values JSON cannot hold (dates, bytes) as strings."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("w", encoding="utf-8")

    def write(self, batch: pa.RecordBatch) -> None:
        self._file.writelines(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in batch.to_pylist())

    def close(self) -> None:
        self._file.close()


def open_writer(path: Path, file_format: str, schema: pa.Schema) -> BatchWriter:
    if file_format == "parquet":
        return pq.ParquetWriter(path, schema)
    if file_format == "jsonl":
        return _JsonLinesWriter(path)
    return pa_csv.CSVWriter(path, schema, write_options=pa_csv.WriteOptions(delimiter=DELIMITERS[file_format]))
