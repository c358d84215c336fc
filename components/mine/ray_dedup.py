"""The Ray engine's scoring pass for mining: score, deduplicate and find the budget cutoff on
Ray Data, so no step of it walks the pool in one process.

1. score      ``shard.score_texts`` per block (the local engine's function), one row per pool
              document: its pool-order key, quality code, content hash, score, signature;
              copies of a seed text (by hash) are marked ``in_seed`` here.
2. relation   dedup-eligible documents are shuffled twice: by content hash (groups of two or
              more are exact-duplicate candidates) and by LSH band key (``Deduper``'s band
              bytes; each bucket confirms its pairs with ``Deduper``'s similarity test). Seed
              signatures enter the band shuffle with negative keys.
3. resolve    ``dedup.resolve`` walks only the documents that have a pair, in pool order, and
              makes ``Deduper``'s decisions (the driver holds that relation, not the pool).
4. cutoff     ``outputs.cutoff_from`` on the final records of each block: a histogram summed
              over blocks, then the scores of one bin: a global top-k.

The driver then streams the final (score, reason) records, 9 bytes a document, into the
scratch file that ``outputs.write_outputs`` reads, exactly as the local engine leaves it.
"""

from __future__ import annotations

import pickle
import time
from collections import Counter

import numpy as np

from components.data.raydata import shuffle_parts, use_small_shuffle
from components.mine.dedup import Involved, resolve
from components.mine.filters import band_layout
from components.mine.outputs import cutoff_from, hist_edges
from components.mine.params import MineParams
from components.mine.ray_blocks import (
    at_cutoff,
    band_rows,
    block_totals,
    chunk_apply,
    confirm_bucket,
    dup_hashes,
    eligible_rows,
    final_rows,
    format_rows,
    involved_rows,
    score_rows,
)
from components.mine.shard import CODE, REASONS, MineModel


def score_dedup_select(
    pool_paths: list[str],
    model: MineModel,
    seed_hashes: np.ndarray,
    seed_sigs: np.ndarray | None,
    params: MineParams,
    out,
    batch_docs: int,
    shards: bool = False,
) -> dict:
    """Passes 2 and 3 on Ray: writes ``out``/{scores,selected}.jsonl (files, or shard folders
    with ``shards``) and returns the counters, the cutoff, the selection's totals and
    histograms, and the dedup statistics."""

    import pyarrow as pa
    import ray

    from components.data.raydata import file_indices, lines_dataset

    t0 = time.perf_counter()
    hp = params.hygiene
    files = file_indices(pool_paths)
    ds = lines_dataset(pool_paths)
    if ds is None:
        return _empty(params, out)
    state = {"model": model, "files": files, "seed_hashes": np.unique(seed_hashes)}
    rows = ds.map_batches(
        score_rows, batch_size=batch_docs, batch_format="numpy", fn_kwargs={"ref": ray.put(state)}
    ).materialize()
    clock = {"score": time.perf_counter() - t0}
    n_docs = rows.count()  # known from the materialized blocks' metadata: no pass

    # the relation: exact-duplicate candidates by hash, confirmed near pairs by band key
    bands, r = band_layout(hp)
    use_small_shuffle(rows, n_docs * (bands if hp.near_dedup else 1))
    dup = (
        rows.select_columns(["key", "hash", "eligible", "has_sig"])
        .map_batches(
            eligible_rows,
            batch_format="numpy",
            fn_kwargs={"cols": ["key", "hash"], "need_sig": False},
        )
        .groupby("hash", num_partitions=shuffle_parts(n_docs))
        .map_groups(dup_hashes, batch_format="numpy")
    )
    involved_keys = {int(k) for b in dup.iter_batches(batch_format="numpy") for k in b["key"]}
    pairs: set[tuple[int, int]] = set()
    if hp.near_dedup:
        sig_rows = rows.select_columns(["key", "sig", "eligible", "has_sig"]).map_batches(
            eligible_rows,
            batch_format="numpy",
            fn_kwargs={"cols": ["key", "sig"], "need_sig": True},
        )
        if seed_sigs is not None and len(seed_sigs):
            seeds = seed_sigs[: hp.dedup_max_docs or len(seed_sigs)]
            table = pa.table(
                {
                    "key": np.arange(-len(seeds), 0, dtype=np.int64),
                    "sig": pa.array([s.tobytes() for s in seeds], type=pa.binary()),
                }
            )
            sig_rows = sig_rows.union(ray.data.from_arrow(table))
        kw = {"rows": r, "num_perm": hp.num_perm}
        banded = sig_rows.map_batches(
            band_rows, batch_format="numpy", fn_kwargs={"bands": bands, **kw}
        )
        confirmed = banded.groupby(
            "bucket", num_partitions=shuffle_parts(n_docs * bands)
        ).map_groups(
            confirm_bucket,
            batch_format="numpy",
            fn_kwargs={"threshold": hp.near_dup_threshold, **kw},
        )
        for b in confirmed.iter_batches(batch_format="numpy"):
            pairs.update(zip(b["later"].tolist(), b["first"].tolist(), strict=True))
        involved_keys.update(k for pair in pairs for k in pair if k >= 0)

    # ranks among eligible documents (what dedup_max_docs counts): block offsets + rank in block
    wanted = np.array(sorted(involved_keys), dtype=np.int64)
    # only the columns a pass reads: the "line" column (the pool's text) stays in the store
    picked = rows.select_columns(["key", "block", "erank", "hash", "has_sig", "eligible"])
    picked = picked.map_batches(
        involved_rows, batch_format="numpy", fn_kwargs={"ref": ray.put(wanted)}
    )
    found: list[dict] = []
    per_block: Counter = Counter()
    for b in picked.iter_batches(batch_format="numpy"):
        for blob in b["r"]:
            cols, counts = pickle.loads(blob)
            found.append(cols)
            per_block.update(counts)
    blocks = sorted(per_block)
    sizes = [int(per_block[b]) for b in blocks]
    starts = dict(zip(blocks, np.cumsum([0, *sizes])[:-1].tolist(), strict=True))
    n_eligible = sum(sizes)
    got = {"key": [], "rank": [], "hash": [], "has_sig": []}
    for cols in found:
        got["key"].extend(cols["key"].tolist())
        got["rank"].extend(
            starts[int(k)] + int(e) for k, e in zip(cols["block"], cols["erank"], strict=True)
        )
        got["hash"].extend(cols["hash"].view(np.uint64).tolist())
        got["has_sig"].extend(cols["has_sig"].tolist())
    order = np.argsort(np.array(got["key"], dtype=np.int64), kind="stable")
    involved = Involved(
        keys=np.array(got["key"], dtype=np.int64)[order],
        ranks=np.array(got["rank"], dtype=np.int64)[order],
        hashes=np.array(got["hash"], dtype=np.uint64)[order],
        has_sig=np.array(got["has_sig"], dtype=bool)[order],
    )
    clock["relation"] = time.perf_counter() - t0 - sum(clock.values())
    decisions, unindexed = resolve(involved, pairs, n_eligible, hp)
    clock["resolve"] = time.perf_counter() - t0 - sum(clock.values())
    codes = np.array(
        [CODE[decisions[k]] if decisions[k] else 0 for k in involved.keys.tolist()], dtype=np.uint8
    )
    ref = ray.put((involved.keys, codes))
    final = rows.select_columns(["key", "score", "q", "eligible", "n_bytes", "score_s"])
    final = final.map_batches(
        final_rows, batch_format="numpy", fn_kwargs={"ref": ref}
    ).materialize()

    def map_chunks(fn, *args) -> list:
        out = final.map_batches(
            chunk_apply, batch_format="numpy", fn_kwargs={"fn": fn, "args": args}
        )
        return [pickle.loads(x) for b in out.iter_batches(batch_format="numpy") for x in b["r"]]

    cut = cutoff_from(map_chunks, params)
    clock["cutoff"] = time.perf_counter() - t0 - sum(clock.values())
    decided = {"keys": involved.keys, "codes": codes}
    totals = _write(rows, final, cut, decided, pool_paths, out, shards)
    clock["write"] = time.perf_counter() - t0 - sum(clock.values()) - totals["assemble_s"]
    clock["assemble"] = totals.pop("assemble_s")
    dedup = {
        "involved_docs": len(involved.keys),
        "pairs": len(pairs),
        "eligible_docs": n_eligible,
        # where the pass spent its time; "resolve" and "assemble" are the driver's own steps
        "seconds": {k: round(v, 3) for k, v in clock.items()},
    }
    return {**totals, "unindexed": unindexed, "cutoff": cut, "dedup": dedup}


def _write(rows, final, cut: tuple, decided: dict, pool_paths: list[str], out, shards) -> dict:
    """Counters and totals summed over blocks; scores.jsonl and selected.jsonl formatted by the
    workers into ordered parts (``raysink``), then assembled into the canonical files or
    published as shard folders."""
    import os
    import shutil

    import ray

    from components.data.raysink import OrderedPartsSink, write_output

    cutoff, ties, _, hist_range = cut
    at = final.map_batches(at_cutoff, batch_format="numpy", fn_kwargs={"cutoff": cutoff})
    at_keys = sorted(int(k) for b in at.iter_batches(batch_format="numpy") for k in b["key"])
    tied = np.array(at_keys[:ties], dtype=np.int64)  # the first ``ties`` in pool order
    edges = hist_edges(hist_range)
    kw = {"cutoff": cutoff, "tied": tied, "edges": edges}
    blocks = final.map_batches(block_totals, batch_format="numpy", fn_kwargs=kw)
    counts: Counter = Counter()
    t = {"n_sel": 0, "sel_bytes": 0, "n_bytes": 0, "score_s": 0.0}
    hists = [np.zeros(50, np.int64), np.zeros(50, np.int64)]
    for b in blocks.iter_batches(batch_format="numpy"):
        for blob in b["r"]:
            r = pickle.loads(blob)
            for code, n in enumerate(r["codes"].tolist()):
                if n:
                    counts[REASONS[code - 1] if code else "clean"] += n
            for k in t:
                t[k] += r[k]
            hists[0] += r["hists"][0]
            hists[1] += r["hists"][1]
    parts = out / ".parts"
    shutil.rmtree(parts, ignore_errors=True)
    paths = [os.path.abspath(p) for p in pool_paths]
    state = ray.put({**decided, "cutoff": cutoff, "tied": tied, "paths": paths})
    formatted = rows.map_batches(format_rows, batch_format="numpy", fn_kwargs={"ref": state})
    formatted.write_datasink(OrderedPartsSink(parts, {"scores": "scores", "selected": "selected"}))
    t_asm = time.perf_counter()
    for name in ("scores", "selected"):  # ``out`` is the stage's temporary folder (OutputSet)
        write_output(parts, name, out / f"{name}.jsonl", shards)
    shutil.rmtree(parts)
    assemble_s = time.perf_counter() - t_asm
    return {
        "counts": counts,
        "n_bytes": t["n_bytes"],
        "score_seconds": t["score_s"],
        "n_sel": t["n_sel"],
        "sel_bytes": t["sel_bytes"],
        "hists": (edges, *hists),
        "assemble_s": assemble_s,
    }


def _empty(params: MineParams, out) -> dict:
    for name in ("scores", "selected"):
        (out / f"{name}.jsonl").write_bytes(b"")
    return {
        "counts": Counter(),
        "n_bytes": 0,
        "score_seconds": 0.0,
        "n_sel": 0,
        "sel_bytes": 0,
        "hists": (None, np.zeros(50, np.int64), np.zeros(50, np.int64)),
        "unindexed": 0,
        "cutoff": cutoff_from(lambda fn, *a: [], params),
        "dedup": {"involved_docs": 0, "pairs": 0, "eligible_docs": 0},
    }
