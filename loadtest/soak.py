"""Soak: hold about 70% of the gateway's measured capacity for a long while; report errors, memory and p99.

    python -m loadtest.soak --duration 600 --rate-fraction 0.7 --repository model_repository --model sentiment

Starts its own tritonserver and gateway on free localhost ports (or targets ``--url`` with ``--gateway-pid``),
measures capacity with a short closed loop, then sends requests open-loop at ``rate-fraction`` of it, so a
slowing server shows as growing latency instead of a politely slower client. Every minute it records the
p99, the error count and the gateway's resident memory (the whole process tree: supervisor and workers).
Writes ``soak-<time>.json`` and ``.md`` into ``--out``. Opt-in (``make soak``), never in CI.

Pass criteria (issue 6): zero errors, gateway RSS growth under 10% from the first minute to the last,
p99 of the last minute within 1.5x of the first. The exit code is 1 when one fails.
"""

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from localtriton.server import start_on_free_ports

from loadtest.bench.servers import start_gateway
from loadtest.corpus import BUILTIN_CORPUS

CAPACITY_PROBE_S = 15.0
MINUTE_S = 60.0
MAX_RSS_GROWTH = 0.10
MAX_P99_DRIFT = 1.5


@dataclass
class Minute:
    index: int
    requests: int = 0
    errors: int = 0
    latencies_s: list[float] = field(default_factory=list)
    rss_mib: float = 0.0

    def p99_ms(self) -> float:
        ordered = sorted(self.latencies_s)
        return round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 1) if ordered else 0.0

    def summary(self) -> dict:
        return {
            "minute": self.index,
            "requests": self.requests,
            "errors": self.errors,
            "p50_ms": round(sorted(self.latencies_s)[len(self.latencies_s) // 2] * 1000, 1)
            if self.latencies_s
            else 0.0,
            "p99_ms": self.p99_ms(),
            "rss_mib": round(self.rss_mib, 1),
        }


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn's supervisor and workers)."""
    process = psutil.Process(pid)
    processes = [process, *process.children(recursive=True)]
    total = 0
    for member in processes:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


async def measure_capacity(client: httpx.AsyncClient, concurrency: int, duration_s: float) -> float:
    """Requests per second a closed loop of ``concurrency`` clients gets answered (errors excluded)."""
    answered = 0
    stop_at = time.monotonic() + duration_s
    texts = [item.text for item in BUILTIN_CORPUS]

    async def loop(index: int) -> None:
        nonlocal answered
        while time.monotonic() < stop_at:
            response = await client.post("/v1/sentiment", json={"text": texts[(index + answered) % len(texts)]})
            answered += response.status_code == 200

    await asyncio.gather(*(loop(index) for index in range(concurrency)))
    return answered / duration_s


async def hold(client: httpx.AsyncClient, rate: float, duration_s: float, gateway_pid: int) -> list[Minute]:
    """Open loop at ``rate`` requests/s; one ``Minute`` of figures per minute (the last may be shorter)."""
    texts = [item.text for item in BUILTIN_CORPUS]
    minutes = [Minute(0)]
    errors: dict[str, int] = {}
    started = time.monotonic()
    in_flight: set[asyncio.Task] = set()

    async def one(index: int) -> None:
        sent = time.monotonic()
        minute = minutes[-1]
        try:
            response = await client.post("/v1/sentiment", json={"text": f"{texts[index % len(texts)]} #{index}"})
            ok = response.status_code == 200
            kind = str(response.status_code)
        except httpx.HTTPError as error:
            ok, kind = False, type(error).__name__
        minute.requests += 1
        if ok:
            minute.latencies_s.append(time.monotonic() - sent)
        else:
            minute.errors += 1
            errors[kind] = errors.get(kind, 0) + 1

    index = 0
    while (now := time.monotonic()) - started < duration_s:
        if now - started >= MINUTE_S * len(minutes):
            minutes[-1].rss_mib = tree_rss_mib(gateway_pid)
            print(json.dumps(minutes[-1].summary()), flush=True)
            minutes.append(Minute(len(minutes)))
        task = asyncio.create_task(one(index))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        index += 1
        await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
    await asyncio.gather(*in_flight)
    minutes[-1].rss_mib = tree_rss_mib(gateway_pid)
    print(json.dumps(minutes[-1].summary()), flush=True)
    if errors:
        print(f"errors by kind: {errors}", flush=True)
    return minutes


def verdict(minutes: list[Minute]) -> dict:
    full = [minute for minute in minutes if minute.latencies_s] or minutes
    first, last = full[0], full[-1]
    errors = sum(minute.errors for minute in minutes)
    rss_growth = (last.rss_mib - first.rss_mib) / first.rss_mib if first.rss_mib else 0.0
    p99_drift = last.p99_ms() / first.p99_ms() if first.p99_ms() else 0.0
    return {
        "requests": sum(minute.requests for minute in minutes),
        "errors": errors,
        "rss_first_mib": round(first.rss_mib, 1),
        "rss_last_mib": round(last.rss_mib, 1),
        "rss_growth": round(rss_growth, 4),
        "p99_first_ms": first.p99_ms(),
        "p99_last_ms": last.p99_ms(),
        "p99_max_ms": max(minute.p99_ms() for minute in full),
        "p99_drift": round(p99_drift, 3),
        "passed": errors == 0 and rss_growth < MAX_RSS_GROWTH and p99_drift <= MAX_P99_DRIFT,
    }


def markdown(report: dict) -> str:
    result = report["verdict"]
    lines = [
        f"# Soak {report['started']}",
        "",
        f"Machine: {report['machine']}. Model `{report['model']}`, {report['workers']} gateway worker(s).",
        f"Capacity {report['capacity_rps']:.1f} req/s (closed loop, concurrency {report['probe_concurrency']}, "
        f"{CAPACITY_PROBE_S:.0f} s); held {report['rate_rps']:.1f} req/s "
        f"({report['rate_fraction']:.0%}) for {report['duration_s']:.0f} s.",
        "",
        "| minute | requests | errors | p50 ms | p99 ms | gateway RSS MiB |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {m['minute']} | {m['requests']} | {m['errors']} | {m['p50_ms']} | {m['p99_ms']} | {m['rss_mib']} |"
            for m in report["minutes"]
        ),
        "",
        f"Errors {result['errors']} of {result['requests']}; RSS {result['rss_first_mib']} -> "
        f"{result['rss_last_mib']} MiB ({result['rss_growth']:+.1%}); p99 first {result['p99_first_ms']} ms, "
        f"last {result['p99_last_ms']} ms, worst minute {result['p99_max_ms']} ms. "
        f"**{'PASSED' if result['passed'] else 'FAILED'}** (zero errors, RSS growth < {MAX_RSS_GROWTH:.0%}, "
        f"last-minute p99 within {MAX_P99_DRIFT}x of the first).",
        "",
    ]
    return "\n".join(lines)


async def soak(args: argparse.Namespace, url: str, gateway_pid: int) -> dict:
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=128)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        capacity = await measure_capacity(client, args.probe_concurrency, CAPACITY_PROBE_S)
        if capacity <= 0:
            raise RuntimeError("the capacity probe got no answer")
        rate = capacity * args.rate_fraction
        print(f"capacity {capacity:.1f} req/s; holding {rate:.1f} req/s for {args.duration:.0f} s", flush=True)
        minutes = await hold(client, rate, args.duration, gateway_pid)
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": f"{platform.node()}: {psutil.cpu_count()} cores (shared), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}",
        "model": args.model,
        "workers": args.workers,
        "capacity_rps": capacity,
        "probe_concurrency": args.probe_concurrency,
        "rate_fraction": args.rate_fraction,
        "rate_rps": rate,
        "duration_s": args.duration,
        "minutes": [minute.summary() for minute in minutes],
        "verdict": verdict(minutes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds to hold the load (default 600)")
    parser.add_argument("--rate-fraction", type=float, default=0.7, help="share of measured capacity to hold")
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--model", default="sentiment")
    parser.add_argument("--workers", type=int, default=2, help="gateway workers when the soak starts its own")
    parser.add_argument("--probe-concurrency", type=int, default=16, help="closed-loop clients of the capacity probe")
    parser.add_argument("--url", help="soak a running gateway instead (needs --gateway-pid for its memory)")
    parser.add_argument("--gateway-pid", type=int, help="pid of the running gateway's main process")
    parser.add_argument("--out", type=Path, default=Path("results"))
    args = parser.parse_args(argv)
    if args.url and not args.gateway_pid:
        parser.error("--url needs --gateway-pid, to follow the gateway's memory")

    triton = gateway = None
    try:
        if args.url:
            url, pid = args.url, args.gateway_pid
        else:
            work_dir = Path(tempfile.mkdtemp(prefix="soak-"))
            triton = start_on_free_ports(args.repository, work_dir, ready_timeout_s=300)
            gateway = start_gateway(
                f"127.0.0.1:{triton.options.http_port}", args.repository, args.model, args.workers, work_dir
            )
            url, pid = gateway.url, gateway.pid
        report = asyncio.run(soak(args, url, pid))
    finally:
        if gateway is not None:
            gateway.stop(timeout_s=30)
        if triton is not None:
            triton.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"soak-{time.strftime('%Y%m%d-%H%M%S')}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2))
    stem.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {stem}.json and {stem}.md")
    return 0 if report["verdict"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
