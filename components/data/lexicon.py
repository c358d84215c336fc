"""Lexicons and word lists: one reader with one set of rules for every stage that reads words
(ingest merges the domain's lexicons, newwords excludes a vocabulary and scores against a
reference, tokenizer extends a vocabulary, pretrain masks whole words, compare counts them).

The rules, the ingest stage's (it decides what pretraining masks):
- one word per line; of a TSV (the newwords ``lexicon.tsv``, THUOCL ``word<TAB>freq``) the
  first column; UTF-8 with or without a BOM; ``\\n``, ``\\r\\n`` or ``\\r`` line ends;
- each word normalised as ingest normalises text (NFKC, spaces collapsed, stripped), so a lexicon
  matches the text it is applied to; blank lines skipped; de-duplicated, file order kept (a ranked
  lexicon stays best first);
- a first line whose first column names the column (``word``, ``term``...) is a header;
- no comment syntax: WordPiece vocabularies hold entries such as ``##ing`` and ``#``;
- a ``.json`` file is a ``tokenizer.json`` (what fast tokenizers save instead of ``vocab.txt``):
  its vocabulary as the tokenizer holds it (read as lines it would be JSON fragments).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from components.data.text import normalize
from components.errors import InputError

HEADER_WORDS = frozenset({"word", "words", "term", "token"})


def read_words(path: str | os.PathLike, *, fix: str = "check the path") -> list[str]:
    """The words of a lexicon or word list, by the rules above; ``fix``: what to tell the user
    when the file does not exist."""
    p = Path(path)
    if not p.exists():
        raise InputError(str(p), "lexicon file does not exist", fix)
    if p.suffix.lower() == ".json":
        return _tokenizer_vocab(p)
    try:
        with open(p, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise InputError(str(p), f"not UTF-8 text ({exc.reason})", "convert it to UTF-8") from None
    words: dict[str, None] = {}
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for n, line in enumerate(lines):
        word = normalize(line.split("\t")[0])
        if word and not (n == 0 and word.lower() in HEADER_WORDS):
            words.setdefault(word)
    return list(words)


def read_lexicon(
    path: str | os.PathLike, top_k: int = 0, min_chars: int = 1, max_chars: int = 64
) -> list[str]:
    """Whole words of a lexicon (``read_words``) that can be vocabulary entries or masking
    units: ``min_chars``..``max_chars`` long, no space inside; the first ``top_k`` (0 = all)."""
    out: list[str] = []
    for word in read_words(path, fix="run the newwords stage or fix the path"):
        if min_chars <= len(word) <= max_chars and not any(c.isspace() for c in word):
            out.append(word)
            if top_k and len(out) >= top_k:
                break
    return out


def _tokenizer_vocab(path: Path) -> list[str]:
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    except (ValueError, KeyError, TypeError):
        vocab = None
    if isinstance(vocab, list):  # Unigram models: [[piece, score], ...]
        vocab = {row[0]: i for i, row in enumerate(vocab)}
    if not isinstance(vocab, dict):
        raise InputError(
            str(path),
            "not a tokenizer.json with a model vocabulary",
            "pass a vocab.txt or word list",
        )
    return list(vocab)
