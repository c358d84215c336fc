"""New-word scoring: frequency, cohesion (min PMI over splits), neighbour entropy, domain log-odds.

Chinese candidates come from the sharded counter in ``counting.py``; English candidates (multi-word
terms and single words the base vocabulary splits into many pieces) from ``english.py``. Both end
as a ``Candidates`` table that ``rank`` filters and scores the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from components.data.shards import open_documents
from components.errors import InputError
from components.newwords.counting import CountResult, Table, lookup
from components.newwords.params import NewwordsParams

# Neighbour statistics a table may carry per row, computed where the extensions are (Ray path)
SIDE_COLUMNS = ("r_clogc", "r_max", "l_clogc", "l_max")
COLUMNS = ("word", "freq", "cohesion", "left_entropy", "right_entropy", "domain_score", "score")


# -- the formulas (kept scalar-simple so tests can check them against hand computation) -----------
def neighbour_entropy(total: float, neighbour_counts: Iterable[float]) -> float:
    """Entropy (nats) of the neighbours of a word seen ``total`` times.

    Occurrences without a neighbour (at a text or punctuation boundary) count as distinct
    neighbours, each seen once: a word that often ends a sentence is free on that side.
    """
    s = sum(c * math.log(c) for c in neighbour_counts if c > 0)
    return math.log(total) - s / total


def cohesion(count: float, splits: Iterable[tuple[float, float]], total: float) -> float:
    """Minimum over split points of PMI = log(p(w) / (p(a) p(b))), p = count / total units."""
    return min(math.log(count * total / (a * b)) for a, b in splits)


def log_odds(freq, n_domain, bg_freq, n_background, alpha: float):
    """Smoothed log-odds of a word in the domain vs the background corpus (numpy-friendly)."""
    return np.log((freq + alpha) / (n_domain - freq + alpha)) - np.log(
        (bg_freq + alpha) / (n_background - bg_freq + alpha)
    )


@dataclass
class Candidates:
    words: list[str]
    freq: np.ndarray
    cohesion: np.ndarray
    left: np.ndarray
    right: np.ndarray
    bg_freq: np.ndarray
    n_domain: int
    n_background: int
    stats: dict = field(default_factory=dict)
    # Count of the most frequent one-unit extension on each side (w + x, x + w): how much of a
    # candidate's frequency lies inside one longer string (the subsumption check). None: unknown.
    left_max: np.ndarray | None = None
    right_max: np.ndarray | None = None


# -- reading ------------------------------------------------------------------------------------
def iter_shards(
    paths: list[str], role: str, shard_chars: int, readers: list | None = None
) -> Iterator[tuple[str, str]]:
    """(role, text) shards of about ``shard_chars`` characters, cut at document boundaries."""
    buf: list[str] = []
    size = 0
    for path in paths:
        reader = open_documents(path)
        if readers is not None:
            readers.append(reader)
        for doc in reader:
            buf.append(doc.text)
            size += len(doc.text) + 1
            if size >= shard_chars:
                yield role, "\n".join(buf)
                buf, size = [], 0
    if buf:
        yield role, "\n".join(buf)


def general_dictionary() -> frozenset[str]:
    """Words of jieba's bundled general dictionary (dict.txt: ``word freq pos`` per line)."""
    import importlib.util

    # Locate the file without importing jieba (its import compiles regexes and warns).
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("jieba/dict.txt", "jieba is not installed", "pip install jieba")
    path = Path(next(iter(spec.submodule_search_locations))) / "dict.txt"
    # One regex pass is ~2x faster than splitting 349k lines (it is part of every zh run).
    return frozenset(re.findall(r"^[^ \n]+", path.read_text(encoding="utf-8"), re.M))


# -- Chinese candidates from count tables -------------------------------------------------------
def _counts_of(table: Table, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not len(table["keys"]):
        return np.zeros(len(keys)), np.zeros(len(keys), dtype=bool)
    idx, found = lookup(table, keys)
    return np.where(found, table["counts"][idx], 0).astype(np.float64), found


def _side_stats(
    parent_keys: np.ndarray, children: Table, side: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per parent, over its one-character extensions on one side: sum of c*log(c), max c."""
    # Extensions seen once add 1*log(1) = 0 and matter to the max only for parents seen fewer
    # than min_count times: skipping them (most rows) changes nothing that is used.
    many = children["counts"] > 1
    idx, found = lookup({"keys": parent_keys}, children[side][many])
    c = children["counts"][many].astype(np.float64)
    clogc = np.bincount(idx[found], weights=(c * np.log(c))[found], minlength=len(parent_keys))
    top = np.zeros(len(parent_keys))
    np.maximum.at(top, idx[found], c[found])
    return clogc, top


class CandidateColumns:
    """Candidates gathered one length at a time, in (length, key) order: the local scorer's
    (``zh_candidates``) and the partitions' (``ray_scores``), from the same formulas."""

    KEYS = ("freq", "coh", "left", "right", "bg", "lmax", "rmax")

    def __init__(self) -> None:
        self.words: list[str] = []
        self.cols: dict[str, list[np.ndarray]] = {k: [] for k in self.KEYS}
        self.lengths: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []

    def add(self, n, keys, c, sides, pre_c, suf_c, ids, ok, n_domain: int, bg: Table | None):
        """Length ``n``: candidate ``keys`` with counts ``c`` (float), their neighbour columns
        ``sides`` (``SIDE_COLUMNS`` order), the counts of their prefixes ``pre_c[j]`` and
        suffixes ``suf_c[j]`` of j characters, their character ids (rows x n) and ``ok`` (every
        substring found); ``bg`` the background table of length n."""
        r_clogc, r_max, l_clogc, l_max = sides
        right = np.log(c) - r_clogc / c
        left = np.log(c) - l_clogc / c
        pmi = np.stack([np.log(c * n_domain / (pre_c[k] * suf_c[n - k])) for k in range(1, n)])
        self.words += decode_ids(ids[ok])
        keys = keys[ok]
        self.cols["freq"].append(c[ok])
        self.cols["coh"].append(pmi.min(axis=0)[ok])
        self.cols["left"].append(left[ok])
        self.cols["right"].append(right[ok])
        self.cols["lmax"].append(l_max[ok])
        self.cols["rmax"].append(r_max[ok])
        self.cols["bg"].append(_counts_of(bg, keys)[0] if bg is not None else np.zeros(len(keys)))
        self.lengths.append(np.full(len(keys), n, dtype=np.int64))
        self.keys.append(keys)

    def cat(self, k: str) -> np.ndarray:
        return np.concatenate(self.cols[k]) if self.cols[k] else np.zeros(0)

    def candidates(self, n_domain: int, n_bg: int, stats: dict) -> Candidates:
        cat = self.cat
        return Candidates(
            self.words, cat("freq"), cat("coh"), cat("left"), cat("right"), cat("bg"), n_domain,
            n_bg, stats=stats, left_max=cat("lmax"), right_max=cat("rmax"),
        )  # fmt: skip


def zh_candidates(counts: CountResult, p: NewwordsParams) -> Candidates:
    tables, bg = counts.domain, counts.background
    n_domain = int(tables[0]["counts"].sum())
    n_bg = int(bg[0]["counts"].sum()) if bg else 0
    acc = CandidateColumns()
    for n in range(2, p.max_len + 1):
        t, ext = tables[n - 1], tables[n]
        sel = np.flatnonzero(t["counts"] >= p.min_count)
        if not len(sel):
            continue
        c = t["counts"][sel].astype(np.float64)
        r_clogc, r_max = _side_stats(t["keys"][sel], ext, "prefix")
        l_clogc, l_max = _side_stats(t["keys"][sel], ext, "suffix")
        sides = (r_clogc, r_max, l_clogc, l_max)
        # Walk prefix and suffix chains down to single characters: pre[j] = w[:j], suf[j] = w[n-j:].
        ok = np.ones(len(sel), dtype=bool)
        pre = {n: t["keys"][sel], n - 1: t["prefix"][sel]}
        suf = {n - 1: t["suffix"][sel]}
        pre_c, suf_c, chars = {}, {}, {n: t["last"][sel]}
        for j in range(n - 1, 0, -1):
            idx, f = lookup(tables[j - 1], pre[j])
            ok &= f
            pre_c[j] = np.where(f, tables[j - 1]["counts"][idx], 1).astype(np.float64)
            chars[j] = tables[j - 1]["last"][idx]
            pre[j - 1] = tables[j - 1]["prefix"][idx]
            idx, f = lookup(tables[j - 1], suf[j])
            ok &= f
            suf_c[j] = np.where(f, tables[j - 1]["counts"][idx], 1).astype(np.float64)
            suf[j - 1] = tables[j - 1]["suffix"][idx]
        ids = np.stack([chars[j] for j in range(1, n + 1)], axis=1)
        acc.add(n, t["keys"][sel], c, sides, pre_c, suf_c, ids, ok, n_domain,
                bg[n - 1] if bg else None)  # fmt: skip
    stats = {"prune_floor": counts.prune_floor, "workers": counts.workers}
    return acc.candidates(n_domain, n_bg, stats)


def decode_ids(ids: np.ndarray) -> list[str]:
    """Rows of 16-bit character ids -> strings, vectorised through a UTF-32 view."""
    if not len(ids):
        return []
    from components.newwords.counting import _COMPAT, _COMPAT_BASE, _EXT_A

    ids = ids.astype(np.uint32)
    cp = np.where(ids < _COMPAT_BASE, ids - 1 + _EXT_A, ids - _COMPAT_BASE + _COMPAT)
    cp = np.ascontiguousarray(cp.astype("<u4"))
    return cp.view(f"<U{ids.shape[1]}").ravel().tolist()


# -- ranking ------------------------------------------------------------------------------------
@dataclass
class Ranked:
    rows: list[tuple]  # COLUMNS, best first
    candidates: int
    filtered: dict[str, int]


def score_columns(cand: Candidates, p: NewwordsParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, domain log-odds, min neighbour entropy) of every candidate."""
    has_bg = cand.n_background > 0
    domain = (
        log_odds(cand.freq, cand.n_domain, cand.bg_freq, cand.n_background, p.smoothing)
        if has_bg
        else np.zeros(len(cand.words))
    )
    ent = np.minimum(cand.left, cand.right)
    score = p.w_freq * np.log(cand.freq) + p.w_cohesion * cand.cohesion + p.w_entropy * ent
    if has_bg:
        score = score + p.w_domain * domain
    return score, domain, ent


def extension_share(cand: Candidates) -> np.ndarray:
    """Share of a candidate's occurrences inside its most frequent one-unit extension."""
    if cand.left_max is None or cand.right_max is None:
        return np.zeros(len(cand.words))
    return np.maximum(cand.left_max, cand.right_max) / np.maximum(cand.freq, 1)


def word_masks(cand: Candidates, exclude: set[str], stop: set[str], lang: str) -> dict:
    """The filters that do not depend on numeric parameters (stop edges, exclusion lists)."""
    if lang == "zh":
        edge = [w[0] in stop or w[-1] in stop for w in cand.words]
    else:
        edge = [w.split()[0] in stop or w.split()[-1] in stop for w in cand.words]
    return {
        "stop_edge": np.array(edge, dtype=bool),
        "excluded": np.array([w in exclude for w in cand.words], dtype=bool),
    }


def keep_order(
    cand: Candidates, p: NewwordsParams, static: dict
) -> tuple[np.ndarray, dict, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Indices of the listed candidates, best first (at most ``top_k``), and every filter's mask."""
    score, domain, ent = cols = score_columns(cand, p)
    masks = {
        "below_min_cohesion": cand.cohesion < p.min_cohesion,
        "below_min_entropy": ent < p.min_entropy,
        "below_min_domain_score": (domain < p.min_domain_score)
        if cand.n_background > 0
        else np.zeros(len(ent), bool),
        # C-value-style subsumption: a string seen mostly inside one longer string is a
        # fragment of it (阿奇 of 阿奇霉素, 邪侵袭 of 外邪侵袭), not a term of its own.
        "subsumed": extension_share(cand) > p.max_extension_share,
        **static,
    }
    keep = np.ones(len(cand.words), dtype=bool)
    for m in masks.values():
        keep &= ~m
    order = np.flatnonzero(keep)[np.argsort(-score[keep], kind="stable")][: p.top_k]
    return order, masks, cols


def rank(
    cand: Candidates, p: NewwordsParams, exclude: set[str], stop: set[str], *, lang: str = "zh"
) -> Ranked:
    if not cand.words:
        return Ranked([], 0, {})
    order, masks, (score, domain, _) = keep_order(cand, p, word_masks(cand, exclude, stop, lang))
    rows = lexicon_rows(cand, order, score, domain)
    return Ranked(rows, len(cand.words), {k: int(v.sum()) for k, v in masks.items()})


def lexicon_rows(cand: Candidates, order, score: np.ndarray, domain: np.ndarray) -> list[tuple]:
    """The lexicon rows (``COLUMNS``) of the candidates at ``order``."""
    return [
        (
            cand.words[i],
            int(cand.freq[i]),
            round(float(cand.cohesion[i]), 4),
            round(float(cand.left[i]), 4),
            round(float(cand.right[i]), 4),
            round(float(domain[i]), 4),
            round(float(score[i]), 4),
        )
        for i in order
    ]


# -- evaluation ---------------------------------------------------------------------------------
def evaluate(
    ranked_words: list[str],
    reference: set[str],
    occurring: set[str],
    ks: list[int],
    *,
    general: set[str] | None = None,
) -> dict:
    """precision@K of the ranked list and recall of reference words that occur often enough.

    With ``general``, words of that dictionary and single characters are removed from the list
    and from the reference first (the benchmark protocol: known words are not new).
    """
    words = ranked_words
    ref, occ = reference, occurring
    if general is not None:
        words = [w for w in words if len(w) > 1 and w not in general]
        ref = {w for w in ref if len(w) > 1 and w not in general}
        occ = {w for w in occ if w in ref}
    out: dict = {"listed": len(words)}
    for k in ks:
        top = words[:k]
        out[f"precision_at_{k}"] = round(sum(w in ref for w in top) / k, 4)
    found = occ.intersection(words)
    out["recall"] = round(len(found) / len(occ), 4) if occ else None
    out["reference_occurring"] = len(occ)
    return out


_EN_SPLIT_RE = re.compile(r"\s+")


def word_key(word: str, lang: str) -> str:
    return _EN_SPLIT_RE.sub(" ", word.strip().lower()) if lang == "en" else word.strip()


def reference_keys(reference: set[str], max_len: int) -> dict[int, tuple[list[str], np.ndarray]]:
    """Per length 2..max_len: the reference words of that many Han characters and their keys."""
    from components.newwords.counting import char_ids, extend

    out = {}
    for n in range(2, max_len + 1):
        words = sorted(w for w in reference if len(w) == n)
        if not words:
            continue
        ids = char_ids("".join(words)).reshape(-1, n)
        han = ids.all(axis=1)
        ids = ids[han]
        words = [w for w, h in zip(words, han, strict=True) if h]
        key = ids[:, 0]
        for j in range(1, n):
            key = extend(key, ids[:, j], j + 1)
        out[n] = (words, key)
    return out


def occurring_in(tables: list[Table], refs: dict, min_count: int) -> set[str]:
    """The words of ``refs`` (``reference_keys``) whose count in ``tables`` (index n - 1 for
    length n) is at least ``min_count``."""
    out: set[str] = set()
    for n, (words, key) in refs.items():
        freq, _ = _counts_of(tables[n - 1], key)
        out.update(w for w, f in zip(words, freq, strict=True) if f >= min_count)
    return out


def zh_occurring(reference: set[str], counts: CountResult, p: NewwordsParams) -> set[str]:
    """Reference words (2..max_len Han characters) seen at least ``min_count`` times."""
    return occurring_in(counts.domain, reference_keys(reference, p.max_len), p.min_count)
