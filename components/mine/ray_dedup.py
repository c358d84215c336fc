"""The Ray engine's scoring pass for mining: score, deduplicate and find the budget cutoff on
Ray Data, so no step of it walks the pool in one process.

1. score      ``core.score_texts`` per block (the local engine's function), one row per pool
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

import hashlib
import pickle
from collections import Counter
from typing import Any

import numpy as np

from components.data.readers import DocumentReader
from components.mine.core import _CODE, REASONS, RECORD, MineModel, score_texts
from components.mine.dedup import Involved, band_slices, bucket_pairs, resolve
from components.mine.filters import lsh_bands
from components.mine.outputs import cutoff_from
from components.mine.params import MineParams

# key = file index << 40 | line << 8 | text field: pool order, whatever the blocks are
_LINE_SHIFT, _FILE_SHIFT = 8, 40


def _i64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.int64)


def score_rows(batch: dict[str, Any], ref) -> dict[str, Any]:
    import ray

    state = ray.get(ref)
    keys, texts, readers = [], [], {}
    for path, lineno, line in zip(batch["path"], batch["lineno"], batch["line"], strict=True):
        path = str(path)
        reader = readers.get(path) or readers.setdefault(path, DocumentReader(path))
        base = (state["files"][path] << _FILE_SHIFT) | (int(lineno) << _LINE_SHIFT)
        for field, doc in enumerate(reader.jsonl_line(int(lineno), str(line))):
            keys.append(base | field)
            texts.append(doc.text)
    r = score_texts(texts, state["model"])
    q = np.array([_CODE[x] if x else 0 for x in r.quality], dtype=np.uint8)
    q[(q == 0) & np.isin(r.hashes, state["seed_hashes"])] = _CODE["in_seed"]
    eligible = q == 0
    n = len(texts)
    sigs = r.sigs if r.sigs is not None else np.zeros((n, 0), np.uint32)
    return {
        "key": np.array(keys, dtype=np.int64),
        "q": q,
        "hash": _i64(r.hashes),
        "score": r.scores,
        "has_sig": r.has_sig & (r.sigs is not None),
        "sig": [s.tobytes() for s in sigs],
        "eligible": eligible,
        # the block's first key and the rank among its eligible rows: ranks over the pool
        "block": np.full(n, keys[0] if keys else 0, dtype=np.int64),
        "erank": np.cumsum(eligible) - 1,
        "n_bytes": np.array([len(t.encode("utf-8")) for t in texts], dtype=np.int64),
        "score_s": np.array([r.score_seconds] + [0.0] * (n - 1))[:n],
    }


def _eligible(batch: dict[str, Any], cols: list[str], need_sig: bool) -> dict[str, Any]:
    m = batch["eligible"] & batch["has_sig"] if need_sig else batch["eligible"]
    return {c: batch[c][m] for c in cols}


def band_rows(batch: dict[str, Any], bands: int, rows: int, num_perm: int) -> dict[str, Any]:
    """One row per (document, band): a 64-bit id of the band's bytes, the band, the document."""
    sigs = np.frombuffer(b"".join(batch["sig"]), dtype=np.uint32).reshape(-1, num_perm)
    ids, band, keys, out_sigs = [], [], [], []
    for b, raw in enumerate(band_slices(sigs, bands, rows)):
        for k, v, s in zip(batch["key"].tolist(), raw, batch["sig"], strict=True):
            d = hashlib.blake2b(v.tobytes(), digest_size=8, person=b"band%04d" % b).digest()
            ids.append(int.from_bytes(d, "little", signed=True))
            band.append(b)
            keys.append(k)
            out_sigs.append(s)
    return {
        "bucket": np.array(ids, dtype=np.int64),
        "band": np.array(band, dtype=np.int32),
        "key": np.array(keys, dtype=np.int64),
        "sig": out_sigs,
    }


def confirm_bucket(group: dict[str, Any], rows: int, num_perm: int, threshold: float):
    """Confirmed (later, earlier) pairs of one bucket; equal band bytes checked again, so a
    64-bit id collision cannot add a pair ``Deduper`` would not have considered."""
    later, first = [], []
    if len(group["key"]) > 1:
        sigs = np.frombuffer(b"".join(group["sig"]), dtype=np.uint32).reshape(-1, num_perm)
        b = int(group["band"][0])
        raw = band_slices(sigs[:, b * rows : (b + 1) * rows], 1, rows)[0]
        _, same = np.unique(raw, return_inverse=True)
        for g in np.unique(same):
            m = same == g
            if m.sum() > 1:
                for j, i in bucket_pairs(group["key"][m], sigs[m], threshold):
                    later.append(j)
                    first.append(i)
    return {"later": np.array(later, dtype=np.int64), "first": np.array(first, dtype=np.int64)}


def dup_hashes(group: dict[str, Any]) -> dict[str, Any]:
    keys = group["key"] if len(group["key"]) > 1 else group["key"][:0]
    return {"key": keys.astype(np.int64)}


def involved_rows(batch: dict[str, Any], ref) -> dict[str, Any]:
    import ray

    m = np.isin(batch["key"], ray.get(ref))
    return {c: batch[c][m] for c in ("key", "block", "erank", "hash", "has_sig")}


def final_rows(batch: dict[str, Any], ref) -> dict[str, Any]:
    import ray

    keys, codes = ray.get(ref)  # involved keys (ascending) and their reason codes (0 = kept)
    code = batch["q"].copy()
    if len(keys):
        at = np.minimum(np.searchsorted(keys, batch["key"]), len(keys) - 1)
        hit = batch["eligible"] & (keys[at] == batch["key"])
        code[hit] = codes[at[hit]]
    return {
        "score": batch["score"],
        "reason": code,
        "n_bytes": batch["n_bytes"],
        "score_s": batch["score_s"],
    }


def _records(batch: dict[str, Any]) -> np.ndarray:
    rec = np.zeros(len(batch["score"]), dtype=RECORD)
    rec["score"], rec["reason"] = batch["score"], batch["reason"]
    return rec


def _chunk_apply(batch: dict[str, Any], fn, args: tuple) -> dict[str, list]:
    return {"r": [pickle.dumps(fn(_records(batch), *args), protocol=5)]}


def score_dedup_select(
    pool_paths: list[str],
    model: MineModel,
    seed_hashes: np.ndarray,
    seed_sigs: np.ndarray | None,
    params: MineParams,
    scratch,
    batch_docs: int,
) -> dict:
    """Pass 2 on Ray: appends the final records to ``scratch`` in pool order and returns the
    counters, the cutoff and the shuffle statistics."""
    import os

    import pyarrow as pa
    import ray

    from components.data.raydata import lines_dataset

    hp = params.hygiene
    files = {os.path.abspath(p): i for i, p in enumerate(pool_paths)}
    ds = lines_dataset(pool_paths)
    if ds is None:
        return _empty(params)
    state = {"model": model, "files": files, "seed_hashes": np.unique(seed_hashes)}
    rows = ds.map_batches(
        score_rows, batch_size=batch_docs, batch_format="numpy", fn_kwargs={"ref": ray.put(state)}
    ).materialize()

    # the relation: exact-duplicate candidates by hash, confirmed near pairs by band key
    dup = (
        rows.map_batches(
            _eligible, batch_format="numpy", fn_kwargs={"cols": ["key", "hash"], "need_sig": False}
        )
        .groupby("hash")
        .map_groups(dup_hashes, batch_format="numpy")
    )
    involved_keys = {int(k) for b in dup.iter_batches(batch_format="numpy") for k in b["key"]}
    pairs: set[tuple[int, int]] = set()
    if hp.near_dedup:
        bands, r = lsh_bands(
            hp.near_dup_threshold, hp.num_perm, 1 - hp.lsh_recall_weight, hp.lsh_recall_weight
        )
        sig_rows = rows.map_batches(
            _eligible, batch_format="numpy", fn_kwargs={"cols": ["key", "sig"], "need_sig": True}
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
        confirmed = banded.groupby("bucket").map_groups(
            confirm_bucket,
            batch_format="numpy",
            fn_kwargs={"threshold": hp.near_dup_threshold, **kw},
        )
        for b in confirmed.iter_batches(batch_format="numpy"):
            pairs.update(zip(b["later"].tolist(), b["first"].tolist(), strict=True))
        involved_keys.update(k for pair in pairs for k in pair if k >= 0)

    # ranks among eligible documents (what dedup_max_docs counts): block offsets + rank in block
    per_block = rows.select_columns(["block", "eligible"]).groupby("block").sum("eligible")
    offsets = sorted((int(b["block"]), int(b["sum(eligible)"])) for b in per_block.iter_rows())
    starts = dict(
        zip(
            [b for b, _ in offsets],
            np.cumsum([0] + [n for _, n in offsets])[:-1].tolist(),
            strict=True,
        )
    )
    n_eligible = sum(n for _, n in offsets)
    wanted = np.array(sorted(involved_keys), dtype=np.int64)
    got = {"key": [], "rank": [], "hash": [], "has_sig": []}
    if len(wanted):
        picked = rows.map_batches(
            involved_rows, batch_format="numpy", fn_kwargs={"ref": ray.put(wanted)}
        )
        for b in picked.iter_batches(batch_format="numpy"):
            got["key"].extend(b["key"].tolist())
            got["rank"].extend(
                (starts[int(k)] + int(e) for k, e in zip(b["block"], b["erank"], strict=True))
            )
            got["hash"].extend(b["hash"].view(np.uint64).tolist())
            got["has_sig"].extend(b["has_sig"].tolist())
    order = np.argsort(np.array(got["key"], dtype=np.int64), kind="stable")
    involved = Involved(
        keys=np.array(got["key"], dtype=np.int64)[order],
        ranks=np.array(got["rank"], dtype=np.int64)[order],
        hashes=np.array(got["hash"], dtype=np.uint64)[order],
        has_sig=np.array(got["has_sig"], dtype=bool)[order],
    )
    decisions, unindexed = resolve(involved, pairs, n_eligible, hp)
    codes = np.array(
        [_CODE[decisions[k]] if decisions[k] else 0 for k in involved.keys.tolist()], dtype=np.uint8
    )
    ref = ray.put((involved.keys, codes))
    final = rows.map_batches(final_rows, batch_format="numpy", fn_kwargs={"ref": ref}).materialize()

    def map_chunks(fn, *args) -> list:
        out = final.map_batches(
            _chunk_apply, batch_format="numpy", fn_kwargs={"fn": fn, "args": args}
        )
        return [pickle.loads(x) for b in out.iter_batches(batch_format="numpy") for x in b["r"]]

    cutoff = cutoff_from(map_chunks, params)
    counts: Counter = Counter()
    n_bytes, score_s = 0, 0.0
    for b in final.iter_batches(batch_format="numpy"):
        rec = _records(b)
        scratch.write(rec.tobytes())
        for code, n in enumerate(np.bincount(rec["reason"], minlength=len(REASONS) + 1).tolist()):
            if n:
                counts[REASONS[code - 1] if code else "clean"] += n
        n_bytes += int(b["n_bytes"].sum())
        score_s += float(b["score_s"].sum())
    return {
        "counts": counts,
        "n_bytes": n_bytes,
        "score_seconds": score_s,
        "unindexed": unindexed,
        "cutoff": cutoff,
        "dedup": {
            "involved_docs": len(involved.keys),
            "pairs": len(pairs),
            "eligible_docs": n_eligible,
        },
    }


def _empty(params: MineParams) -> dict:
    return {
        "counts": Counter(),
        "n_bytes": 0,
        "score_seconds": 0.0,
        "unindexed": 0,
        "cutoff": cutoff_from(lambda fn, *a: [], params),
        "dedup": {"involved_docs": 0, "pairs": 0, "eligible_docs": 0},
    }
