"""``python -m localtriton start|stop``: the local Triton that ``make triton`` and ``make run`` manage."""

import argparse
import sys
from pathlib import Path

from localtriton.server import TritonOptions, TritonServer, TritonStartError, stop_pid


def pid_file(work_dir: Path) -> Path:
    return work_dir / "triton.pid"


def start(args: argparse.Namespace) -> int:
    options = TritonOptions(
        repository=args.repository,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        metrics_port=args.metrics_port,
        address=args.address,
        model_config_name=args.model_config_name,
        work_dir=args.work_dir,
    )
    if pid_file(args.work_dir).exists():
        print(f"Triton seems to be running already ({pid_file(args.work_dir)}); run `make stop` first", file=sys.stderr)
        return 1
    try:
        server = TritonServer(options).start(ready_timeout_s=args.timeout, detached=True)
    except TritonStartError as error:
        print(error, file=sys.stderr)
        return 1
    pid_file(args.work_dir).write_text(str(server.process.pid))
    print(f"Triton ready on http://127.0.0.1:{args.http_port} (pid {server.process.pid}, log {options.log_file})")
    return 0


def stop(args: argparse.Namespace) -> int:
    path = pid_file(args.work_dir)
    if not path.exists():
        print("Triton is not running (no pid file)")
        return 0
    stop_pid(int(path.read_text()), timeout_s=args.timeout)
    path.unlink()
    print("Triton stopped")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m localtriton", description=__doc__)
    parser.add_argument("--work-dir", type=Path, default=Path("run"), help="pid file, log and backend folder")
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="start tritonserver and wait until it is ready")
    start_parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    start_parser.add_argument("--http-port", type=int, default=8000)
    start_parser.add_argument("--grpc-port", type=int, default=8001)
    start_parser.add_argument("--metrics-port", type=int, default=8002)
    start_parser.add_argument(
        "--address", default="127.0.0.1", help="address of all three ports (default: %(default)s, this machine only)"
    )
    start_parser.add_argument(
        "--model-config-name",
        default="cpu",
        help="serve configs/NAME.pbtxt of each model: cpu (ragged batches) or cpu-strict (one shape per batch)",
    )
    start_parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for readiness")
    start_parser.set_defaults(handler=start)
    stop_parser = commands.add_parser("stop", help="stop the tritonserver started by `start`")
    stop_parser.add_argument("--timeout", type=float, default=15)
    stop_parser.set_defaults(handler=stop)
    args = parser.parse_args()
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
