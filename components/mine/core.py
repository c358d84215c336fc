"""Mining pipeline: fit on seed + pool statistics, score and clean the pool, select by budget.

Passes over the pool (streamed in shards, never held whole)::

    1. count   hashed n-gram statistics of the pool (the background model), in parallel
    2. score   per shard, pure: quality reason, content hash, MinHash signature, score
               (``score_texts``) -> sequential dedup (``Deduper``) -> one fixed-size record per
               document appended to a scratch file
    3. write   the budget cutoff from the scratch file (``select_cutoff``), then pool + records in
               lockstep -> scores.jsonl and selected.jsonl

Memory: the models are fixed-size arrays; what grows with the pool is the dedup state (one
64-bit hash per distinct document, LSH entries and a signature per clean document) and nothing
else: scores live in the scratch file, not in memory.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from components.data.readers import read_documents
from components.data.text import script_counts
from components.errors import InputError
from components.mine.features import encode
from components.mine.filters import (
    DEDUP_REASONS,
    QUALITY_REASONS,
    Deduper,
    minhash_signatures,
    permutations,
    quality_reasons,
    text_hashes,
)
from components.mine.params import MineParams
from components.mine.scoring import Model, add_counts, count_texts, fit_model

REASONS: tuple[str, ...] = (*QUALITY_REASONS, *DEDUP_REASONS, "not_selected")
_CODE = {r: i + 1 for i, r in enumerate(REASONS)}  # 0 = clean (eligible for selection)
RECORD = np.dtype([("score", "<f8"), ("reason", "u1")])
_HIST_BINS = 4096


@dataclass
class MineModel:
    """Everything the pure per-shard function needs; picklable, fixed size."""

    params: MineParams
    scorer: Model
    perms: tuple[np.ndarray, np.ndarray] | None


@dataclass
class ShardResult:
    quality: list[str | None]
    hashes: np.ndarray  # uint64
    sigs: np.ndarray | None  # uint32 (n, num_perm); None when near dedup is off
    has_sig: np.ndarray  # bool: the document is long enough for one shingle
    scores: np.ndarray  # float64
    n_bytes: int
    score_seconds: float


def score_texts(texts: list[str], model: MineModel) -> ShardResult:
    """Pure per-shard work: hygiene features and scores of some texts (no state, no I/O)."""
    p = model.params
    enc = encode(texts)
    quality = quality_reasons(texts, enc, p.hygiene, p.lang)
    sigs = None
    if model.perms is not None:
        sigs = minhash_signatures(enc, p.hygiene.shingle_size, model.perms)
    start = time.perf_counter()
    scores = model.scorer.score(enc)
    return ShardResult(
        quality=quality,
        hashes=text_hashes(texts),
        sigs=sigs,
        has_sig=enc.lengths >= p.hygiene.shingle_size,
        scores=scores,
        n_bytes=sum(len(t.encode("utf-8")) for t in texts),
        score_seconds=time.perf_counter() - start,
    )


def score_batch(batch: dict[str, list], model: MineModel) -> dict[str, list]:
    """``score_texts`` for ``datasets.Dataset.map(batched=True, fn_kwargs={"model": m})``."""
    r = score_texts(batch["text"], model)
    out = {
        "quality_reason": r.quality,
        "content_hash": r.hashes.view(np.int64).tolist(),
        "score": r.scores.tolist(),
    }
    if r.sigs is not None:
        out["minhash"] = r.sigs.tolist()
    return out


# -- parallel plumbing ---------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(state: dict) -> None:
    _WORKER.update(state)


def _score_job(texts: list[str]) -> ShardResult:
    return score_texts(texts, _WORKER["model"])


def _count_job(texts: list[str]) -> dict:
    return fit_stats(texts, _WORKER["params"], _WORKER.get("perms"), _WORKER["seed_side"])


def _parallel(
    fn: Callable, items: Iterable, workers: int, state: dict
) -> Iterator[tuple[object, object]]:
    """(item, fn(item)) in order, with at most 2 x workers shards in flight (bounded memory)."""
    if workers <= 1:
        _init_worker(state)
        for item in items:
            yield item, fn(item[1])
        return
    import multiprocessing as mp

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(state,)) as pool:
        pending: deque = deque()
        for item in items:
            pending.append((item, pool.apply_async(fn, (item[1],))))
            if len(pending) >= 2 * workers:
                head, res = pending.popleft()
                yield head, res.get()
        while pending:
            head, res = pending.popleft()
            yield head, res.get()


def shards(
    paths: list[str], shard_docs: int, shard_mb: float
) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, texts) shards of the documents of ``paths``, in order."""
    ids: list[str] = []
    texts: list[str] = []
    size, limit = 0, shard_mb * 1e6
    for path in paths:
        for doc in read_documents(path):
            ids.append(doc.id)
            texts.append(doc.text)
            size += len(doc.text) * 3  # UTF-8 upper bound for CJK; exact bytes are not needed
            if len(ids) >= shard_docs or size >= limit:
                yield ids, texts
                ids, texts, size = [], [], 0
    if ids:
        yield ids, texts


# -- pass 1: statistics --------------------------------------------------------------------------
def fit_stats(texts: list[str], params: MineParams, perms, seed_side: bool) -> dict:
    """Pure, additive statistics of a shard (seed side adds hashes and signatures)."""
    enc = encode(texts)
    out = count_texts(texts, params, enc)
    letters = han = latin = 0
    for t in texts:
        le, h, la = script_counts(t)
        letters, han, latin = letters + le, han + h, latin + la
    out.update(letters=letters, han=han, latin=latin, usable=sum(bool(t.strip()) for t in texts))
    out["n_bytes"] = sum(len(t.encode("utf-8")) for t in texts)
    if seed_side:
        out["hashes"] = text_hashes(texts)
        if perms is not None:
            sigs = minhash_signatures(enc, params.hygiene.shingle_size, perms)
            out["sigs"] = sigs[enc.lengths >= params.hygiene.shingle_size]
    return out


def dominant_script(stats: dict) -> str:
    letters = stats.get("letters", 0)
    if not letters:
        return "none"
    if stats["han"] / letters >= 0.5:
        return "Han"
    return "Latin" if stats["latin"] / letters >= 0.5 else "other"


@dataclass
class Corpus:
    stats: dict
    seed_texts: list[str] = field(default_factory=list)
    hashes: list[np.ndarray] = field(default_factory=list)
    sigs: list[np.ndarray] = field(default_factory=list)


def scan(paths: list[str], params: MineParams, perms, *, seed_side: bool, workers: int, bar):
    """Pass 1 over a corpus; the seed side also keeps a sample of texts (kNN) and dedup keys."""
    keep = params.method == "knn" and seed_side
    rng = random.Random(params.random_seed)
    corpus = Corpus(stats={})
    seen = 0
    state = {"params": params, "perms": perms, "seed_side": seed_side}
    items = shards(paths, params.shard_docs, params.shard_mb)
    for (_, texts), part in _parallel(_count_job, items, workers, state):
        for key in ("hashes", "sigs"):
            if key in part:
                getattr(corpus, key).append(part.pop(key))
        corpus.stats = add_counts(corpus.stats or None, part)
        bar.update(part["n_bytes"])
        if keep:  # reservoir sample: bounded however large the seed is
            for t in texts:
                seen += 1
                if len(corpus.seed_texts) < params.knn.max_seed_docs:
                    corpus.seed_texts.append(t)
                elif (j := rng.randrange(seen)) < params.knn.max_seed_docs:
                    corpus.seed_texts[j] = t
    return corpus


def check_corpora(seed: Corpus, pool: Corpus, seed_paths, pool_paths, params) -> list[str]:
    """Stop on inputs that make selection meaningless; returns warnings for the doubtful."""
    if not seed.stats.get("usable"):
        raise InputError(
            ", ".join(seed_paths),
            "the seed has no non-empty document",
            "point --seed at the domain corpus (one document per line)",
        )
    if not pool.stats.get("n_docs"):
        raise InputError(", ".join(pool_paths), "the pool has no document", "point --pool at data")
    warnings = []
    s, p = dominant_script(seed.stats), dominant_script(pool.stats)
    if s != p:
        msg = (
            f"the seed is mostly {s} script but the pool is mostly {p}: "
            "scores would only measure the script difference"
        )
        if not params.allow_script_mismatch:
            raise InputError(
                ", ".join(seed_paths),
                msg,
                "use a seed in the pool's language, or set mine.allow_script_mismatch: true",
            )
        warnings.append(msg)
    want = "Han" if params.lang == "zh" else "Latin"
    if p != want:
        warnings.append(
            f"mine.lang is {params.lang!r} but the pool is mostly {p} script: "
            "the wrong_script filter will drop most of it"
        )
    return warnings


# -- pass 2: score + dedup -----------------------------------------------------------------------
def score_pool(pool_paths, model: MineModel, deduper: Deduper, scratch, workers: int, bar):
    """Append one RECORD per pool document to ``scratch``; returns (counts, bytes, score s)."""
    p = model.params
    counts: Counter = Counter()
    n_bytes, score_s = 0, 0.0
    items = shards(pool_paths, p.shard_docs, p.shard_mb)
    for (_, _), r in _parallel(_score_job, items, workers, {"model": model}):
        rec = np.zeros(len(r.quality), dtype=RECORD)
        rec["score"] = r.scores
        hashes = r.hashes.tolist()
        for i, reason in enumerate(r.quality):
            if reason is None:
                sig = r.sigs[i] if r.sigs is not None and r.has_sig[i] else None
                reason = deduper.check(hashes[i], sig)
            counts[reason or "clean"] += 1
            rec["reason"][i] = _CODE[reason] if reason else 0
        scratch.write(rec.tobytes())
        n_bytes += r.n_bytes
        score_s += r.score_seconds
        bar.update(r.n_bytes)
    return counts, n_bytes, score_s


def peak_rss_mb() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)  # Linux reports KiB


def resolve_workers(params: MineParams) -> int:
    if params.workers:
        return params.workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def warn(msg: str) -> None:
    print(f"[mine] warning: {msg}", file=sys.stderr)


# -- the whole stage -----------------------------------------------------------------------------
def mine(
    seed_paths: list[str],
    pool_paths: list[str],
    out: Path,
    params: MineParams,
    *,
    plot: Path | None = None,
    progress: bool = True,
) -> dict:
    """Run every pass; writes ``out``/{selected,scores}.jsonl and returns the metrics."""
    from tqdm import tqdm

    from components.mine.outputs import plot_histogram, select_cutoff, write_outputs

    t0 = time.perf_counter()
    workers = resolve_workers(params)
    perms = permutations(params.hygiene.num_perm) if params.hygiene.near_dedup else None
    pool_bytes = sum(os.path.getsize(p) for p in pool_paths)

    def bar(desc: str, total: int):
        return tqdm(total=total, desc=desc, unit="B", unit_scale=True, disable=not progress)

    with bar("mine: seed", sum(os.path.getsize(p) for p in seed_paths)) as b:
        seed = scan(seed_paths, params, perms, seed_side=True, workers=workers, bar=b)
    with bar("mine: pool stats", pool_bytes) as b:
        pool = scan(pool_paths, params, None, seed_side=False, workers=workers, bar=b)
    warnings = check_corpora(seed, pool, seed_paths, pool_paths, params)
    for w in warnings:
        warn(w)
    t_fit = time.perf_counter()
    model = MineModel(params, fit_model(params, seed.stats, pool.stats, seed.seed_texts), perms)
    deduper = Deduper(params.hygiene)
    deduper.add_seed(
        np.concatenate(seed.hashes) if seed.hashes else np.zeros(0, np.uint64),
        np.concatenate(seed.sigs) if seed.sigs else None,
    )
    seed_docs = seed.stats["n_docs"]
    del seed
    t_score = time.perf_counter()
    scratch_path = out / ".records.bin"
    with open(scratch_path, "wb") as scratch, bar("mine: score", pool_bytes) as b:
        counts, n_bytes, score_cpu = score_pool(pool_paths, model, deduper, scratch, workers, b)
    score_wall = time.perf_counter() - t_score
    n_docs = sum(counts.values())
    records = (
        np.memmap(scratch_path, dtype=RECORD, mode="r", shape=(n_docs,))
        if n_docs
        else (np.zeros(0, dtype=RECORD))
    )
    cutoff, ties, _, hist_range = select_cutoff(records, params)
    clean = counts.get("clean", 0)
    if params.top_n and params.top_n > clean:
        warnings.append(
            f"budget top_n={params.top_n} exceeds the {clean} clean pool documents: all selected"
        )
        warn(warnings[-1])
    n_sel, sel_bytes, hists = write_outputs(
        pool_paths, records, cutoff, ties, out, hist_range, REASONS
    )
    del records
    scratch_path.unlink()
    if plot is not None:
        plot_histogram(plot, hists, cutoff, params.method)
    dropped = {r: counts.get(r, 0) for r in (*QUALITY_REASONS, *DEDUP_REASONS)}
    total = time.perf_counter() - t0
    return {
        "method": params.method,
        "budget": {
            "top_n": params.top_n,
            "fraction": params.fraction,
            "threshold": params.threshold,
        },
        "pool_docs": n_docs,
        "pool_bytes": n_bytes,
        "clean_docs": clean,
        "selected_docs": n_sel,
        "selected_bytes": sel_bytes,
        "not_selected_docs": clean - n_sel,
        "dropped": dropped,
        "cutoff_score": cutoff if math.isfinite(cutoff) else None,
        "score_range": list(hist_range) if math.isfinite(hist_range[0]) else None,
        "seed_docs": seed_docs,
        "workers": workers,
        "seconds": {
            "fit": round(t_score - t_fit, 3),
            "stats": round(t_fit - t0, 3),
            "score": round(score_wall, 3),
            "total": round(total, 3),
        },
        "throughput_mb_s": {
            "score_pass": round(n_bytes / 1e6 / max(score_wall, 1e-9), 2),
            "scorer_only_per_core": round(n_bytes / 1e6 / max(score_cpu, 1e-9), 2),
            "end_to_end": round(n_bytes / 1e6 / max(total, 1e-9), 2),
        },
        "peak_rss_mb": peak_rss_mb(),
        "warnings": warnings,
    }
