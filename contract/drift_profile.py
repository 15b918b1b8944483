"""The traffic profile used for drift monitoring, and the population stability index (PSI).

The export records the profile of a reference set (label distribution, winning-score histogram,
token-length histogram) as ``reference_profile.json`` beside the model; the gateway keeps the same
histograms over a rolling window of live traffic and exports the PSI of each against the reference.
Both sides bin with the edges below, so the histograms are comparable by construction.

PSI = sum((live - reference) * ln(live / reference)) over bins. Rule of thumb: under 0.1 stable,
0.1 to 0.25 a moderate shift, over 0.25 a significant one. It says the traffic changed, not that
the model got worse: a new customer segment can be a drift and still be served well.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

PROFILE_FILENAME = "reference_profile.json"
SCORE_EDGES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)  # the winning probability of a two-or-more-label model
TOKEN_EDGES = (0, 8, 16, 32, 64, 128, 256, 512, 1_000_000)
EPSILON = 1e-4  # stands in for an empty bin, so the log stays finite


def bin_index(value: float, edges: tuple[float, ...]) -> int:
    """The histogram bin of ``value``: bins are [edge_i, edge_i+1), the last one closed."""
    index = int(np.searchsorted(edges, value, side="right")) - 1
    return min(max(index, 0), len(edges) - 2)


def psi(reference: list[float], live: list[float]) -> float:
    expected = np.clip(np.asarray(reference, dtype=np.float64), EPSILON, None)
    actual = np.clip(np.asarray(live, dtype=np.float64), EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


@dataclass(frozen=True)
class TrafficProfile:
    """Fractions per bin of each signal, over ``texts`` texts."""

    texts: int
    labels: list[str]
    label_fractions: list[float]
    score_fractions: list[float]
    token_fractions: list[float]
    source: str = ""

    @classmethod
    def from_observations(
        cls, labels: list[str], label_indices: list[int], scores: list[float], tokens: list[int], source: str = ""
    ) -> "TrafficProfile":
        def fractions(indices: list[int], bins: int) -> list[float]:
            counts = np.bincount(indices, minlength=bins).astype(np.float64)
            return (counts / max(len(indices), 1)).tolist()

        return cls(
            texts=len(label_indices),
            labels=labels,
            label_fractions=fractions(label_indices, len(labels)),
            score_fractions=fractions([bin_index(s, SCORE_EDGES) for s in scores], len(SCORE_EDGES) - 1),
            token_fractions=fractions([bin_index(t, TOKEN_EDGES) for t in tokens], len(TOKEN_EDGES) - 1),
            source=source,
        )

    def psi_against(self, reference: "TrafficProfile") -> dict[str, float]:
        return {
            "label": psi(reference.label_fractions, self.label_fractions),
            "score": psi(reference.score_fractions, self.score_fractions),
            "tokens": psi(reference.token_fractions, self.token_fractions),
        }

    def write(self, version_dir: Path) -> Path:
        path = version_dir / PROFILE_FILENAME
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, version_dir: Path) -> "TrafficProfile | None":
        path = version_dir / PROFILE_FILENAME
        return cls(**json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None
