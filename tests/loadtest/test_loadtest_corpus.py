"""Corpus loading: headers, tabs inside sentences, bad lines named precisely, the built-in fallback."""

from pathlib import Path

import pytest

from contract.labelled_data import CorpusError, LabelledText, load_tsv
from loadtest.corpus import BUILTIN_CORPUS, load_corpus

pytestmark = pytest.mark.fast


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_header_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "sentence\tlabel\ngood film \t1\n\nbad film\t0\r\n")
    assert load_tsv(path) == [LabelledText("good film", 1), LabelledText("bad film", 0)]


def test_file_without_header_and_tab_inside_sentence(tmp_path: Path) -> None:
    path = write(tmp_path, "a\tb sentence\t1\n")
    assert load_tsv(path) == [LabelledText("a\tb sentence", 1)]


@pytest.mark.parametrize(
    ("content", "message"),
    [("no tab here\n", ":1: expected"), ("ok\t1\nbad\t2\n", ":2: label must be 0 or 1"), ("\t1\n", "empty sentence")],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        load_tsv(write(tmp_path, content))


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no labelled sentences"):
        load_tsv(write(tmp_path, "sentence\tlabel\n"))


def test_builtin_corpus_when_no_path() -> None:
    corpus = load_corpus(None)
    assert corpus == list(BUILTIN_CORPUS)
    assert {example.label_name for example in corpus} == {"NEGATIVE", "POSITIVE"}
