"""The resumable state of a bulk run: ``OUTPUT.partial/``, one Arrow file per finished chunk.

Chunk ``k`` is always input rows ``k*size .. (k+1)*size - 1``, so a rerun knows which rows a file
holds. A chunk's file is written under a temporary name and renamed into place, and the rename is
atomic: after a SIGKILL a chunk is either wholly there or not at all, and a resumed run scores
exactly the chunks that are missing. Results are merged in chunk order at the end, so concurrency
never changes the output's order and finished chunks never wait in memory for slower ones.
"""

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyarrow import ipc

MANIFEST = "manifest.json"
CHUNK_PREFIX = "chunk-"
# With --sentences-output, each chunk's sentence rows; written before the chunk, whose file marks it done.
SENTENCES_PART = "sentences-"
CHUNK_SUFFIX = ".arrow"


class CheckpointMismatch(ValueError):
    """``--resume`` with a checkpoint made for another input or other options."""


class Checkpoint:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def for_output(cls, output: Path) -> "Checkpoint":
        return cls(output.with_name(output.name + ".partial"))

    def exists(self) -> bool:
        return (self.directory / MANIFEST).is_file()

    def start(self, manifest: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.directory / MANIFEST, json.dumps(manifest, indent=2).encode())

    def check(self, manifest: dict[str, Any]) -> None:
        """Refuse to resume unless the input and every option that decides what a chunk holds are the same."""
        saved = json.loads((self.directory / MANIFEST).read_text())
        changed = sorted(key for key in manifest.keys() | saved.keys() if manifest.get(key) != saved.get(key))
        if changed:
            raise CheckpointMismatch(
                f"the interrupted run in {self.directory} differs in {', '.join(changed)}; "
                "rerun with its options, or delete that folder to start again"
            )

    def completed(self) -> set[int]:
        return {
            int(path.name[len(CHUNK_PREFIX) : -len(CHUNK_SUFFIX)])
            for path in self.directory.glob(f"{CHUNK_PREFIX}*{CHUNK_SUFFIX}")
        }

    def write_chunk(self, index: int, table: pa.Table, part: str = CHUNK_PREFIX) -> None:
        sink = pa.BufferOutputStream()
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        _write_atomically(self._chunk_path(index, part), sink.getvalue().to_pybytes())

    def chunks(self, part: str = CHUNK_PREFIX) -> Iterator[pa.Table]:
        """Every finished chunk (or its ``part``), in input order, one at a time."""
        for index in sorted(self.completed()):
            with pa.OSFile(str(self._chunk_path(index, part))) as source:
                yield ipc.open_file(source).read_all()

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _chunk_path(self, index: int, part: str = CHUNK_PREFIX) -> Path:
        return self.directory / f"{part}{index:09d}{CHUNK_SUFFIX}"


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
