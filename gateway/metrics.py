"""Prometheus metrics of the gateway, safe with several uvicorn workers.

With more than one worker, ``python -m gateway`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the
workers start; each worker then writes its samples there and ``/metrics`` merges all of them, so a
scrape sees the whole gateway, not whichever worker answered.
"""

import contextlib
import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)

REQUEST_LATENCY = Histogram(
    "gateway_request_duration_seconds",
    "HTTP request latency by route and status; its _count is the request rate.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
TEXTS_PER_REQUEST = Histogram(
    "gateway_texts_per_request", "Texts in one request.", ["route"], buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256)
)
TOKENS_PER_TEXT = Histogram(
    "gateway_tokens_per_text", "Tokens per text after truncation.", buckets=(8, 16, 32, 64, 128, 256, 512)
)
TRUNCATED_TEXTS = Counter("gateway_truncated_texts_total", "Texts cut to the model's maximum length.")
TRITON_LATENCY = Histogram(
    "gateway_triton_request_duration_seconds",
    "One inference call to Triton (queue + compute + transfer) by length bucket and outcome.",
    ["bucket", "outcome"],
    buckets=LATENCY_BUCKETS,
)
BATCH_ROWS = Histogram(
    "gateway_batch_rows",
    "Rows in one Triton call made by a worker's coalescer, by length bucket: how full the batches are.",
    ["bucket"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
# The coalescer, seen from outside. Gauges are "livesum": each worker reports its own queue and slots, the
# scrape adds them up, and a worker that died stops counting (its file is ignored) instead of freezing a value.
QUEUED_ROWS = Gauge(
    "gateway_coalescer_queued_rows",
    "Rows waiting in the coalescers' queues for a Triton call, by length bucket, summed over workers.",
    ["bucket"],
    multiprocess_mode="livesum",
)
QUEUE_WAIT = Histogram(
    "gateway_coalescer_queue_wait_seconds",
    "From a request's rows entering their bucket's queue to the Triton call that carries them, by bucket.",
    ["bucket"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CALL_SLOTS_IN_USE = Gauge(
    "gateway_coalescer_call_slots_in_use",
    "Triton calls open now (GATEWAY_BATCH_CALLS_IN_FLIGHT per worker at most), summed over workers.",
    multiprocess_mode="livesum",
)
TOKENIZE_SECONDS = Histogram(
    "gateway_tokenize_duration_seconds",
    "Tokenizing and padding one request's texts (the gateway's own CPU work before Triton).",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
PREDICTIONS = Counter("gateway_predictions_total", "Predictions by label.", ["label"])
WINNING_SCORE = Histogram(
    "gateway_prediction_score",
    "Probability of the winning label: a shift to low scores means the traffic changed.",
    buckets=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0),
)

IN_FLIGHT = Gauge(
    "gateway_in_flight_requests",
    "Inference requests being processed now, summed over workers.",
    multiprocess_mode="livesum",
)
REFUSED = Counter(
    "gateway_refused_requests_total",
    "Requests refused before reaching Triton: unauthorized, rate_limited, overloaded (in-flight limit), "
    "tokens_held (the worker's token budget) or deadline (it could not finish in time at the measured rate).",
    ["reason"],
)
TOKENS_HELD = Gauge(
    "gateway_tokens_held",
    "Padded tokens admitted and not yet answered (queued or at Triton), summed over workers.",
    multiprocess_mode="livesum",
)
DRAIN_RATE = Gauge(
    "gateway_drain_rate_tokens_per_second",
    "Padded tokens per second of busy time each worker's Triton calls of a lane (interactive, bulk) have been "
    "completing, summed over workers: the rate admission compares that lane's deadlines with.",
    ["lane"],
    multiprocess_mode="livesum",
)

REDIS_BREAKER_STATE = Gauge(
    "gateway_redis_breaker_state",
    "The circuit in front of Redis (quota and cache): 0 closed, 0.5 trying again, 1 open (Redis skipped). "
    "The highest over live workers.",
    multiprocess_mode="livemax",
)
CACHE_LOOKUPS = Counter("gateway_cache_lookups_total", "Answer cache lookups by result (hit or miss).", ["result"])
DRIFT_PSI = Gauge(
    "gateway_drift_psi",
    "Population stability index of live traffic against the export's reference profile, by signal "
    "(label, score, tokens) and model version (champion and challenger each answer their own traffic); over "
    "0.25 is a significant shift. Highest across workers.",
    ["signal", "version"],
    multiprocess_mode="max",
)
DRIFT_WINDOW_TEXTS = Gauge(
    "gateway_drift_window_texts",
    "Texts in the drift window, by model version (per worker, the largest).",
    ["version"],
    multiprocess_mode="max",
)

# Model lifecycle (gateway.lifecycle): versions are label values. The gauges are "livemax": each worker sets its
# own state and the old state's series to 0, so the scrape shows the state every live worker follows.
ROLLOUT_INFO = Gauge(
    "gateway_rollout_info",
    "1 for the rollout state the workers follow (challenger empty when none).",
    ["champion", "challenger", "mode"],
    multiprocess_mode="livemax",
)
ROLLOUT_PERCENT = Gauge(
    "gateway_rollout_percent",
    "Share of texts (shadow) or callers (canary) given to the challenger, 0-100.",
    multiprocess_mode="livemax",
)
COMPARED_TEXTS = Counter(
    "gateway_compared_texts", "Texts scored by both the champion and the challenger.", ["champion", "challenger"]
)
COMPARED_AGREEMENTS = Counter(
    "gateway_compared_agreements",
    "Compared texts on which both versions gave the same label.",
    ["champion", "challenger"],
)
COMPARED_SCORE_DELTA = Histogram(
    "gateway_compared_score_delta",
    "|P_challenger(l) - P_champion(l)| per compared text, l the champion's label.",
    ["champion", "challenger"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
COMPARED_LABELS = Counter(
    "gateway_compared_labels",
    "Each version's label on compared texts (the label shift is the difference of the two versions' shares).",
    ["champion", "challenger", "version", "label"],
)
VERSION_SECONDS = Histogram(
    "gateway_version_seconds",
    "A request's model time (cache, tokenize, queue, Triton) per version and role (answer or shadow).",
    ["version", "role"],
    buckets=LATENCY_BUCKETS,
)
VERSION_REQUESTS = Counter(
    "gateway_version_requests",
    "Requests per version and role by outcome: ok, refused (admission by cost said no) or error.",
    ["version", "role", "outcome"],
)
SHADOW_SHED = Counter(
    "gateway_shadow_shed",
    "Shadow requests shed before they cost anything: busy (answering work waits for a Triton call), backlog "
    "(GATEWAY_SHADOW_MAX_IN_FLIGHT reached) or overloaded (the challenger's token budget refused).",
    ["reason"],
)


def forget_dead_workers(folder: Path) -> None:
    """Drop the live gauges of workers that are gone, so a killed worker's last queue and slots stop counting.

    uvicorn's supervisor replaces a worker that dies but tells prometheus_client nothing, and a SIGKILLed
    worker cannot say so itself; its ``gauge_live*_<pid>.db`` files would be summed into every later scrape.
    """
    for pid in {int(file.stem.rsplit("_", 1)[1]) for file in folder.glob("gauge_live*_*.db")}:
        if not _is_running(pid):
            with contextlib.suppress(FileNotFoundError):  # another worker's scrape removed them first
                multiprocess.mark_process_dead(pid, str(folder))


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process has the pid now: not ours, but not dead either
        return True
    return True


def render_latest() -> tuple[bytes, str]:
    """The exposition text: every worker's samples in multiprocess mode, this process's otherwise."""
    if folder := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        forget_dead_workers(Path(folder))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
