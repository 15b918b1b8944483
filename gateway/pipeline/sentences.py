"""Sentence boundaries as character offsets into the original text, from pysbd.

pysbd was kept by measurement (``python -m loadtest.analysis_choices``, docs/benchmarks.md): the most
exact splits on the hand-checked set (abbreviations, decimals, quotes), pure Python, MIT. Offsets count
code points, as Python's ``str`` does, so ``text[start:end]`` is the sentence with emoji and any script.
"""

import pysbd

# One segmenter per worker: building it compiles pysbd's rules. With clean=False it never rewrites the
# text, so its pieces are consecutive slices of it.
_SEGMENTER = pysbd.Segmenter(language="en", clean=False)


def _stripped(text: str, start: int, end: int) -> tuple[int, int] | None:
    piece = text[start:end]
    stripped_start = start + len(piece) - len(piece.lstrip())
    stripped_end = start + len(piece.rstrip())
    return (stripped_start, stripped_end) if stripped_end > stripped_start else None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in order, without the whitespace around it; [] for blank text.

    The spans cover every non-whitespace character: each piece is located in the text from where the
    previous one ended, so nothing pysbd skipped or rewrote is lost; what is left joins the last span.
    """
    spans = []
    position = 0
    for piece in _SEGMENTER.segment(text):
        found = text.find(piece, position)
        if found < 0:
            break
        span = _stripped(text, position, found + len(piece))
        position = found + len(piece)
        if span:
            spans.append(span)
    tail = _stripped(text, position, len(text))
    if tail:
        spans.append(tail)
    return spans
