"""Labelled sentences in the ``sentence<TAB>label`` files: for the int8 report, the drift profile and evaluation.

The files are UTF-8, one ``sentence<TAB>label`` per line, label 1 = positive and 0 = negative; some start
with a ``sentence<TAB>label`` header and some do not. Standard library only.
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
