"""``python -m localtriton triton|gateway|stop``: the local servers that ``make run`` and ``make stop`` manage.

Each server started here is detached and leaves a pid file in ``--work-dir``; ``stop`` stops the gateway,
then Triton, and removes them. A pid file whose process has gone is stale and is replaced.
"""

import argparse
import sys
from pathlib import Path

from localtriton.gateway import READY_PATH, gateway_settings, spawn_gateway
from localtriton.process import LOCALHOST, ServerStartError, is_alive, log_tail, stop_pid, wait_until_ready
from localtriton.server import TritonOptions, TritonServer, TritonStartError


def running_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process is alive; a stale file is removed."""
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    if is_alive(pid):
        return pid
    pid_file.unlink()
    return None


def start_triton(args: argparse.Namespace) -> int:
    pid_file = args.work_dir / "triton.pid"
    if (pid := running_pid(pid_file)) is not None:
        print(f"Triton already running (pid {pid}); to serve another MODEL: make stop, then make run")
        return 0
    options = TritonOptions(
        repository=args.repository,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        metrics_port=args.metrics_port,
        address=args.address,
        model_config_name=args.model_config_name,
        work_dir=args.work_dir,
        load_models=tuple(args.load_model or TritonOptions.load_models),
    )
    try:
        server = TritonServer(options).start(ready_timeout_s=args.timeout, detached=True)
    except TritonStartError as error:
        print(error, file=sys.stderr)
        return 1
    pid_file.write_text(str(server.process.pid))
    print(f"Triton ready on http://{LOCALHOST}:{args.http_port} (pid {server.process.pid}, log {options.log_file})")
    return 0


def start_gateway(args: argparse.Namespace) -> int:
    """Start the gateway unless it runs, then wait for /readyz either way (a running one may still be starting)."""
    pid_file, log_file = args.work_dir / "gateway.pid", args.work_dir / "gateway.log"
    url = f"http://{LOCALHOST}:{args.port}"
    pid = running_pid(pid_file)
    if pid is not None:
        print(f"Gateway already running (pid {pid})")
        ready = wait_until_ready(url + READY_PATH, args.timeout, exit_code=lambda: None if is_alive(pid) else 0) is None
    else:
        settings = gateway_settings(
            args.triton_url,
            args.repository,
            args.model_name,
            args.workers,
            measured=False,
            rollout_file=args.rollout_file,
        )
        gateway = spawn_gateway(settings, log_file, port=args.port, measured=False, detached=True)
        pid = gateway.pid
        pid_file.write_text(str(pid))
        try:
            gateway.wait_ready(READY_PATH, args.timeout)
            ready = True
        except ServerStartError:  # wait_ready has stopped it
            pid_file.unlink()
            ready = False
    if not ready:
        print(f"Gateway not ready at {url}{READY_PATH}; end of {log_file}:")
        print(log_tail(log_file, lines=20))
        return 1
    print(f"Gateway ready on {url} (pid {pid}, log {log_file})")
    return 0


def stop(args: argparse.Namespace) -> int:
    gateway_pid = args.work_dir / "gateway.pid"
    if gateway_pid.exists():
        if stop_pid(int(gateway_pid.read_text()), timeout_s=args.timeout) is not None:
            print("Gateway stopped")
        gateway_pid.unlink()
    triton_pid = args.work_dir / "triton.pid"
    if not triton_pid.exists():
        print("Triton is not running (no pid file)")
        return 0
    stop_pid(int(triton_pid.read_text()), timeout_s=args.timeout)
    triton_pid.unlink()
    print("Triton stopped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localtriton", description=__doc__)
    parser.add_argument("--work-dir", type=Path, default=Path("run"), help="pid files, logs and backend folder")
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = TritonOptions()

    triton = commands.add_parser("triton", help="start tritonserver and wait until it is ready")
    triton.add_argument("--repository", type=Path, default=defaults.repository)
    triton.add_argument("--http-port", type=int, default=defaults.http_port)
    triton.add_argument("--grpc-port", type=int, default=defaults.grpc_port)
    triton.add_argument("--metrics-port", type=int, default=defaults.metrics_port)
    triton.add_argument(
        "--address", default=defaults.address, help="address of all three ports (default: %(default)s: this machine)"
    )
    triton.add_argument(
        "--model-config-name",
        default=defaults.model_config_name,
        help="serve configs/NAME.pbtxt of each model: cpu (ragged batches) or cpu-strict (one shape per batch)",
    )
    triton.add_argument(
        "--load-model",
        action="append",
        help="a model to load at start (repeatable; default: every model). Others load through the model-control API",
    )
    triton.add_argument("--timeout", type=float, default=120, help="seconds to wait for readiness")
    triton.set_defaults(handler=start_triton)

    gateway = commands.add_parser("gateway", help="start the gateway and wait until /readyz is 200")
    gateway.add_argument("--triton-url", default=f"{LOCALHOST}:{defaults.http_port}")
    gateway.add_argument("--repository", type=Path, default=defaults.repository)
    gateway.add_argument("--model-name", default="sentiment")
    gateway.add_argument("--port", type=int, default=8080)
    gateway.add_argument("--workers", type=int, default=2)
    gateway.add_argument(
        "--rollout-file", type=Path, help="the rollout state the gateway follows (GATEWAY_ROLLOUT_FILE; default: none)"
    )
    gateway.add_argument("--timeout", type=float, default=60, help="seconds to wait for /readyz")
    gateway.set_defaults(handler=start_gateway)

    stop_parser = commands.add_parser("stop", help="stop the gateway and the tritonserver started here")
    stop_parser.add_argument("--timeout", type=float, default=15, help="seconds each gets before SIGKILL")
    stop_parser.set_defaults(handler=stop)
    return parser


def main() -> int:
    args = build_parser().parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
