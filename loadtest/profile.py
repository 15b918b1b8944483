"""``python -m loadtest.profile``: where a gateway worker spends its CPU under load, measured with py-spy.

Starts Triton and a one-worker gateway on free ports of 127.0.0.1 (the benchmark's own code and tiny
model, so inference is nearly free and the gateway's own cost shows), drives ``POST /v1/sentiment``
closed-loop, samples the worker with ``py-spy`` (only while it holds the GIL, so time spent waiting
is not counted as work) and prints the gateway's CPU per request and the functions that took most of
the samples, by their own time and with what they call. Stops by itself.
"""

import argparse
import asyncio
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
from localtriton.server import start_on_free_ports

from contract.metadata import ServingMetadata
from loadtest.bench.loadgen import LoadSettings, run_closed_loop
from loadtest.bench.models import SHARED_DIR, prepare_model
from loadtest.bench.servers import start_gateway
from loadtest.bench.stats import WindowSample
from loadtest.bench.systems import JsonHttpSystem, process_tree_cpu
from loadtest.corpus import load_corpus

SAMPLES_PER_S = 250
EVERYWHERE = 0.95
SST2_DEV = SHARED_DIR / "data" / "sst2" / "dev.tsv"


def top_functions(raw_profile: Path, count: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(own time, with callees) shares of the busiest functions in a py-spy ``--format raw`` file.

    Each line of that file is ``frame;frame;...;leaf count``; a function appearing twice in one stack
    is counted once in its inclusive share.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw_profile.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        frames = stack.split(";")
        total += int(samples)
        own[frames[-1]] += int(samples)
        for frame in set(frames):
            inclusive[frame] += int(samples)
    if not total:
        return [], []

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        # Frames in (nearly) every sample are the server's own frame stack (uvicorn.run, the event loop): no news.
        busiest = [(frame, samples / total) for frame, samples in counter.most_common()]
        return [(frame, share) for frame, share in busiest if share < EVERYWHERE][:count]

    return shares(own), shares(inclusive)


def worker_pid(gateway_pid: int) -> int:
    """The uvicorn worker doing the work: the gateway process itself with one worker, else its first child."""
    children = [child for child in psutil.Process(gateway_pid).children() if child.name().startswith("python")]
    return children[0].pid if children else gateway_pid


async def measure(url: str, texts: list[str], labels: list[str], settings: LoadSettings, pid: int) -> WindowSample:
    system = JsonHttpSystem("stack", url, texts, labels, settings.concurrency, [pid])
    await system.open()
    try:
        return await run_closed_loop(system.send, len(texts), settings, process_tree_cpu([pid]))
    finally:
        await system.close()


def profile_gateway(
    repository: Path, model_name: str, texts: list[str], settings: LoadSettings, out: Path
) -> tuple[WindowSample, Path]:
    """Serve ``model_name`` from ``repository`` (Triton + one gateway worker), load it and sample the worker."""
    labels = ServingMetadata.read(repository / model_name / "1").labels
    out.mkdir(parents=True, exist_ok=True)
    raw = out / "gateway-worker.pyspy.txt"
    triton = start_on_free_ports(repository, out / "triton")
    try:
        gateway = start_gateway(f"127.0.0.1:{triton.options.http_port}", repository, model_name, 1, out)
        try:
            py_spy = Path(sys.executable).with_name("py-spy")
            sampling = ["--rate", str(SAMPLES_PER_S), "--duration", str(int(settings.warmup_s + settings.duration_s))]
            target = ["--output", str(raw), "--pid", str(worker_pid(gateway.pid))]
            sampler = subprocess.Popen(
                [py_spy, "record", "--gil", "--format", "raw", *sampling, *target],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            sample = asyncio.run(measure(gateway.url + "/v1/sentiment", texts, labels, settings, gateway.pid))
            sampler.wait(timeout=60)
        finally:
            gateway.stop()
    finally:
        triton.stop()
    return sample, raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.profile", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0, help="measured (and sampled) seconds")
    parser.add_argument("--data", type=Path, default=SST2_DEV if SST2_DEV.exists() else None, help="sentence<TAB>label")
    parser.add_argument("--build-dir", type=Path, default=Path("build/bench"), help="the benchmark's models")
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    parser.add_argument("--out", type=Path, default=Path("results") / time.strftime("profile-%Y%m%d-%H%M%S"))
    args = parser.parse_args(argv)

    model = prepare_model("tiny", args.build_dir)
    texts = [item.text for item in load_corpus(args.data)]
    settings = LoadSettings(concurrency=args.concurrency, warmup_s=2.0, duration_s=args.duration)
    sample, raw = profile_gateway(model.repository, model.name, texts, settings, args.out)

    requests = len(sample.latencies_s)
    print(
        f"{requests / args.duration:.0f} requests/s at concurrency {args.concurrency}, {sample.errors} errors; "
        f"gateway CPU {1000 * sample.server_cpu_s / max(requests, 1):.3f} ms per request "
        f"({sample.server_cpu_s / args.duration:.2f} cores); profile in {raw}"
    )
    own, inclusive = top_functions(raw, args.top)
    for title, rows in (("own time", own), ("with callees", inclusive)):
        print(f"\n| share of samples ({title}) | function |\n| ---: | --- |")
        for frame, share in rows:
            print(f"| {100 * share:.1f}% | `{frame}` |")
    return 0 if requests and not sample.errors else 1


if __name__ == "__main__":
    sys.exit(main())
