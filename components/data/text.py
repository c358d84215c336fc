"""Text normalisation, Chinese sentence splitting, script statistics and content hashing."""

from __future__ import annotations

import functools
import hashlib
import html
import re
import unicodedata

import numpy as np

# C0/C1 controls except tab, newline and carriage return: they never belong in a corpus.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES_RE = re.compile(r"[ \t\u00a0\u3000]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
# The one definition of a Han character: CJK Unified Ideographs, extension A, the compatibility
# block and extensions B-F. Mining's script counts, whole-word masking, perplexity units and the
# decontamination units use it; new-word counting packs the BMP part of it into dense ids
# (components/newwords/counting.py, tested against this).
HAN_RANGES: tuple[tuple[int, int], ...] = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2EBEF),
)
HAN_RE = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in HAN_RANGES) + "]")


def is_han(ch: str) -> bool:
    """Whether the character ``ch`` is Han. One regex call: whole-word masking asks this per
    token boundary, and a Python loop over the ranges was 3.5x slower."""
    return HAN_RE.match(ch) is not None


LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
_SENT_END_RE = re.compile(r"([。！？!?；;…]+[”’」』）)]*|\n+)")


def normalize(text: str, *, form: str = "NFKC", unescape_html: bool = False) -> str:
    """NFKC, optional HTML-entity decoding, control characters removed, whitespace collapsed.

    NFKC folds full-width ASCII (``１２ｍｇ`` -> ``12mg``) so the same term is counted once.
    """
    if unescape_html:
        text = html.unescape(text)
    if form:
        text = unicodedata.normalize(form, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROL_RE.sub("", text)
    text = _SPACES_RE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES_RE.sub("\n\n", text).strip()


def split_sentences(text: str) -> list[str]:
    """Split Chinese (and mixed) text after sentence-final punctuation and at line breaks."""
    parts = _SENT_END_RE.split(text)
    sentences: list[str] = []
    for i in range(0, len(parts), 2):
        sent = parts[i] + (parts[i + 1] if i + 1 < len(parts) and parts[i + 1].strip() else "")
        sent = sent.strip()
        if sent:
            sentences.append(sent)
    return sentences


@functools.cache
def _bmp_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-code-point flags for the Basic Multilingual Plane: letter, Han, Latin."""
    chars = [chr(c) for c in range(0x10000)]
    letter = np.fromiter((c.isalpha() for c in chars), dtype=bool, count=0x10000)
    han = np.fromiter((bool(HAN_RE.match(c)) for c in chars), dtype=bool, count=0x10000)
    latin = (
        np.fromiter((bool(LATIN_RE.match(c)) for c in chars), dtype=bool, count=0x10000) & letter
    )
    return letter, han, latin


def script_counts(text: str) -> tuple[int, int, int]:
    """(letters, Han characters, Latin letters), vectorised: ~80x faster than regex counting.

    A letter is what ``str.isalpha`` says; outside the BMP only CJK extension Han counts.
    """
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    letter, han, latin = _bmp_tables()
    bmp = cps[cps < 0x10000]
    astral_han = 0
    if len(bmp) < len(cps):
        astral = [(lo, hi) for lo, hi in HAN_RANGES if lo >= 0x10000]
        astral_han = sum(int(((cps >= lo) & (cps <= hi)).sum()) for lo, hi in astral)
    return (
        int(letter[bmp].sum()) + astral_han,
        int(han[bmp].sum()) + astral_han,
        int(latin[bmp].sum()),
    )


def content_hash(text: str) -> str:
    """Stable 128-bit hex digest of a text, for exact dedup and lineage."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def hash64(text: str) -> int:
    """64-bit integer digest, cheaper to keep in a set than a hex string."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def file_digest(path: str, *, chunk: int = 1 << 20) -> str:
    """MD5 of a file's bytes: the same digest DVC records, so lineage can be cross-checked."""
    return files_digest([path], chunk=chunk)


def files_digest(paths: list[str], *, chunk: int = 1 << 20) -> str:
    """MD5 of the files' bytes one after the other (a shard folder's parts: that of the file
    they assemble into)."""
    h = hashlib.md5()
    for path in paths:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
    return h.hexdigest()
