"""``python -m loadtest.bench``: one command that builds the models, runs every cell and writes the report."""

import argparse
import asyncio
import logging
import shlex
import sys
import time
from pathlib import Path

from loadtest.bench.models import MODEL_KEYS, SHARED_DIR, export_supports_int8
from loadtest.bench.report import machine_info, write_report
from loadtest.bench.runner import SYSTEMS, BenchSettings, run_model
from loadtest.corpus import load_corpus

DEFAULT_DATA = SHARED_DIR / "data" / "sst2" / "dev.tsv"


def _csv(kind: type, allowed: tuple | None = None):
    def parse(value: str) -> tuple:
        items = tuple(kind(item.strip()) for item in value.split(",") if item.strip())
        if not items or (allowed and any(item not in allowed for item in items)):
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {allowed or kind.__name__}")
        return items

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench", description=__doc__)
    parser.add_argument(
        "--models",
        type=_csv(str, MODEL_KEYS),
        default=("tiny", "shape-true"),
        help="comma-separated; shape-true-int8 is added by --int8 auto when the export supports it",
    )
    parser.add_argument(
        "--int8",
        choices=("auto", "yes", "no"),
        default="auto",
        help="also benchmark shape-true-int8 (auto: when `python -m export` has --quantize)",
    )
    parser.add_argument("--systems", type=_csv(str, SYSTEMS), default=SYSTEMS)
    # 64: issue 10's strict-shape batching target is read there.
    parser.add_argument("--concurrency", type=_csv(int), default=(1, 8, 32, 64, 128))
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each cell")
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
        help="sentence<TAB>label file whose texts are sent (default: SST-2 dev, else built-in)",
    )
    parser.add_argument(
        "--gateway-workers",
        type=int,
        default=1,
        help="GATEWAY_WORKERS for the full stack (1: the 2 cores are shared with Triton)",
    )
    parser.add_argument("--build-dir", type=Path, default=Path("build/bench"), help="checkpoints and exports")
    parser.add_argument("--rebuild", action="store_true", help="rebuild checkpoints and exports")
    parser.add_argument(
        "--cache-repeat-rate",
        type=float,
        default=0.3,
        help="share of requests repeating an earlier text in the stack-cached system's stream (default 0.3)",
    )
    parser.add_argument("--out", type=Path, default=None, help="results folder (default results/bench-<timestamp>)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    log = logging.getLogger("loadtest.bench")
    models = list(args.models)
    wants_int8 = args.int8 == "yes" or (args.int8 == "auto" and "shape-true" in models and export_supports_int8())
    if wants_int8 and "shape-true-int8" not in models:
        models.append("shape-true-int8")
    out = args.out or Path("results") / time.strftime("bench-%Y%m%d-%H%M%S")
    corpus = load_corpus(args.data)
    texts = [example.text for example in corpus]
    settings = BenchSettings(
        models=tuple(models),
        systems=args.systems,
        concurrency=tuple(sorted(args.concurrency)),
        warmup_s=args.warmup,
        duration_s=args.duration,
        build_dir=args.build_dir,
        work_dir=out / "logs",
        gateway_workers=args.gateway_workers,
        rebuild=args.rebuild,
        cache_repeat_rate=args.cache_repeat_rate,
    )
    info = {
        "machine": machine_info(),
        "settings": {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(settings).items()},
        "corpus": {"source": str(args.data) if args.data else "built-in", "texts": len(texts)},
    }
    started = time.monotonic()
    runs = [asyncio.run(run_model(key, texts, settings)) for key in models]
    info["wall_time_s"] = round(time.monotonic() - started, 1)
    info["machine"]["load_average_after"] = machine_info()["load_average_1_5_15"]
    command = shlex.join(["python", "-m", "loadtest.bench", *(argv if argv is not None else sys.argv[1:])])
    for path in write_report(runs, info, command, out):
        log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
