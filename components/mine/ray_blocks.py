"""Per-block functions of mining's Ray pass (``ray_dedup`` wires them into Ray Data): each
takes a batch of rows and returns columns, calling the local engine's own pure functions."""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

import numpy as np

from components.data.raydata import batch_lines, key_position, row_key
from components.data.readers import DocumentReader
from components.mine.dedup import band_slices, bucket_pairs
from components.mine.outputs import add_hists, output_lines
from components.mine.shard import CODE, REASONS, RECORD, score_texts


def _i64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.int64)


def score_rows(batch: dict[str, Any], ref) -> dict[str, Any]:
    import ray

    state = ray.get(ref)
    keys, texts, lines = [], [], []
    for path, lineno, field, line, doc in batch_lines(batch):
        keys.append(row_key(state["files"][path], lineno, field))  # pool order
        texts.append(doc.text)
        lines.append(line)  # the writing pass makes the Document again from it
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


def eligible_rows(batch: dict[str, Any], cols: list[str], need_sig: bool) -> dict[str, Any]:
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
    """The rows of the involved documents, and the eligible documents per block (summed over
    batches by the driver: a block may arrive split across batches here)."""
    import ray

    wanted = ray.get(ref)
    m = np.isin(batch["key"], wanted) if len(wanted) else np.zeros(len(batch["key"]), bool)
    blocks, inverse = np.unique(batch["block"], return_inverse=True)
    eligible = np.bincount(inverse, weights=batch["eligible"], minlength=len(blocks))
    per_block = dict(zip(blocks.tolist(), eligible.tolist(), strict=True))
    rows = {c: batch[c][m] for c in ("key", "block", "erank", "hash", "has_sig")}
    return {"r": [pickle.dumps((rows, per_block), protocol=5)]}


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
        file, lineno, field = key_position(key)
        path = st["paths"][file]
        reader = readers.get(path) or readers.setdefault(path, DocumentReader(path))
        doc = list(reader.jsonl_line(lineno, str(line)))[field]
        a, b = output_lines(doc, s, c, k, REASONS)
        scores.append(a)
        selected.append(b or "")
    return {"key": batch["key"], "scores": scores, "selected": selected}


def _records(batch: dict[str, Any]) -> np.ndarray:
    rec = np.zeros(len(batch["score"]), dtype=RECORD)
    rec["score"], rec["reason"] = batch["score"], batch["reason"]
    return rec


def chunk_apply(batch: dict[str, Any], fn, args: tuple) -> dict[str, list]:
    return {"r": [pickle.dumps(fn(_records(batch), *args), protocol=5)]}
