"""Two versions' answers for the same text, compared: same label, and how far the champion's label moved."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Comparison:
    champion_label: int  # index into the (shared) labels
    challenger_label: int
    score_delta: float  # |P_challenger(l) - P_champion(l)|, l the champion's label

    @property
    def agrees(self) -> bool:
        return self.champion_label == self.challenger_label


def compare(champion: Sequence[float], challenger: Sequence[float]) -> Comparison:
    """Both are one text's probabilities over the same labels (``contract.rollout.incompatibility`` saw to it)."""
    if len(champion) != len(challenger):
        raise ValueError(f"{len(champion)} probabilities against {len(challenger)}: not the same labels")
    label = int(np.argmax(champion))
    return Comparison(
        champion_label=label,
        challenger_label=int(np.argmax(challenger)),
        score_delta=abs(float(challenger[label]) - float(champion[label])),
    )
