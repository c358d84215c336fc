"""Encoding detection for error messages: advice is given only when it works when followed."""

from __future__ import annotations

import codecs


def guess_encoding(sample: bytes) -> str:
    """Best guess of a byte sample's encoding (for the error message only)."""
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    enc = (best.encoding if best else "unknown").lower().replace("_", "-")
    # GB2312 and GBK are subsets of GB18030; suggesting the superset never loses characters.
    return "gb18030" if enc in {"gb2312", "gbk", "gb18030", "hz"} else enc


def utf16_without_bom(sample: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when NULs sit on one side of (mostly ASCII) characters."""
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    odd = sum(1 for i in range(1, 2 * pairs, 2) if sample[i] == 0)
    even = sum(1 for i in range(0, 2 * pairs, 2) if sample[i] == 0)
    if odd > 0.3 * pairs and even < 0.05 * pairs:
        return "utf-16-le"
    if even > 0.3 * pairs and odd < 0.05 * pairs:
        return "utf-16-be"
    return None


def text_encoding(sample: bytes) -> str | None:
    """An encoding that decodes ``sample`` into text, or None for binary/random bytes.

    Only advice that works when followed is given: the guess must decode the sample (bar a
    character cut at its end) into mostly printable text.
    """
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    enc = guess_encoding(sample)
    if enc in {"unknown", "", "ascii", "utf-8"}:
        return None  # not UTF-8 (that is why we are here), and nothing else fits
    try:
        text = codecs.getincrementaldecoder(enc)(errors="strict").decode(sample, final=False)
    except (LookupError, UnicodeDecodeError):
        return None
    if not text:
        return None
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r")
    return None if controls > 0.01 * len(text) else enc
