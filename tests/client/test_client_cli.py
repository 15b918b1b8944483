"""``sentiment-client score`` against a real gateway and Triton: formats, order, failures, resume after SIGKILL."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from client_helpers import API_KEY
from sentiment_client import SentimentClient
from sentiment_client.cli import EXIT_OK, EXIT_ROWS_FAILED, EXIT_STOPPED, EXIT_USAGE, main
from support import MAX_TEXT_CHARS, TINY_MODEL_NAME, GatewayProcess

pytestmark = pytest.mark.slow

LABELS = ["NEGATIVE", "POSITIVE"]
RESULT_COLUMNS = ["label", "score", "score_NEGATIVE", "score_POSITIVE", "truncated", "model", "model_version"]
TRICKY_TEXTS = [
    "I love this movie, it was wonderful.",
    'He said "great", then left; the plot, however, was thin.',
    "naïve café, 東京 and emoji 🎬",
    "two\nlines\tand a tab",
    "This was a terrible waste of time.",
]


def write_table(path: Path, rows: list[dict]) -> None:
    """The test's input, written by the standard library (and pyarrow only for Parquet)."""
    suffix = path.suffix
    if suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    else:
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]), delimiter="\t" if suffix == ".tsv" else ",")
            writer.writeheader()
            writer.writerows(rows)


def read_table(path: Path) -> list[dict]:
    """An output read back by the standard library (and pyarrow only for Parquet), values as the file has them."""
    suffix = path.suffix
    if suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file, delimiter="\t" if suffix == ".tsv" else ","))


def score(gateway: GatewayProcess, source: Path, output: Path, *options: str) -> int:
    return main(["score", str(source), "--output", str(output), "--url", gateway.url, "--no-progress", *options])


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_every_format_round_trips(
    suffix: str, client_gateway: GatewayProcess, client: SentimentClient, tmp_path: Path
) -> None:
    rows = [{"id": str(index), "text": text, "note": f"n,{index}"} for index, text in enumerate(TRICKY_TEXTS * 4)]
    source, output = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    write_table(source, rows)
    assert score(client_gateway, source, output, "--batch-size", "3") == EXIT_OK
    scored = read_table(output)
    assert [{key: row[key] for key in ("id", "text", "note")} for row in scored] == rows
    assert list(scored[0]) == ["id", "text", "note", *RESULT_COLUMNS]
    expected = client.classify_many([row["text"] for row in rows])
    for row, result in zip(scored, expected, strict=True):
        assert row["label"] == result.label
        assert float(row["score"]) == pytest.approx(result.score, abs=1e-5)
        for label in LABELS:
            assert float(row[f"score_{label}"]) == pytest.approx(result.scores[label], abs=1e-5)
        assert str(row["truncated"]).lower() == "false"
        assert (row["model"], str(row["model_version"])) == (TINY_MODEL_NAME, result.model_version)
    assert not (tmp_path / f"out.failures{suffix}").exists()
    assert not (tmp_path / f"out{suffix}.partial").exists()


def test_one_format_in_another_out(client_gateway: GatewayProcess, tmp_path: Path) -> None:
    rows = [{"text": text, "stars": index} for index, text in enumerate(TRICKY_TEXTS)]
    write_table(tmp_path / "in.jsonl", rows)
    assert score(client_gateway, tmp_path / "in.jsonl", tmp_path / "out.parquet") == EXIT_OK
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("stars").to_pylist() == list(range(len(TRICKY_TEXTS)))  # JSON's integers stay integers
    assert table.schema.field("score").type == pa.float64() and table.schema.field("truncated").type == pa.bool_()


def test_order_is_kept_under_concurrency(
    client_gateway: GatewayProcess, client: SentimentClient, tmp_path: Path
) -> None:
    texts = [f"{'good' if index % 2 else 'bad'} film number {index} " + "word " * (index % 40) for index in range(1500)]
    write_table(tmp_path / "in.csv", [{"text": text} for text in texts])
    options = ["--batch-size", "7", "--concurrency", "8"]
    assert score(client_gateway, tmp_path / "in.csv", tmp_path / "out.csv", *options) == EXIT_OK
    scored = read_table(tmp_path / "out.csv")
    assert [row["text"] for row in scored] == texts
    expected = client.classify_many(texts, concurrency=1)
    assert [row["label"] for row in scored] == [result.label for result in expected]
    assert [float(row["score"]) for row in scored] == pytest.approx([result.score for result in expected], abs=1e-5)


def test_bad_rows_go_to_the_failure_file_and_the_rest_are_scored(
    client_gateway: GatewayProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = ["fine", "", "good", None, "   ", "x" * (MAX_TEXT_CHARS + 1), "great"]
    rows = [{"id": index, "text": text} for index, text in enumerate(texts)]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert score(client_gateway, source, tmp_path / "out.jsonl", "--batch-size", "4") == EXIT_ROWS_FAILED
    assert [row["id"] for row in read_table(tmp_path / "out.jsonl")] == [0, 2, 6]
    failures = read_table(tmp_path / "out.failures.jsonl")
    assert [(row["row"], row["id"], row["error_type"]) for row in failures] == [
        (index, index, "invalid_input") for index in (1, 3, 4, 5)
    ]
    by_row = {row["row"]: row for row in failures}
    assert str(MAX_TEXT_CHARS) in by_row[5]["error_message"] and by_row[5]["error_field"].startswith("texts[")
    assert by_row[3]["request_id"] is None and by_row[5]["request_id"]  # a null never left the client
    summary = capsys.readouterr().err
    assert "scored: 3  failed: 4" in summary and "invalid_input 4" in summary


def test_a_run_killed_midway_resumes_without_duplicates_or_gaps(client_gateway: GatewayProcess, tmp_path: Path) -> None:
    texts = [f"sentence {index}: {'lovely' if index % 3 else 'dreadful'} acting" for index in range(4000)]
    source, output = tmp_path / "in.tsv", tmp_path / "out.tsv"
    write_table(source, [{"text": text, "n": str(index)} for index, text in enumerate(texts)])
    command = [sys.executable, "-m", "sentiment_client", "score", str(source), "--output", str(output)]
    command += ["--url", client_gateway.url, "--batch-size", "10", "--concurrency", "2", "--no-progress"]
    partial = tmp_path / "out.tsv.partial"
    first = subprocess.Popen(command, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    while len(list(partial.glob("chunk-*.arrow"))) < 20 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done_before = len(list(partial.glob("chunk-*.arrow")))
    assert 0 < done_before < 400 and not output.exists()

    without_resume = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert without_resume.returncode == EXIT_USAGE and "--resume" in without_resume.stderr
    resumed = subprocess.run([*command, "--resume"], check=False, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == EXIT_OK, resumed.stderr
    scored = read_table(output)
    assert [row["n"] for row in scored] == [str(index) for index in range(len(texts))]
    assert [row["text"] for row in scored] == texts
    # Chunks finished before the kill were not sent again: only the rest was scored by the second run.
    assert f"scored: {len(texts) - 10 * done_before}" in resumed.stderr
    assert f"done before (resumed): {10 * done_before}" in resumed.stderr
    assert not partial.exists()


def test_a_job_that_cannot_start_says_why(
    client_gateway: GatewayProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_table(tmp_path / "in.csv", [{"sentence": "fine", "label": "1"}])
    assert score(client_gateway, tmp_path / "in.csv", tmp_path / "out.csv") == EXIT_USAGE
    assert "no column 'text'" in capsys.readouterr().err
    assert score(client_gateway, tmp_path / "in.csv", tmp_path / "out.csv", "--column", "sentence") == EXIT_USAGE
    assert "--prefix" in capsys.readouterr().err  # the input's own label column would clash
    options = ["--column", "sentence", "--prefix", "predicted_"]
    assert score(client_gateway, tmp_path / "in.csv", tmp_path / "out.csv", *options) == EXIT_OK
    assert read_table(tmp_path / "out.csv")[0]["label"] == "1"
    assert score(client_gateway, tmp_path / "in.csv", tmp_path / "out.txt", *options) == EXIT_USAGE
    assert "cannot tell the format" in capsys.readouterr().err


# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a child of the big pytest process
# would report pytest's own peak. VmHWM belongs to the memory of the program now running.
PEAK_RSS = (
    "import sys\n"
    "from sentiment_client.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "status = open('/proc/self/status').read().splitlines()\n"
    "print(next(line for line in status if line.startswith('VmHWM:')), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def peak_rss_mib(gateway: GatewayProcess, source: Path, output: Path) -> float:
    command = [sys.executable, "-c", PEAK_RSS, "score", str(source), "--output", str(output), "--url", gateway.url]
    command += ["--no-progress", "--concurrency", "4"]
    finished = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert finished.returncode == EXIT_OK, finished.stderr
    name, kib, unit = finished.stderr.strip().splitlines()[-1].split()
    assert (name, unit) == ("VmHWM:", "kB")
    return int(kib) / 1024


def test_memory_stays_flat_when_the_file_grows_threefold(client_gateway: GatewayProcess, tmp_path: Path) -> None:
    """Short texts (cheap to score) beside a 1 kB column: 40,000 rows are a 40 MB file, 120,000 rows 120 MB.
    The CLI's RSS settles after its first ~40 MB (allocator and reader buffers: 114 MiB at 10 MB, 153 at 40 MB,
    157 at 120 MB, measured offline), so both sizes are past that; the extra 80 MB would show in full, several
    times over as Python objects, in a tool that held the file."""
    payload = "p" * 1000
    peaks = {}
    for rows in (40_000, 120_000):
        source = tmp_path / f"in-{rows}.csv"
        with source.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["text", "payload"])
            writer.writerows([f"row {index} is fine", payload] for index in range(rows))
        peaks[rows] = peak_rss_mib(client_gateway, source, tmp_path / f"out-{rows}.csv")
        source.unlink()
    with (tmp_path / "out-120000.csv").open(newline="", encoding="utf-8") as file:
        assert sum(1 for _ in csv.reader(file)) == 120_001
    assert peaks[120_000] - peaks[40_000] < 12, f"peak RSS by rows: {peaks} (MiB)"


def test_a_refused_key_stops_the_run(
    keyed_gateway: GatewayProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_table(tmp_path / "in.csv", [{"text": text} for text in TRICKY_TEXTS])
    assert score(keyed_gateway, tmp_path / "in.csv", tmp_path / "out.csv", "--api-key", "wrong") == EXIT_STOPPED
    assert "unauthorized" in capsys.readouterr().err and not (tmp_path / "out.csv").exists()
    assert score(keyed_gateway, tmp_path / "in.csv", tmp_path / "out.csv", "--api-key", API_KEY) == EXIT_OK
    assert [row["text"] for row in read_table(tmp_path / "out.csv")] == TRICKY_TEXTS
