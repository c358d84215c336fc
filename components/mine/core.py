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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from components.data.shards import data_bytes, expand
from components.errors import InputError
from components.mine.features import HAN, LATIN, LETTER, class_counts, encode
from components.mine.filters import (
    DEDUP_REASONS,
    QUALITY_REASONS,
    Deduper,
    minhash_signatures,
    text_hashes,
)
from components.mine.parallel import WORKER, local_mapper
from components.mine.params import MineParams
from components.mine.scoring import add_counts, count_texts, fit_model
from components.mine.shard import (
    CODE,
    REASONS,
    RECORD,
    MineModel,
    ShardResult,
    score_texts,
)


# -- per-block functions: both engines run these (module-level so they pickle by name) ----------
def count_block(texts: list[str], state: dict) -> dict:
    return fit_stats(texts, state["params"], state["seed_side"])


def score_block(texts: list[str], state: dict) -> ShardResult:
    return score_texts(texts, state["model"])


def _score_job(texts: list[str]) -> ShardResult:
    return score_block(texts, WORKER)


def _count_job(texts: list[str]) -> dict:
    return count_block(texts, WORKER)


# (block function, paths, state, want texts) -> (texts or None, result) per block, in order
Mapper = Callable[[Callable, list[str], dict, bool], Iterator[tuple[list[str] | None, object]]]


# -- pass 1: statistics --------------------------------------------------------------------------
def fit_stats(texts: list[str], params: MineParams, seed_side: bool) -> dict:
    """Pure, additive statistics of a shard (seed side adds hashes and signatures)."""
    enc = encode(texts)
    out = count_texts(texts, params, enc)
    classes = class_counts(enc)
    out.update(
        letters=int(classes[LETTER].sum()),
        han=int(classes[HAN].sum()),
        latin=int(classes[LATIN].sum()),
        usable=sum(bool(t.strip()) for t in texts),
    )
    out["n_bytes"] = sum(len(t.encode("utf-8")) for t in texts)
    if seed_side:
        out["hashes"] = text_hashes(texts)
        if params.hygiene.near_dedup:
            hp = params.hygiene
            sigs = minhash_signatures(enc, hp.shingle_size, hp.num_perm)
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


def scan(paths: list[str], params: MineParams, *, seed_side: bool, mapper: Mapper, bar):
    """Pass 1 over a corpus; the seed side also keeps a sample of texts (kNN) and dedup keys."""
    keep = params.method == "knn" and seed_side
    rng = random.Random(params.random_seed)
    corpus = Corpus(stats={})
    seen = 0
    state = {"params": params, "seed_side": seed_side}
    for texts, part in mapper(count_block, paths, state, keep):
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
    if not pool.stats.get("usable"):
        raise InputError(
            ", ".join(pool_paths), "the pool has no non-empty document", "point --pool at data"
        )
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
def score_pool(pool_paths, model: MineModel, deduper: Deduper, scratch, mapper: Mapper, bar):
    """Append one RECORD per pool document to ``scratch``; returns (counts, bytes, score s)."""
    counts: Counter = Counter()
    n_bytes, score_s = 0, 0.0
    for _, r in mapper(score_block, pool_paths, {"model": model}, False):
        rec = np.zeros(len(r.quality), dtype=RECORD)
        rec["score"] = r.scores
        hashes = r.hashes.tolist()
        for i, reason in enumerate(r.quality):
            if reason is None:
                sig = r.sigs[i] if r.sigs is not None and r.has_sig[i] else None
                reason = deduper.check(hashes[i], sig)
            counts[reason or "clean"] += 1
            rec["reason"][i] = CODE[reason] if reason else 0
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


def cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (the worker pools)."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


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
    engine: str = "local",
    batch_docs: int = 500,
    shards: bool = False,
) -> dict:
    """Run every pass; writes ``out``/{selected,scores}.jsonl and returns the metrics.

    ``engine: ray`` runs the per-block passes (statistics, scoring) on Ray Data; dedup, the
    budget cutoff and the writing stay here, fed in pool order, so the outputs are the same."""
    seed_paths, pool_paths = expand(seed_paths), expand(pool_paths)  # shard folders: parts
    if engine != "ray":
        return _mine(seed_paths, pool_paths, out, params, plot, progress, None)
    from components.execution import ray_session
    from components.mine.ray_driver import ray_mapper

    with ray_session():
        return _mine(
            seed_paths,
            pool_paths,
            out,
            params,
            plot,
            progress,
            ray_mapper(batch_docs),
            batch_docs,
            shards,
        )


def _score_select_write(pool_paths, model, seed_hashes, seed_sigs, params, out, mapper, bar):
    """Passes 2 and 3 of the local engine: score + sequential dedup into a scratch file of
    records, the cutoff from it, then scores.jsonl and selected.jsonl."""
    from components.mine.outputs import select_cutoff, write_outputs

    t_score, cpu_start = time.perf_counter(), cpu_seconds()
    deduper = Deduper(params.hygiene)
    deduper.add_seed(seed_hashes, seed_sigs)
    scratch_path = out / ".records.bin"
    pool_bytes = sum(data_bytes(p) for p in pool_paths)
    with open(scratch_path, "wb") as scratch, bar("mine: score", pool_bytes) as b:
        counts, n_bytes, score_cpu = score_pool(pool_paths, model, deduper, scratch, mapper, b)
    score_wall = time.perf_counter() - t_score
    cpu_score = cpu_seconds() - cpu_start  # workers are reaped when the pass ends: included
    n_docs = sum(counts.values())
    records = (
        np.memmap(scratch_path, dtype=RECORD, mode="r", shape=(n_docs,))
        if n_docs
        else (np.zeros(0, dtype=RECORD))
    )
    cut = select_cutoff(records, params)
    cutoff, ties, _, hist_range = cut
    n_sel, sel_bytes, hists = write_outputs(
        pool_paths, records, cutoff, ties, out, hist_range, REASONS
    )
    del records
    scratch_path.unlink()
    return {
        "counts": counts,
        "n_bytes": n_bytes,
        "score_seconds": score_cpu,
        "score_wall": score_wall,
        "score_cpu": cpu_score,
        "n_sel": n_sel,
        "sel_bytes": sel_bytes,
        "hists": hists,
        "cutoff": cut,
        "unindexed": deduper.unindexed,
    }


def _mine(
    seed_paths,
    pool_paths,
    out: Path,
    params: MineParams,
    plot,
    progress,
    mapper,
    ray_batch=None,
    shards=False,
) -> dict:
    from tqdm import tqdm

    from components.mine.outputs import plot_histogram

    t0 = time.perf_counter()
    workers = resolve_workers(params)
    jobs = {count_block: _count_job, score_block: _score_job}
    mapper = mapper or local_mapper(jobs, workers, params.shard_docs, params.shard_mb)
    pool_bytes = sum(data_bytes(p) for p in pool_paths)

    def bar(desc: str, total: int):
        return tqdm(total=total, desc=desc, unit="B", unit_scale=True, disable=not progress)

    with bar("mine: seed", sum(data_bytes(p) for p in seed_paths)) as b:
        seed = scan(seed_paths, params, seed_side=True, mapper=mapper, bar=b)
    with bar("mine: pool stats", pool_bytes) as b:
        pool = scan(pool_paths, params, seed_side=False, mapper=mapper, bar=b)
    warnings = check_corpora(seed, pool, seed_paths, pool_paths, params)
    for w in warnings:
        warn(w)
    t_fit = time.perf_counter()
    model = MineModel(params, fit_model(params, seed.stats, pool.stats, seed.seed_texts))
    seed_hashes = np.concatenate(seed.hashes) if seed.hashes else np.zeros(0, np.uint64)
    seed_sigs = np.concatenate(seed.sigs) if seed.sigs else None
    seed_docs = seed.stats["n_docs"]
    del seed
    t_score, cpu_score = time.perf_counter(), cpu_seconds()
    extra: dict = {}
    if ray_batch is None:
        res = _score_select_write(
            pool_paths, model, seed_hashes, seed_sigs, params, out, mapper, bar
        )
        score_wall, cpu_score = res["score_wall"], res["score_cpu"]
    else:  # scoring, dedup, the cutoff and the writing on Ray: the same bytes (ray_dedup.py)
        from components.mine.ray_dedup import score_dedup_select

        with bar("mine: score", pool_bytes) as b:
            res = score_dedup_select(
                pool_paths, model, seed_hashes, seed_sigs, params, out, ray_batch, shards
            )
            b.update(res["n_bytes"])
        score_wall = time.perf_counter() - t_score  # here: dedup, cutoff and writing included
        extra = {"engine": "ray", "dedup": res["dedup"]}
        cpu_score = cpu_seconds() - cpu_score  # the driver's only: Ray workers are not children
    counts, n_bytes, score_cpu = res["counts"], res["n_bytes"], res["score_seconds"]
    n_sel, sel_bytes, hists = res["n_sel"], res["sel_bytes"], res["hists"]
    cutoff, unindexed = res["cutoff"][0], res["unindexed"]
    clean = counts.get("clean", 0)
    n_docs = sum(counts.values())
    if params.top_n and params.top_n > clean:
        warnings.append(
            f"budget top_n={params.top_n} exceeds the {clean} clean pool documents: all selected"
        )
        warn(warnings[-1])
    hist_range = res["cutoff"][3]
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
        "dedup_unindexed_docs": unindexed,
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
            "score_pass_per_cpu_second": round(n_bytes / 1e6 / max(cpu_score, 1e-9), 2),
            "scorer_only_per_cpu_second": round(n_bytes / 1e6 / max(score_cpu, 1e-9), 2),
            "end_to_end": round(n_bytes / 1e6 / max(total, 1e-9), 2),
        },
        "peak_rss_mb": peak_rss_mb(),
        "warnings": warnings,
        **extra,
    }
