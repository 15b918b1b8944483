"""How full Triton's batches were: rows per model execution, from Triton's own Prometheus counters.

``nv_inference_count`` counts inferences (rows: a request of 5 texts counts 5) and
``nv_inference_exec_count`` counts model executions (batches), per model and version. The change of
both over a measurement window gives the mean rows per execution in it: the number that says whether
the dynamic batcher, and the gateway in front of it, kept the batches full. Parsed with
prometheus_client's text parser, the format's reference implementation.
"""

import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

ROWS = "nv_inference_count"
EXECUTIONS = "nv_inference_exec_count"


@dataclass(frozen=True)
class InferenceCounts:
    """Triton's cumulative counters of one model (all versions); subtract two readings for a window."""

    rows: float
    executions: float

    def __sub__(self, earlier: "InferenceCounts") -> "InferenceCounts":
        return InferenceCounts(self.rows - earlier.rows, self.executions - earlier.executions)

    @property
    def rows_per_execution(self) -> float | None:
        """None when nothing ran: no batches is not the same as batches of zero rows."""
        return self.rows / self.executions if self.executions else None


def parse_counts(exposition: str, model: str) -> InferenceCounts:
    """The counters of ``model`` in a Prometheus text exposition (what Triton's /metrics answers)."""
    totals = {ROWS: 0.0, EXECUTIONS: 0.0}
    for family in text_string_to_metric_families(exposition):
        if family.name not in totals:
            continue
        # The parser names a counter's samples ``<family>_total``; a ``_created`` sample would be a timestamp.
        totals[family.name] += sum(
            sample.value
            for sample in family.samples
            if sample.labels.get("model") == model and not sample.name.endswith("_created")
        )
    return InferenceCounts(rows=totals[ROWS], executions=totals[EXECUTIONS])


def read_counts(metrics_url: str, model: str, timeout_s: float = 5) -> InferenceCounts:
    """Scrape Triton's metrics endpoint (``http://127.0.0.1:<metrics port>/metrics``) once."""
    with urllib.request.urlopen(metrics_url, timeout=timeout_s) as response:
        return parse_counts(response.read().decode("utf-8"), model)
