"""Locust load test of the gateway: single and batch calls on real sentences, every answer checked.

    locust -f loadtest/locustfile.py --headless --host http://127.0.0.1:8080 -u 16 -r 4 -t 60s \
        --corpus ../shared/data/sst2/train.tsv --load-shape step \
        --csv results/locust/locust --html results/locust/report.html

Texts are sent in a shuffled order, each once before any repeats (``corpus.TextStream``), so that the run
measures the model rather than the gateway's answer cache; at the end it logs how many texts were sent
and the cache's hit rate over the run, read from the gateway's ``gateway_cache_lookups_total``. A small
corpus (SST-2 dev, 872 sentences) repeats and so measures the cache on purpose.

Options added here (also as LOCUST_* environment variables): ``--corpus`` (sentence<TAB>label file;
built-in sentences when absent), ``--single-weight``/``--batch-weight`` (task mix),
``--batch-sizes`` (batch sizes drawn at random per call), ``--labels`` (the labels the model may
answer), ``--load-shape constant|step`` with ``--step-users``/``--step-seconds``. The step shape
adds ``--step-users`` users every ``--step-seconds`` up to ``-u``, so one run shows where latency
starts to climb; ``constant`` is locust's usual ``-u``/``-r``/``-t`` behaviour.
"""

import json
import logging
import random
import urllib.request
from collections import Counter
from pathlib import Path

from locust import FastHttpUser, LoadTestShape, events, task
from locust.env import Environment
from prometheus_client.parser import text_string_to_metric_families

from loadtest.answers import batch_problem, result_problem
from loadtest.corpus import TextStream, load_corpus

logger = logging.getLogger("loadtest")
CACHE_LOOKUPS = "gateway_cache_lookups"  # the counter gateway_cache_lookups_total, as the parser names its family

# One stream per locust process, shared by its users (greenlets: no two take texts at the same time).
STREAM = TextStream([])
CACHE_AT_START: Counter[str] = Counter()


@events.init_command_line_parser.add_listener
def add_options(parser) -> None:
    parser.add_argument("--corpus", type=str, default="", help="sentence<TAB>label file (default: built-in)")
    parser.add_argument("--single-weight", type=int, default=3, help="weight of POST /v1/sentiment")
    parser.add_argument("--batch-weight", type=int, default=1, help="weight of POST /v1/sentiment/batch")
    parser.add_argument("--batch-sizes", type=str, default="2,4,8,16,32", help="batch sizes, drawn uniformly")
    parser.add_argument("--labels", type=str, default="NEGATIVE,POSITIVE", help="labels the model may answer")
    parser.add_argument("--load-shape", choices=("constant", "step"), default="constant", help="load shape")
    parser.add_argument("--step-users", type=int, default=4, help="users added per step (step shape)")
    parser.add_argument("--step-seconds", type=float, default=15.0, help="seconds per step (step shape)")


@events.init.add_listener
def load_texts(environment: Environment, **_kwargs) -> None:
    """Read the corpus once per process, before any user starts."""
    global STREAM  # noqa: PLW0603 - set once, before any user runs
    options = environment.parsed_options
    corpus = load_corpus(Path(options.corpus) if options and options.corpus else None)
    STREAM = TextStream([example.text for example in corpus])


def cache_lookups(host: str) -> Counter[str]:
    """The gateway's answer-cache lookups so far, by result (hit, miss); empty when its cache is off."""
    with urllib.request.urlopen(host.rstrip("/") + "/metrics", timeout=10) as response:
        text = response.read().decode("utf-8")
    lookups: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name == CACHE_LOOKUPS:
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    lookups[sample.labels["result"]] += sample.value
    return lookups


@events.test_start.add_listener
def remember_cache_lookups(environment: Environment, **_kwargs) -> None:
    CACHE_AT_START.clear()
    CACHE_AT_START.update(cache_lookups(environment.host))


@events.test_stop.add_listener
def report_texts_and_cache(environment: Environment, **_kwargs) -> None:
    """What the run sent, and how much of it the answer cache served: the figures mean the model only at 0 %."""
    repeats = "texts repeated once the corpus was used up" if STREAM.repeated else "no text sent twice"
    logger.info("texts sent: %d of %d distinct in the corpus (%s)", STREAM.sent, len(STREAM.texts), repeats)
    during = cache_lookups(environment.host)
    during.subtract(CACHE_AT_START)
    total = during["hit"] + during["miss"]
    if total == 0:
        logger.info("answer cache: no lookups during the run (off: GATEWAY_CACHE_SIZE=0)")
    else:
        logger.info(
            "answer cache: %.1f %% hits of %d lookups (gateway_cache_lookups_total)", 100 * during["hit"] / total, total
        )


class SentimentUser(FastHttpUser):
    """One caller mixing single and batch requests with no think time (closed loop, like a busy client)."""

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.labels = frozenset(options.labels.split(","))
        self.batch_sizes = [int(size) for size in options.batch_sizes.split(",")]
        # Per user, from the options: locust calls each entry with the user, so these are the plain functions.
        self.tasks = [SentimentUser.single] * options.single_weight + [SentimentUser.batch] * options.batch_weight

    @task
    def single(self) -> None:
        (text,) = STREAM.take(1)
        with self.client.post(
            "/v1/sentiment", json={"text": text}, name="/v1/sentiment", catch_response=True
        ) as response:
            problem = _http_problem(response) or result_problem(_json(response), self.labels)
            if problem:
                response.failure(problem)

    @task
    def batch(self) -> None:
        size = random.choice(self.batch_sizes)
        texts = STREAM.take(size)
        with self.client.post(
            "/v1/sentiment/batch", json={"texts": texts}, name=f"/v1/sentiment/batch[{size}]", catch_response=True
        ) as response:
            problem = _http_problem(response) or batch_problem(_json(response), size, self.labels)
            if problem:
                response.failure(problem)


def _http_problem(response) -> str | None:
    if not 200 <= response.status_code < 300:
        return f"HTTP {response.status_code}: {(response.text or '')[:200]}"
    return None


def _json(response) -> object:
    try:
        return json.loads(response.text)
    except (TypeError, ValueError):
        return None


class SelectableShape(LoadTestShape):
    """``--load-shape step`` ramps in steps; ``constant`` keeps ``-u`` users, as locust does without a shape."""

    use_common_options = True  # -u, -r and -t keep their meaning with this shape

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options
        run_time = self.get_run_time()
        if options.run_time and run_time >= options.run_time:
            return None
        users, spawn_rate = options.num_users or 1, options.spawn_rate or 1
        if options.load_shape == "step":
            users = min(users, options.step_users * (int(run_time // options.step_seconds) + 1))
        return users, spawn_rate
