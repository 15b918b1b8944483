"""Occlusion: which words carry the answer, measured by leaving each out and scoring the text again.

A word's weight is how much the winning label's probability falls without it: positive when the word
supports the answer, negative when it argues against it. Every variant is one more row for the coalescer,
so a text of n words costs n + 1 rows, sent together.
"""

import unicodedata


def _is_punctuation(character: str) -> bool:
    return unicodedata.category(character).startswith("P")


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every whitespace-separated word, without the punctuation around it.

    "isn't" and "U.S" stay whole (the tokenizer's own pre-splitting would make "isn", "'", "t" of the
    first); a run of punctuation alone ("--", "!!!") is no word. Emoji are words: they carry sentiment.
    """
    spans = []
    start = None
    for index, character in enumerate(text + " "):  # the space closes a word at the very end
        if character.isspace():
            if start is not None:
                word_start, word_end = start, index
                while word_start < word_end and _is_punctuation(text[word_start]):
                    word_start += 1
                while word_end > word_start and _is_punctuation(text[word_end - 1]):
                    word_end -= 1
                if word_end > word_start:
                    spans.append((word_start, word_end))
                start = None
        elif start is None:
            start = index
    return spans


def occlusion_variants(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """The text once per word, with that word left out (the whitespace around it stays: the tokenizer drops it)."""
    return [text[:start] + text[end:] for start, end in spans]


def occlusion_weights(winner_probability: float, without_word: list[float]) -> list[float]:
    """Per word, how much the winning label's probability falls when the word is left out."""
    return [winner_probability - probability for probability in without_word]
