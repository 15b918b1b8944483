"""The servers a benchmark measures, started by the local-server harness (``localtriton``) on free ports.

The gateway is started exactly as the tests start theirs (``localtriton.gateway``: quota, keys and cache off)
with the two changes a measurement needs; the baseline is the seed-style server under uvicorn. Both are the
processes users run, not in-process stand-ins.
"""

import os
import sys
from pathlib import Path

import localtriton.gateway
from localtriton.process import LOCALHOST, ServerProcess, free_port, spawn

BASELINE_APP = "loadtest.baselines.seed_pipeline_server:create_app"


def start_gateway(
    triton_url: str,
    repository: Path,
    model_name: str,
    workers: int,
    work_dir: Path,
    cache_size: int = 0,
    timeout_s: float = 60,
    **extra_settings: str,
) -> ServerProcess:
    """``python -m gateway`` in front of ``triton_url``, ready when /readyz says Triton is.

    The answer cache stays off unless ``cache_size`` is given: the corpus repeats every few hundred requests,
    so with it on the benchmark would measure cache hits instead of the model path. The cache gets its own
    system, fed a stream with a stated repeat rate (``repeated_stream``). ``extra_settings``: more GATEWAY_*
    variables for one system.
    """
    settings = localtriton.gateway.gateway_settings(
        triton_url,
        repository,
        model_name,
        workers,
        # Per-request logging would be a cost of the benchmark, not of serving; production ships warnings too.
        GATEWAY_LOG_LEVEL="warning",
        GATEWAY_CACHE_SIZE=str(cache_size),
        **extra_settings,
    )
    port = free_port()
    log_file = work_dir / f"gateway-{port}.log"
    return localtriton.gateway.spawn_gateway(settings, log_file, port=port).wait_ready("/readyz", timeout_s)


def start_baseline(checkpoint: Path, work_dir: Path, timeout_s: float = 180) -> ServerProcess:
    """The seed-style pipeline server under uvicorn, one worker, as such servers are usually run."""
    port = free_port()
    env = {**os.environ, "SEED_BASELINE_MODEL": str(checkpoint.resolve())}
    command = [sys.executable, "-m", "uvicorn", BASELINE_APP, "--factory", "--host", LOCALHOST, "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    process = spawn("baseline", command, port=port, log_file=work_dir / f"baseline-{port}.log", env=env)
    return process.wait_ready("/healthz", timeout_s)
