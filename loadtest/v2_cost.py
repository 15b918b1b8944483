"""What v2 costs beside v1, in texts/s through a real Triton and gateway (a measured run, not a bench cell).

    python -m loadtest.v2_cost --repository model_repository --name sentiment-sst2 [--seconds 20]

Starts a local Triton (CPU config) and a measured gateway (cache off) on free ports, then for each mode
sends batch requests (``MODES`` says how many texts each), ``--concurrency`` at a time, for ``--seconds``:
v1, v2 (sentences, calibration, language) and v2 with ``explain``. Two corpora: SST-2 dev sentences
(one sentence per text: v2's sentence row is the text's own row) and texts of three consecutive dev
sentences (four rows per text). Same machine, same servers, one mode after the other.
"""

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from localtriton.gateway import gateway_settings, start_gateway
from localtriton.server import start_on_free_ports

from contract.labelled_data import load_tsv

# Path, options, and texts per request: explain makes a row per word, so its requests carry one text (20 to 100
# rows), which finish within the gateway's 10 s deadline while 4 are in flight on 2 cores.
MODES = {
    "v1": ("/v1/sentiment/batch", {}, 32),
    "v2": ("/v2/sentiment/batch", {}, 32),
    "v2 explain": ("/v2/sentiment/batch", {"explain": True}, 1),
}


async def measure(
    url: str, path: str, options: dict, batch_size: int, texts: list[str], args: argparse.Namespace
) -> dict:
    """Texts answered per second over ``args.seconds``, after one warm-up request."""
    batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        (await client.post(path, json={"texts": batches[0], **options})).raise_for_status()
        done, position = 0, 0
        failed: Counter[int] = Counter()
        deadline = time.perf_counter() + args.seconds
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal done, position
            while time.perf_counter() < deadline:
                batch = batches[position % len(batches)]
                position += 1
                response = await client.post(path, json={"texts": batch, **options})
                if response.status_code == 200:
                    done += len(batch)
                else:
                    failed[response.status_code] += 1

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    return {"texts": done, "failed_requests": dict(failed), "seconds": elapsed, "texts_per_s": done / elapsed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.v2_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--name", default="sentiment-sst2")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sst2/dev.tsv"))
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gateway worker processes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    sentences = [example.text for example in load_tsv(args.data)]
    corpora = {
        "1 sentence": sentences,
        "3 sentences": [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences) - 2, 3)],
    }
    report = []
    with tempfile.TemporaryDirectory(prefix="v2-cost-") as work:
        triton = start_on_free_ports(args.repository, Path(work) / "triton")
        try:
            settings = gateway_settings(
                f"127.0.0.1:{triton.options.http_port}",
                args.repository,
                args.name,
                workers=args.workers,
                # Three dev sentences reach 97 words: explain them all rather than measure refusals.
                GATEWAY_EXPLAIN_MAX_WORDS="128",
            )
            gateway = start_gateway(settings, Path(work) / "gateway.log")
            try:
                for corpus, texts in corpora.items():
                    for mode, (path, options, batch_size) in MODES.items():
                        figures = asyncio.run(measure(gateway.url, path, options, batch_size, texts, args))
                        report.append({"corpus": corpus, "mode": mode, **figures})
                        print(
                            f"{corpus:12} {mode:11} {figures['texts_per_s']:7.1f} texts/s "
                            f"({figures['texts']} texts in {figures['seconds']:.1f} s, "
                            f"requests not answered 200, by status: {figures['failed_requests'] or 'none'})",
                            flush=True,
                        )
            finally:
                gateway.stop()
        finally:
            triton.stop()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
