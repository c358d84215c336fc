"""One lexicon reader (components/data/lexicon.py): the formats every stage reads, one rule."""

from __future__ import annotations

import pytest

from components.data.lexicon import read_lexicon, read_words
from components.errors import InputError


def test_newwords_tsv_thuocl_and_plain_lists(tmp_path):
    tsv = tmp_path / "lexicon.tsv"
    tsv.write_text(
        "word\tfreq\tcohesion\tleft_entropy\tright_entropy\tdomain_score\tscore\n"
        "高血压\t10\t1\t1\t1\t1\t0.9\n糖尿病\t8\t1\t1\t1\t1\t0.8\n高血压\t1\t1\t1\t1\t1\t0.1\n"
        "心\t5\t1\t1\t1\t1\t0.05\n",
        encoding="utf-8",
    )
    assert read_words(tsv) == ["高血压", "糖尿病", "心"]  # header skipped, file order, de-duplicated
    assert read_lexicon(tsv, min_chars=2) == ["高血压", "糖尿病"]
    assert read_lexicon(tsv, top_k=1) == ["高血压"]
    thuocl = tmp_path / "THUOCL.txt"
    thuocl.write_bytes("\ufeff冠心病\t 120\r\n肝炎\t99\r\n".encode())
    assert read_lexicon(thuocl) == ["冠心病", "肝炎"]
    plain = tmp_path / "words.txt"
    plain.write_text("胃炎\n\n肺炎\n", encoding="utf-8")
    assert read_lexicon(plain) == ["胃炎", "肺炎"]


def test_bom_cr_only_line_ends_spaces_and_nfkc(tmp_path):
    """The ingest stage's rule: what it merges is what pretraining masks."""
    path = tmp_path / "lex.txt"
    path.write_bytes("\ufeff高血压 \t 100\r糖尿病\t50\r\r高血压\t3\rＣＴ检查\r".encode())
    assert read_words(path) == ["高血压", "糖尿病", "CT检查"]


def test_no_comment_syntax_vocabulary_entries_are_words(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n#\n##ing\nthe\n", encoding="utf-8")
    assert read_words(vocab) == ["[PAD]", "#", "##ing", "the"]
    assert read_lexicon(tmp_path / "vocab.txt", min_chars=2) == ["[PAD]", "##ing", "the"]


def test_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(InputError, match="(?s)does not exist.*newwords stage"):
        read_lexicon(tmp_path / "missing.tsv")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_words(bad)
