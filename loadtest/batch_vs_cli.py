"""The CLI's throughput next to the load generator's on ``POST /v1/sentiment/batch``, back to back.

    .venv/bin/python -m loadtest.batch_vs_cli --rows 20000 --batch-size 64 --concurrency 4

Starts Triton and one gateway through the local-server harness (free ports of 127.0.0.1, quota and answer
cache off, as ``make bench``) on an export of ``--model``, then alternates: the benchmark's closed-loop load
generator sending pre-encoded batch bodies of ``--batch-size`` texts at ``--concurrency``; and
``sentiment-client score`` on the same rows with the same batch size and concurrency, as a subprocess, timed
by its own summary. Each phase records the CPU that other work on the machine took meanwhile (busy time from
/proc/stat less the servers', the generator's or the CLI's own), as ``make bench`` does: on a shared machine
it says which figures to trust. The ratio is the CLI's texts/s over the generator's. It lives here, not in
``client/``: the client package knows nothing of the servers, and this needs the load generator and the harness.
"""

import argparse
import asyncio
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from localtriton.server import start_on_free_ports

from loadtest.bench.loadgen import LoadSettings, machine_busy_cpu, run_closed_loop
from loadtest.bench.models import REPO_ROOT, SHARED_DIR
from loadtest.bench.servers import start_gateway
from loadtest.bench.systems import process_tree_cpu

CpuClock = Callable[[], float]


def read_sentences(path: Path, rows: int | None) -> list[str]:
    with path.open(newline="", encoding="utf-8") as file:
        sentences = [row["sentence"] for row in csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return sentences[:rows] if rows else sentences


async def load_generator(
    url: str, texts: list[str], batch_size: int, concurrency: int, duration_s: float, server_cpu: CpuClock
) -> dict:
    bodies = [
        json.dumps({"texts": texts[start : start + batch_size]}).encode()
        for start in range(0, len(texts) - batch_size + 1, batch_size)
    ]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"Content-Type": "application/json"}) as session:

        async def send(index: int) -> int:
            async with session.post(url + "/v1/sentiment/batch", data=bodies[index]) as response:
                answer = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}: {answer[:200]!r}")
            return len(json.loads(answer)["results"])

        settings = LoadSettings(concurrency=concurrency, warmup_s=2.0, duration_s=duration_s)
        sample = await run_closed_loop(send, len(bodies), settings, server_cpu=server_cpu)
    other_s = sample.machine_cpu_s - sample.client_cpu_s - (sample.server_cpu_s or 0.0)
    return {
        "texts_per_s": sample.texts / sample.window_s,
        "errors": sample.errors,
        "seconds": sample.window_s,
        "client_cpu": sample.client_cpu_s / sample.window_s,
        "server_cpu": (sample.server_cpu_s or 0.0) / sample.window_s,
        "other_cpu": max(0.0, other_s) / sample.window_s,
    }


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(
    url: str, data: Path, work_dir: Path, batch_size: int, concurrency: int, server_cpu: CpuClock, progress: bool
) -> dict:
    output, summary = work_dir / "scored.tsv", work_dir / "summary.json"
    shutil.rmtree(work_dir / "scored.tsv.partial", ignore_errors=True)  # left by an interrupted benchmark
    command = [sys.executable, "-m", "sentiment_client", "score", str(data), "--column", "sentence"]
    command += ["--prefix", "predicted_", "--output", str(output), "--url", url]
    command += [] if progress else ["--no-progress"]
    command += ["--batch-size", str(batch_size), "--concurrency", str(concurrency), "--summary-json", str(summary)]
    clocks = [machine_busy_cpu, server_cpu, children_cpu_s]
    at_start = [clock() for clock in clocks]
    started = time.perf_counter()
    finished = subprocess.run(command, check=False)
    if finished.returncode not in (0, 1):  # 1: some rows failed, which the figures report
        raise RuntimeError(f"the CLI exited with {finished.returncode}")
    wall_s = time.perf_counter() - started
    machine_s, server_s, cli_s = (clock() - begin for clock, begin in zip(clocks, at_start, strict=True))
    figures = json.loads(summary.read_text())
    output.unlink()
    return {
        "texts_per_s": figures["texts_per_s"],
        "scored": figures["scored"],
        "failed": figures["failed"],
        "seconds": figures["elapsed_s"],
        "wall_s": wall_s,
        "client_cpu": cli_s / wall_s,
        "server_cpu": server_s / wall_s,
        "other_cpu": max(0.0, machine_s - server_s - cli_s) / wall_s,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DIR / "data" / "sst2" / "train.tsv")
    parser.add_argument("--rows", type=int, help="first N sentences (default: all)")
    parser.add_argument("--model", type=Path, default=SHARED_DIR / "models" / "sentiment-distilbert-sst2-minilm")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds of each generator cell")
    parser.add_argument("--gateway-workers", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "build" / "client-bench")
    parser.add_argument("--out", type=Path, help="write the rounds here as JSON")
    parser.add_argument("--show-progress", action="store_true", help="let the CLI draw its progress bar")
    parser.add_argument(
        "--sweep",
        help="first run the generator alone at these batchxconcurrency cells (e.g. 64x4,64x16,256x8) for "
        "--duration each, then compare at the best one instead of --batch-size and --concurrency",
    )
    return parser


def compare(arguments: argparse.Namespace, url: str, texts: list[str], data: Path, server_cpu: CpuClock) -> dict:
    """The sweep (if asked), then rounds of generator and CLI back to back at the same settings."""
    sweep = {}
    for cell in arguments.sweep.split(",") if arguments.sweep else []:
        batch_size, concurrency = (int(part) for part in cell.split("x"))
        sweep[cell] = asyncio.run(load_generator(url, texts, batch_size, concurrency, arguments.duration, server_cpu))
        print(json.dumps({"sweep": cell, **sweep[cell]}), flush=True)
    if sweep:
        best = max(sweep, key=lambda cell: sweep[cell]["texts_per_s"])
        arguments.batch_size, arguments.concurrency = (int(part) for part in best.split("x"))
    batch_size, concurrency = arguments.batch_size, arguments.concurrency
    rounds = []
    for number in range(arguments.rounds):
        load_before = os.getloadavg()[0]
        generator = asyncio.run(load_generator(url, texts, batch_size, concurrency, arguments.duration, server_cpu))
        cli = run_cli(url, data, arguments.work_dir, batch_size, concurrency, server_cpu, arguments.show_progress)
        result = {
            "round": number + 1,
            "load_average_1m": load_before,
            "load_average_after": os.getloadavg()[0],
            "generator": generator,
            "cli": cli,
            "ratio": cli["texts_per_s"] / generator["texts_per_s"],
        }
        rounds.append(result)
        print(json.dumps(result), flush=True)
    return {
        "rows": len(texts),
        "batch_size": batch_size,
        "concurrency": concurrency,
        "gateway_workers": arguments.gateway_workers,
        "sweep": sweep,
        "rounds": rounds,
    }


def main() -> None:
    arguments = build_parser().parse_args()
    work_dir = arguments.work_dir
    repository = work_dir / "repository"
    if not (repository / "sentiment" / "1" / "model.onnx").exists():
        export = [sys.executable, "-m", "export", "--model", str(arguments.model), "--name", "sentiment"]
        subprocess.run([*export, "--repository", str(repository)], check=True, cwd=REPO_ROOT)
    texts = read_sentences(arguments.data, arguments.rows)
    data = work_dir / "input.tsv"
    with data.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter="\t")
        writer.writerow(["sentence"])
        writer.writerows([text] for text in texts)

    triton = start_on_free_ports(repository, work_dir / "triton")
    try:
        gateway = start_gateway(
            f"127.0.0.1:{triton.options.http_port}", repository, "sentiment", arguments.gateway_workers, work_dir
        )
        try:
            server_cpu = process_tree_cpu([triton.process.pid, gateway.pid])
            report = compare(arguments, gateway.url, texts, data, server_cpu)
        finally:
            gateway.stop()
    finally:
        triton.stop()
    if arguments.out:
        arguments.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
