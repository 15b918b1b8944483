"""Command line: ``python -m export --model ID_OR_PATH --name NAME --repository DIR``."""

import argparse
import logging
import sys
from pathlib import Path

from export.errors import ExportError
from export.parity import DEFAULT_TOLERANCE
from export.reuse import compare_with_existing
from export.source import is_local, require_hub_or_cache

DEFAULT_MODEL = "distilbert-base-uncased-finetuned-sst-2-english"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Export a Hugging Face sequence classifier to ONNX and write a Triton model repository entry.",
    )
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help="hub id or local checkpoint folder (default: %(default)s)"
    )
    parser.add_argument("--name", default="sentiment", help="Triton model name (default: %(default)s)")
    parser.add_argument("--repository", type=Path, default=Path("model_repository"), help="model repository folder")
    parser.add_argument("--version", type=int, default=1, help="model version folder (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing version and its configs")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep an existing version exported from the same checkpoint (hub id, or a local folder with the same "
        "files), precision and reference set; export over it otherwise (what `make run` does)",
    )
    parser.add_argument(
        "--tolerance", type=float, default=DEFAULT_TOLERANCE, help="largest allowed |logit difference| ONNX vs PyTorch"
    )
    parser.add_argument(
        "--quantize",
        choices=["int8"],
        help="also quantize dynamically to int8 (ONNX Runtime) and serve that: ~3x faster on CPU; "
        "use its own --name, e.g. sentiment-int8",
    )
    parser.add_argument("--parity-data", type=Path, help="labelled sentence<TAB>label file for the int8-vs-fp32 report")
    parser.add_argument(
        "--min-agreement", type=float, default=0.97, help="least int8/fp32 label agreement accepted (default 0.97)"
    )
    parser.add_argument(
        "--reference-data",
        type=Path,
        help="sentence<TAB>label file of typical traffic; the gateway's drift gauges compare live traffic to it",
    )
    parser.add_argument(
        "--calibration-data",
        type=Path,
        help="sentence<TAB>label file: fits v2's temperature and conformal prediction sets on separate splits "
        "and prints the expected calibration error before and after on a third",
    )
    parser.add_argument(
        "--languages",
        default="en",
        help="comma-separated ISO 639-1 codes the checkpoint was trained on; v2 flags (or refuses) other languages "
        "(default: %(default)s)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Our steps at INFO; libraries (huggingface_hub, httpx, urllib3) only when they warn: their INFO is noise here.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logger = logging.getLogger("export")
    logger.setLevel(logging.INFO)
    replace_version = False
    try:
        if args.reuse and not args.force:
            version_dir = args.repository / args.name / str(args.version)
            verdict = compare_with_existing(
                version_dir, args.model, args.quantize or "fp32", args.reference_data, args.calibration_data
            )
            if verdict.reason:
                logger.info("%s", verdict.reason)
            if verdict.reuse:
                return 0
            replace_version = True
        if not is_local(args.model):
            require_hub_or_cache(args.model)
        # Imported late so that --help, a reused export and an unreachable hub answer without loading torch.
        from export.pipeline import ExportRequest, run_export

        run_export(
            ExportRequest(
                model=args.model,
                name=args.name,
                repository=args.repository,
                version=args.version,
                force=args.force,
                replace_version=replace_version,
                tolerance=args.tolerance,
                quantize=args.quantize,
                parity_data=args.parity_data,
                min_agreement=args.min_agreement,
                reference_data=args.reference_data,
                calibration_data=args.calibration_data,
                supported_languages=tuple(code.strip() for code in args.languages.split(",") if code.strip()),
            )
        )
    except ExportError as error:
        logger.error("export failed: %s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
