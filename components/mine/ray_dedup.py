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

import hashlib
import pickle
from collections import Counter
from typing import Any

import numpy as np

from components.data.readers import DocumentReader
from components.mine.dedup import Involved, band_slices, bucket_pairs, resolve
from components.mine.filters import lsh_bands
from components.mine.outputs import add_hists, cutoff_from, hist_edges, output_lines
from components.mine.params import MineParams
from components.mine.shard import CODE, REASONS, RECORD, MineModel, score_texts

# key = file index << 40 | line << 8 | text field: pool order, whatever the blocks are
_LINE_SHIFT, _FILE_SHIFT = 8, 40


def _i64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.int64)


def score_rows(batch: dict[str, Any], ref) -> dict[str, Any]:
    import ray

    state = ray.get(ref)
    keys, texts, lines, readers = [], [], [], {}
    for path, lineno, line in zip(batch["path"], batch["lineno"], batch["line"], strict=True):
        path = str(path)
        reader = readers.get(path) or readers.setdefault(path, DocumentReader(path))
        base = (state["files"][path] << _FILE_SHIFT) | (int(lineno) << _LINE_SHIFT)
        for field, doc in enumerate(reader.jsonl_line(int(lineno), str(line))):
            keys.append(base | field)
            texts.append(doc.text)
            lines.append(str(line))  # the writing pass makes the Document again from it
    r = score_texts(texts, state["model"])
    q = np.array([CODE[x] if x else 0 for x in r.quality], dtype=np.uint8)
    q[(q == 0) & np.isin(r.hashes, state["seed_hashes"])] = CODE["in_seed"]
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
        "line": lines,
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


def _codes(batch: dict[str, Any], keys: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Final reason codes of a batch: quality and seed codes, then ``resolve``'s decisions."""
    code = batch["q"].copy()
    if len(keys):
        at = np.minimum(np.searchsorted(keys, batch["key"]), len(keys) - 1)
        hit = batch["eligible"] & (keys[at] == batch["key"])
        code[hit] = codes[at[hit]]
    return code


def _kept(score, code, key, cutoff: float, tied: np.ndarray) -> np.ndarray:
    """The budget: clean and above the cutoff, or one of the first ``ties`` at it (``tied``)."""
    clean = code == 0
    return clean & ((score > cutoff) | ((score == cutoff) & np.isin(key, tied)))


def final_rows(batch: dict[str, Any], ref) -> dict[str, Any]:
    import ray

    keys, codes = ray.get(ref)  # involved keys (ascending) and their reason codes (0 = kept)
    return {
        "key": batch["key"],
        "score": batch["score"],
        "reason": _codes(batch, keys, codes),
        "n_bytes": batch["n_bytes"],
        "score_s": batch["score_s"],
    }


def at_cutoff(batch: dict[str, Any], cutoff: float) -> dict[str, Any]:
    return {"key": batch["key"][(batch["reason"] == 0) & (batch["score"] == cutoff)]}


def block_totals(batch: dict[str, Any], cutoff: float, tied: np.ndarray, edges) -> dict:
    """Counters, selected documents and bytes, and the plot's histograms of a block."""
    score, code = batch["score"], batch["reason"]
    kept = _kept(score, code, batch["key"], cutoff, tied)
    hists = [np.zeros(50, np.int64), np.zeros(50, np.int64)]
    add_hists(hists, edges, score, code == 0, kept)
    out = {
        "codes": np.bincount(code, minlength=len(REASONS) + 1),
        "n_sel": int(kept.sum()),
        "sel_bytes": int(batch["n_bytes"][kept].sum()),
        "n_bytes": int(batch["n_bytes"].sum()),
        "score_s": float(batch["score_s"].sum()),
        "hists": hists,
    }
    return {"r": [pickle.dumps(out, protocol=5)]}


def format_rows(batch: dict[str, Any], ref) -> dict[str, Any]:
    """Each document's lines of scores.jsonl and selected.jsonl, made by ``output_lines``."""
    import ray

    st = ray.get(ref)
    code = _codes(batch, st["keys"], st["codes"])
    kept = _kept(batch["score"], code, batch["key"], st["cutoff"], st["tied"])
    scores, selected, readers = [], [], {}
    for key, line, s, c, k in zip(
        batch["key"].tolist(),
        batch["line"],
        batch["score"].tolist(),
        code.tolist(),
        kept.tolist(),
        strict=True,
    ):
        path = st["paths"][key >> _FILE_SHIFT]
        reader = readers.get(path) or readers.setdefault(path, DocumentReader(path))
        lineno, field = (key >> _LINE_SHIFT) & ((1 << 32) - 1), key & ((1 << _LINE_SHIFT) - 1)
        doc = list(reader.jsonl_line(lineno, str(line)))[field]
        a, b = output_lines(doc, s, c, k, REASONS)
        scores.append(a)
        selected.append(b or "")
    return {"key": batch["key"], "scores": scores, "selected": selected}


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
    out,
    batch_docs: int,
) -> dict:
    """Passes 2 and 3 on Ray: writes ``out``/{scores,selected}.jsonl and returns the counters,
    the cutoff, the selection's totals and histograms, and the dedup statistics."""
    import os

    import pyarrow as pa
    import ray

    from components.data.raydata import lines_dataset

    hp = params.hygiene
    files = {os.path.abspath(p): i for i, p in enumerate(pool_paths)}
    ds = lines_dataset(pool_paths)
    if ds is None:
        return _empty(params, out)
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
        [CODE[decisions[k]] if decisions[k] else 0 for k in involved.keys.tolist()], dtype=np.uint8
    )
    ref = ray.put((involved.keys, codes))
    final = rows.map_batches(final_rows, batch_format="numpy", fn_kwargs={"ref": ref}).materialize()

    def map_chunks(fn, *args) -> list:
        out = final.map_batches(
            _chunk_apply, batch_format="numpy", fn_kwargs={"fn": fn, "args": args}
        )
        return [pickle.loads(x) for b in out.iter_batches(batch_format="numpy") for x in b["r"]]

    cut = cutoff_from(map_chunks, params)
    totals = _write(rows, final, cut, {"keys": involved.keys, "codes": codes}, pool_paths, out)
    dedup = {"involved_docs": len(involved.keys), "pairs": len(pairs), "eligible_docs": n_eligible}
    return {**totals, "unindexed": unindexed, "cutoff": cut, "dedup": dedup}


def _write(rows, final, cut: tuple, decided: dict, pool_paths: list[str], out) -> dict:
    """Counters and totals summed over blocks; scores.jsonl and selected.jsonl formatted by the
    workers into ordered parts (``raysink``), then assembled into the canonical files."""
    import os
    import shutil

    import ray

    from components.data.raysink import OrderedPartsSink, assemble
    from components.data.writers import atomic_open

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
    for name in ("scores", "selected"):
        with atomic_open(out / f"{name}.jsonl", "wb") as f:
            assemble(parts, name, f)
    shutil.rmtree(parts)
    return {
        "counts": counts,
        "n_bytes": t["n_bytes"],
        "score_seconds": t["score_s"],
        "n_sel": t["n_sel"],
        "sel_bytes": t["sel_bytes"],
        "hists": (edges, *hists),
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
