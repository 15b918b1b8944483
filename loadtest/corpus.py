"""The texts load tests send: a ``sentence<TAB>label`` file, or a built-in set.

The built-in corpus exists so that ``locust`` and the benchmark smoke tests run on a machine without
the shared folder; its sentences vary in length so that several token buckets are exercised.
"""

import random
from collections.abc import Sequence
from pathlib import Path

from contract.labelled_data import LabelledText, load_tsv

BUILTIN_CORPUS: tuple[LabelledText, ...] = (
    LabelledText("it 's a charming and often affecting journey .", 1),
    LabelledText("unflinchingly bleak and desperate", 0),
    LabelledText("Wow... Loved this place.", 1),
    LabelledText("Crust is not good.", 0),
    LabelledText("The battery lasts all day and the screen is bright enough to read in direct sunlight.", 1),
    LabelledText("I waited forty minutes for a cold sandwich and nobody apologised.", 0),
    LabelledText("A quietly moving film whose performances stay with you long after the credits.", 1),
    LabelledText("the plot is a mess , the jokes fall flat and the ending drags on forever .", 0),
    LabelledText("Great value.", 1),
    LabelledText("Broke after two days.", 0),
    LabelledText(
        "I bought this camera for a trip across three countries, and it handled rain, dust and a fall onto "
        "cobblestones without a scratch; the pictures are sharp, the menus are simple and the battery never "
        "ran out before the end of the day, which is more than I can say for my previous two cameras.",
        1,
    ),
    LabelledText(
        "The support line kept me on hold for an hour, transferred me four times, and finally told me that "
        "the warranty did not cover a screen that had stopped working on its own after a week of careful use, "
        "so I will not be buying anything from this company again.",
        0,
    ),
)


def load_corpus(path: Path | None) -> list[LabelledText]:
    """The sentences of ``path``, or the built-in corpus when no path is given."""
    return load_tsv(path) if path is not None else list(BUILTIN_CORPUS)


class TextStream:
    """A corpus's distinct texts in a shuffled order, each sent once before any is sent again.

    A load test that repeats texts measures the gateway's answer cache, not the model; this one repeats only
    once the corpus is used up, and says whether that happened (``repeated``).
    """

    def __init__(self, texts: Sequence[str], seed: int | None = None) -> None:
        self.texts = list(dict.fromkeys(texts))
        random.Random(seed).shuffle(self.texts)
        self.position = 0
        self.sent = 0

    def take(self, count: int) -> list[str]:
        taken = []
        for _ in range(count):
            if self.position == len(self.texts):
                self.position = 0
            taken.append(self.texts[self.position])
            self.position += 1
        self.sent += count
        return taken

    @property
    def repeated(self) -> bool:
        return self.sent > len(self.texts)
