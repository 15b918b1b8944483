"""Labelled sentences for load tests and evaluation: the shared ``sentence<TAB>label`` files, or a built-in set.

The shared data sets (``../shared/data``) are UTF-8, one ``sentence<TAB>label`` per line, label 1 =
positive and 0 = negative; some start with a ``sentence<TAB>label`` header and some do not. The
built-in corpus exists so that ``locust`` and the benchmark smoke tests run on a machine without
the shared folder; its sentences vary in length so that several token buckets are exercised.
"""

from dataclasses import dataclass
from pathlib import Path

LABEL_NAMES = ("NEGATIVE", "POSITIVE")  # index = the numeric label in the files


class CorpusError(ValueError):
    """A corpus file that cannot be used as it is; the message names the file and line."""


@dataclass(frozen=True)
class LabelledText:
    """One sentence and its gold label (0 negative, 1 positive)."""

    text: str
    label: int

    @property
    def label_name(self) -> str:
        return LABEL_NAMES[self.label]


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


def _parse_line(line: str, path: Path, line_number: int) -> LabelledText:
    sentence, separator, label = line.rpartition("\t")
    if not separator:
        raise CorpusError(f"{path}:{line_number}: expected 'sentence<TAB>label', found no tab")
    label = label.strip()
    if label not in ("0", "1"):
        raise CorpusError(f"{path}:{line_number}: label must be 0 or 1, found {label!r}")
    sentence = sentence.strip()
    if not sentence:
        raise CorpusError(f"{path}:{line_number}: empty sentence")
    return LabelledText(sentence, int(label))


def load_tsv(path: Path) -> list[LabelledText]:
    """Every labelled sentence of ``path``; a ``sentence<TAB>label`` header and blank lines are skipped.

    The label is taken after the last tab, so a sentence that itself contains a tab still loads.
    """
    examples = []
    with path.open(encoding="utf-8") as lines:
        for line_number, raw_line in enumerate(lines, start=1):
            line = raw_line.rstrip("\r\n")
            if not line.strip():
                continue
            if line_number == 1 and line.strip().lower() == "sentence\tlabel":
                continue
            examples.append(_parse_line(line, path, line_number))
    if not examples:
        raise CorpusError(f"{path}: no labelled sentences")
    return examples


def load_corpus(path: Path | None) -> list[LabelledText]:
    """The sentences of ``path``, or the built-in corpus when no path is given."""
    return load_tsv(path) if path is not None else list(BUILTIN_CORPUS)
