"""N-gram decontamination against the task's dev/test texts (GPT-3, NeMo Curator, datatrove).

Both sides are reduced to *units* the same way: characters (zh) or words (en), lower-cased,
whitespace and punctuation dropped, each unit remembering its character span in the original
text. A dev/test text of ``L`` units contributes its n-grams of ``min(ngram, L)`` units to an
index (``EvalIndex``); a document is scanned for those n-grams with vectorised rolling hashes, and
it matches a text when it holds at least ``threshold`` of that text's n-grams. ``clean`` is the
pure per-document step (datatrove style): it returns the kept text, or None, and one audit row
per match saying what was removed and why. Drivers (``scan`` here; a Ray driver later) only move
documents through it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from components.decontaminate.params import DecontaminateParams

_P = np.uint64(0x100000001B3)  # FNV-64 prime: the rolling-hash multiplier
_WORD_RE = re.compile(r"[^\W_]+")


@dataclass
class Units:
    codes: np.ndarray  # uint64, one per unit
    starts: np.ndarray  # char offset where each unit starts
    ends: np.ndarray  # char offset just after each unit

    def __len__(self) -> int:
        return len(self.codes)


@functools.cache
def _bmp_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per BMP code point: is it a letter/digit, and its lower-case code point."""
    alnum = np.fromiter((chr(c).isalnum() for c in range(0x10000)), bool, 0x10000)
    lower = np.fromiter((ord(chr(c).lower()[0]) for c in range(0x10000)), np.uint64, 0x10000)
    return alnum, lower


def _word_code(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def units(text: str, lang: str) -> Units:
    """The unit sequence of ``text``: alphanumeric characters (zh) or words (en)."""
    if lang == "en":
        spans = [(m.start(), m.end(), m.group().lower()) for m in _WORD_RE.finditer(text)]
        codes = np.fromiter((_word_code(w) for _, _, w in spans), np.uint64, len(spans))
        starts = np.fromiter((a for a, _, _ in spans), np.int64, len(spans))
        ends = np.fromiter((b for _, b, _ in spans), np.int64, len(spans))
        return Units(codes, starts, ends)
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    alnum, lower = _bmp_tables()
    bmp = cps < 0x10000
    keep = np.zeros(len(cps), bool)
    keep[bmp] = alnum[cps[bmp]]
    keep[~bmp] = (cps[~bmp] >= 0x20000) & (cps[~bmp] <= 0x3134F)  # CJK extension B-G
    idx = np.flatnonzero(keep)
    codes = cps[idx].astype(np.uint64)
    small = codes < 0x10000
    codes[small] = lower[codes[small]]
    return Units(codes, idx.astype(np.int64), idx.astype(np.int64) + 1)


def ngram_hashes(codes: np.ndarray, n: int) -> np.ndarray:
    """Polynomial hash of every window of ``n`` codes (uint64 arithmetic wraps, as intended)."""
    m = len(codes) - n + 1
    if m <= 0:
        return np.zeros(0, np.uint64)
    h = np.zeros(m, np.uint64)
    for k in range(n):
        h = h * _P + codes[k : k + m]
    return h


@dataclass
class EvalText:
    split: str
    id: str
    size: int  # units per n-gram for this text
    grams: int  # distinct n-grams it has


@dataclass
class EvalIndex:
    """dev/test n-grams by size: ``keys[size]`` sorted hashes, ``owners[size][hash]`` text ids."""

    texts: list[EvalText] = field(default_factory=list)
    keys: dict[int, np.ndarray] = field(default_factory=dict)
    owners: dict[int, dict[int, list[int]]] = field(default_factory=dict)
    too_short: dict[str, int] = field(default_factory=dict)


def build_index(texts: Iterable[tuple[str, str, str]], p: DecontaminateParams) -> EvalIndex:
    """Index ``(split, id, text)`` triples."""
    index = EvalIndex()
    owners: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    short: dict[str, int] = defaultdict(int)
    for split, doc_id, text in texts:
        u = units(text, p.lang)
        if len(u) < p.min_units:
            short[split] += 1
            continue
        size = min(p.ngram, len(u))
        grams = np.unique(ngram_hashes(u.codes, size))
        k = len(index.texts)
        index.texts.append(EvalText(split, doc_id, size, len(grams)))
        for g in grams.tolist():
            owners[size][g].append(k)
    index.owners = {s: dict(o) for s, o in owners.items()}
    index.keys = {s: np.array(sorted(o), dtype=np.uint64) for s, o in index.owners.items()}
    index.too_short = dict(short)
    return index


@dataclass
class Match:
    text: int  # index into EvalIndex.texts
    overlap: float  # share of the text's n-grams found
    first: int  # unit positions of the first and last matched n-gram
    last: int
    kind: str  # exact | contained | near


def find_matches(u: Units, index: EvalIndex, p: DecontaminateParams) -> list[Match]:
    found: dict[int, set[int]] = defaultdict(set)
    pos: dict[int, list[int]] = {}
    for size, keys in index.keys.items():
        if len(u) < size:
            continue
        h = ngram_hashes(u.codes, size)
        at = np.minimum(np.searchsorted(keys, h), len(keys) - 1)  # keys are sorted
        hit = np.flatnonzero(keys[at] == h)
        owners = index.owners[size]
        for i in hit.tolist():
            g = int(h[i])
            for t in owners[g]:
                found[t].add(g)
                span = pos.setdefault(t, [i, i + size])
                span[0], span[1] = min(span[0], i), max(span[1], i + size)
    out = []
    for t, grams in found.items():
        info = index.texts[t]
        overlap = len(grams) / info.grams
        if overlap + 1e-12 < p.threshold:
            continue
        first, last = pos[t]
        whole = last - first == len(u)
        kind = "near" if overlap < 1.0 else ("exact" if whole else "contained")
        out.append(Match(t, overlap, first, last, kind))
    return out


def _cut(text: str, u: Units, spans: list[tuple[int, int]], p: DecontaminateParams) -> str | None:
    """``text`` without the unit spans (merged, with margins); short leftovers dropped too."""
    spans = sorted((max(0, a - p.span_margin), min(len(u), b + p.span_margin)) for a, b in spans)
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    pieces, prev = [], 0  # prev: unit index where the current kept piece starts
    for a, b in [*merged, [len(u), len(u)]]:
        if a - prev >= max(1, p.min_remainder):
            start = int(u.starts[prev]) if prev > 0 else 0
            end = int(u.starts[a]) if a < len(u) else len(text)
            pieces.append(text[start:end].strip())
        prev = b
    kept = "\n".join(x for x in pieces if x)
    return kept or None


def clean(
    doc_id: str, text: str, index: EvalIndex, p: DecontaminateParams
) -> tuple[str | None, list[dict]]:
    """(kept text or None, audit rows): the pure per-document step."""
    u = units(text, p.lang)
    matches = find_matches(u, index, p)
    if not matches:
        return text, []
    drop = p.action == "document" or any(m.kind == "exact" for m in matches)
    kept = None if drop else _cut(text, u, [(m.first, m.last) for m in matches], p)
    rows = []
    for m in matches:
        info = index.texts[m.text]
        a, b = int(u.starts[m.first]), int(u.ends[m.last - 1])
        if kept is not None:
            action = "removed_span"
            why = (
                f"{info.split} text {info.id} {m.kind} in characters {a}-{b} "
                f"({m.overlap:.0%} of its {info.size}-grams): that span cut out, the rest kept"
            )
        else:
            action = "dropped_document"
            why = {
                "exact": f"the document is {info.split} text {info.id}",
                "contained": f"{info.split} text {info.id} is inside it",
                "near": f"{m.overlap:.0%} of {info.split} text {info.id}'s {info.size}-grams",
            }[m.kind]
            if p.action == "document":
                why += " (decontaminate.action: document)"
            elif m.kind != "exact":
                why += "; nothing long enough was left after cutting the matched spans"
        rows.append(
            {
                "doc_id": doc_id,
                "eval_split": info.split,
                "eval_id": info.id,
                "kind": m.kind,
                "overlap": round(m.overlap, 4),
                "chars": [a, b],
                "action": action,
                "reason": why,
            }
        )
    return kept, rows
