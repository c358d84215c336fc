"""Selection by budget and the stage's outputs: scores.jsonl, selected.jsonl, the histogram."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from components.data.shards import read_documents
from components.data.writers import atomic_open, dump_jsonl_line
from components.errors import InputError
from components.mine.params import MineParams

_HIST_BINS = 4096


# -- pass 3: selection ---------------------------------------------------------------------------
def _chunks(records: np.ndarray, size: int = 1 << 20) -> Iterator[np.ndarray]:
    for i in range(0, len(records), size):
        yield records[i : i + size]


def clean_range(c: np.ndarray) -> tuple[float, float, int]:
    """(lowest, highest, count) of the clean scores of a chunk of records."""
    s = c["score"][c["reason"] == 0]
    if not len(s):
        return math.inf, -math.inf, 0
    return float(s.min()), float(s.max()), len(s)


def bin_of(s: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi == lo:
        return np.zeros(len(s), dtype=np.int64)
    return np.clip(((s - lo) / (hi - lo) * _HIST_BINS).astype(np.int64), 0, _HIST_BINS - 1)


def clean_hist(c: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.bincount(bin_of(c["score"][c["reason"] == 0], lo, hi), minlength=_HIST_BINS)


def clean_in_bin(c: np.ndarray, lo: float, hi: float, b: int) -> np.ndarray:
    s = c["score"][c["reason"] == 0]
    return s[bin_of(s, lo, hi) == b]


def clean_ge(c: np.ndarray, threshold: float) -> int:
    return int(((c["reason"] == 0) & (c["score"] >= threshold)).sum())


# fn(chunk, *args) over every chunk of records -> the list of results (any order: all merges
# below are sums, minima and maxima). Locally over a memory map; the Ray engine over blocks.
ChunkMap = Callable[..., list]


def select_cutoff(records: np.ndarray, params: MineParams) -> tuple[float, int, int, tuple]:
    """``cutoff_from`` over the chunks of a records array (the local engine)."""
    return cutoff_from(lambda fn, *a: [fn(c, *a) for c in _chunks(records)], params)


def cutoff_from(map_chunks: ChunkMap, params: MineParams) -> tuple[float, int, int, tuple]:
    """(cutoff score, ties to take at the cutoff, wanted count, (lo, hi) of clean scores).

    Exact n-th largest in bounded memory and as a global top-k over any number of workers: a
    fixed histogram finds the bin holding the cutoff, a second pass gathers only that bin's
    scores.
    """
    ranges = map_chunks(clean_range)
    lo = min((r[0] for r in ranges), default=math.inf)
    hi = max((r[1] for r in ranges), default=-math.inf)
    n = sum(r[2] for r in ranges)
    if params.threshold is not None:
        return params.threshold, n, sum(map_chunks(clean_ge, params.threshold)), (lo, hi)
    want = min(params.top_n, n) if params.top_n else min(n, math.ceil(params.fraction * n))
    if want == 0:
        return math.inf, 0, 0, (lo, hi)
    hist = np.zeros(_HIST_BINS, dtype=np.int64)
    for h in map_chunks(clean_hist, lo, hi):
        hist += h
    above = np.cumsum(hist[::-1])[::-1]  # above[b] = clean docs in bins >= b
    b = int(np.nonzero(above >= want)[0].max())
    higher = int(above[b + 1]) if b + 1 < _HIST_BINS else 0
    vals = np.sort(np.concatenate(map_chunks(clean_in_bin, lo, hi, b)))[::-1]
    cutoff = float(vals[want - higher - 1])
    ties = want - higher - int((vals > cutoff).sum())
    return cutoff, ties, want, (lo, hi)


def _decide(chunk: np.ndarray, cutoff: float, ties: int, edges, hists) -> tuple[list, int]:
    """Per document of a chunk of records: (score, reason code, kept); ties left after it.

    Vectorised per chunk (the per-document loop only writes rows): the first ``ties`` clean
    documents scoring exactly the cutoff are kept, in pool order, as before.
    """
    score, code = chunk["score"], chunk["reason"]
    clean = code == 0
    at = clean & (score == cutoff)
    kept = (clean & (score > cutoff)) | (at & (np.cumsum(at) <= ties))
    ties -= min(int(at.sum()), ties)
    add_hists(hists, edges, score, clean, kept)
    rows = list(zip(score.tolist(), code.tolist(), kept.tolist(), strict=True))
    return rows, ties


def hist_edges(hist_range) -> np.ndarray | None:
    lo, hi = hist_range
    return np.linspace(lo, hi if hi > lo else lo + 1, 51) if math.isfinite(lo) else None


def add_hists(hists, edges, score: np.ndarray, clean: np.ndarray, kept: np.ndarray) -> None:
    """Add a chunk's clean scores to the plot's histograms (selected, clean not selected)."""
    if edges is not None and clean.any():
        b = np.clip(np.searchsorted(edges, score[clean], "right") - 1, 0, 49)
        hists[0] += np.bincount(b[kept[clean]], minlength=50)
        hists[1] += np.bincount(b[~kept[clean]], minlength=50)


def output_lines(doc, score: float, code: int, kept: bool, reasons) -> tuple[str, str | None]:
    """A document's line of scores.jsonl and, when kept, of selected.jsonl."""
    reason = None if kept else (reasons[code - 1] if code else "not_selected")
    row = {"id": doc.id, "score": round(score, 6), "kept": kept, "reason": reason}
    if not kept:
        return dump_jsonl_line(row), None
    doc.metadata["mine_score"] = round(score, 6)
    return dump_jsonl_line(row), dump_jsonl_line(doc.to_json())


def write_outputs(
    pool_paths, records: np.ndarray, cutoff: float, ties: int, out: Path, hist_range, reasons
):
    """scores.jsonl (every pool document) and selected.jsonl; returns (selected, bytes, hists)."""
    edges = hist_edges(hist_range)
    hists = [np.zeros(50, np.int64), np.zeros(50, np.int64)]  # selected, clean not selected
    n_sel = sel_bytes = 0
    i = 0
    chunks = _chunks(records, 1 << 16)
    rows: list = []
    with (
        atomic_open(out / "scores.jsonl") as fs,
        atomic_open(out / "selected.jsonl") as fsel,
    ):
        for path in pool_paths:
            for doc in read_documents(path):
                if i >= len(records):
                    raise InputError(
                        path, "the pool changed while mining (more documents)", "re-run"
                    )
                if not rows:
                    rows, ties = _decide(next(chunks), cutoff, ties, edges, hists)
                    rows.reverse()  # pop() from the end is O(1)
                score, code, kept = rows.pop()
                i += 1
                line, selected = output_lines(doc, score, code, kept, reasons)
                fs.write(line)
                if selected is not None:
                    fsel.write(selected)
                    n_sel += 1
                    sel_bytes += len(doc.text.encode("utf-8"))
    if i != len(records):
        raise InputError(
            pool_paths[-1], "the pool changed while mining (fewer documents)", "re-run"
        )
    return n_sel, sel_bytes, (edges, *hists)


def plot_histogram(path: Path, hists, cutoff: float, method: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges, sel, rest = hists
    fig, ax = plt.subplots(figsize=(7, 4))
    if edges is not None:
        width = np.diff(edges)
        ax.bar(edges[:-1], rest, width=width, align="edge", label="clean, not selected")
        ax.bar(edges[:-1], sel, width=width, align="edge", bottom=rest, label="selected")
        if math.isfinite(cutoff):
            ax.axvline(cutoff, color="k", linestyle="--", label=f"cutoff {cutoff:.3g}")
    ax.set_xlabel(f"{method} score (higher = more like the seed)")
    ax.set_ylabel("pool documents")
    ax.set_title("mine: score distribution of the clean pool")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
