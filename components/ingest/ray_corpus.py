"""A corpus role (general, domain) ingested wholly on Ray Data when its sources are plain UTF-8
JSONL: reading, normalisation, exact dedup and writing, with no pass of the corpus through this
process. Other sources (txt, csv/tsv, gzip, other encodings) and per-source caps keep the
driver-read path of ``ray_driver.prepared``, which no Ray datasource reproduces exactly.

- Reading: Ray's ``read_binary_files`` split into lines in the workers (``raydata``), each line
  made into Documents by the source's own ``DocumentReader`` (same fields, ids and errors).
- Per document: ``core.prepare`` (the local step), keyed by its position (``raydata.row_key``).
- Exact dedup keeps each text's first occurrence: a shuffle by content hash sends every copy of
  a text to one group, which returns its later positions; their keys come back to this process
  (8 bytes a duplicate) and go to the writers.
- Writing: the workers format the kept documents with ``dump_jsonl_line`` (what ``write_jsonl``
  writes) into ordered parts (``raysink``), assembled into the role's file or left as a shard
  folder (``execution.shards``).
- Errors: any failure of the Ray pass is followed by the local reader over the sources, so a
  bad input is reported exactly as ``engine: local`` reports it (file, line, byte offset, the
  params key to change); a failure the local reader does not reproduce is re-raised as Ray's.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from components.data.document import Document
from components.data.raysink import counts_column, parts_folder
from components.data.readers import DocumentReader, detect_format
from components.data.writers import dump_jsonl_line
from components.domain import SourceSpec
from components.ingest.core import Links, open_source, prepare
from components.ingest.params import IngestParams

_UTF8 = {"utf-8", "utf8", "utf-8-sig"}
# outcome codes of a document; the counters' names are the local ones (core.clean)
_SHORT, _KEPT, _DUP = 1, 2, 3
REASON = {_SHORT: "dropped_too_short", _KEPT: "kept", _DUP: "dropped_exact_dup"}


def why_not(specs: list[SourceSpec], params: IngestParams) -> str | None:
    """Why this role cannot be ingested wholly on Ray (None: it can)."""
    if params.max_docs_per_source:
        return "ingest.max_docs_per_source caps each source in reading order"
    for spec in specs:
        fmt = spec.format or detect_format(spec.path)
        if fmt != "jsonl" or not spec.path.endswith(".jsonl") or spec.encoding.lower() not in _UTF8:
            return f"{spec.path} is not plain UTF-8 JSONL (*.jsonl)"
    return None


def _reader_kwargs(reader: DocumentReader) -> dict[str, Any]:
    return {
        "fmt": reader.fmt,
        "encoding": reader.encoding,
        "text_field": reader.text_fields,
        "label_field": reader.label_field,
        "id_field": reader.id_field,
        "columns": reader.columns,
        "require_label": reader.require_label,
        "allow_symlinks": True,  # checked by this process's reader already
        "hints": reader.hints,
    }


def prepare_rows(batch: dict[str, Any], ref) -> dict[str, Any]:
    """Each document's key, outcome before dedup, content hash and output line."""
    import ray

    from components.data.raydata import batch_lines, row_key

    st = ray.get(ref)
    keys, codes, hashes, out = [], [], [], []
    make = lambda path: DocumentReader(path, **st["kwargs"][path])  # noqa: E731
    for path, lineno, field, _, doc in batch_lines(batch, make):
        keys.append(row_key(st["files"][path], lineno, field))
        ready = prepare(doc.text, st["params"])
        if ready is None:
            codes.append(_SHORT)
            hashes.append(0)
            out.append("")
            continue
        text, h = ready
        row = Document(id=doc.id, text=text, label=doc.label, metadata=doc.metadata).to_json()
        codes.append(_KEPT)
        hashes.append(h)
        out.append(dump_jsonl_line(row))
    return {
        "key": np.array(keys, dtype=np.int64),
        "code": np.array(codes, dtype=np.int8),
        "hash": np.array(hashes, dtype=np.uint64).view(np.int64),
        "out": out,
    }


def _kept_hashes(batch: dict[str, Any]) -> dict[str, Any]:
    m = batch["code"] == _KEPT
    return {"key": batch["key"][m], "hash": batch["hash"][m]}


def _later_copies(group: dict[str, Any]) -> dict[str, Any]:
    keys = np.sort(group["key"])
    return {"key": keys[1:] if len(keys) > 1 else keys[:0]}


def _final(batch: dict[str, Any], ref) -> dict[str, Any]:
    """Duplicates marked, their lines emptied; the block's counters by outcome."""
    import ray

    dups = ray.get(ref)
    code = batch["code"].copy()
    if len(dups):
        at = np.minimum(np.searchsorted(dups, batch["key"]), len(dups) - 1)
        code[(code == _KEPT) & (dups[at] == batch["key"])] = _DUP
    out = [line if c == _KEPT else "" for line, c in zip(batch["out"], code.tolist(), strict=True)]
    counts = {int(c): int((code == c).sum()) for c in np.unique(code)}
    return {"key": batch["key"], "out": out, "counts": counts_column(counts, len(code))}


def ingest_role(
    specs: list[SourceSpec],
    params: IngestParams,
    key: str,
    dest: Path,
    *,
    allow_links: bool,
    links: Links,
    batch_docs: int,
    shards: bool,
) -> Counter:
    """Write the role's canonical output at ``dest`` (a file, or a shard folder with
    ``shards``); returns the local counters (read, dropped_*, kept)."""
    from components.data.raydata import ClusterFailure, failed_in_block_code, file_indices

    readers = [
        open_source(spec, f"{key}[{i}]", allow_links=allow_links, links=links)
        for i, spec in enumerate(specs)
    ]
    for reader in readers:  # empty files, byte-order marks, a bad head: the local errors
        head = reader.lines()
        next(head, None)
        head.close()
    paths = [r.path for r in readers]
    files = file_indices(paths)
    kwargs = {os.path.abspath(r.path): _reader_kwargs(r) for r in readers}
    try:
        return _run(paths, files, kwargs, params, dest, batch_docs, shards)
    except Exception as err:
        if not failed_in_block_code(err):  # the cluster's fault: re-reading here would hide it
            raise ClusterFailure("ingest", key, err) from err
        for reader in readers:  # the located error a local run gives, if the input has one
            for _ in reader:
                pass
        raise
    finally:
        shutil.rmtree(parts_folder(dest), ignore_errors=True)


def _run(paths, files, kwargs, params: IngestParams, dest: Path, batch_docs: int, shards: bool):
    import ray

    from components.data.raydata import lines_dataset, shuffle_parts, use_small_shuffle
    from components.data.raysink import OrderedPartsSink, read_counts, write_output

    counts: Counter = Counter()  # "read" first, as the local loop counts it
    ds = lines_dataset(paths)
    if ds is None:  # every source empty of lines: the local reader says so first
        dest.write_bytes(b"")
        return counts
    state = ray.put({"files": files, "kwargs": kwargs, "params": params})
    rows = ds.map_batches(
        prepare_rows, batch_size=batch_docs, batch_format="numpy", fn_kwargs={"ref": state}
    ).materialize()
    n_docs = rows.count()
    dups = np.zeros(0, dtype=np.int64)
    if params.dedup and n_docs:
        use_small_shuffle(rows, n_docs)
        later = (
            rows.select_columns(["key", "code", "hash"])
            .map_batches(_kept_hashes, batch_format="numpy")
            .groupby("hash", num_partitions=shuffle_parts(n_docs))
            .map_groups(_later_copies, batch_format="numpy")
        )
        found = [b["key"] for b in later.iter_batches(batch_format="numpy")]
        dups = np.sort(np.concatenate(found)) if found else dups
    if n_docs:
        counts["read"] = n_docs
    final = rows.map_batches(_final, batch_format="numpy", fn_kwargs={"ref": ray.put(dups)})
    folder = parts_folder(dest)
    shutil.rmtree(folder, ignore_errors=True)
    # lines and counters in one streaming write: the final rows are not held in the store
    final.write_datasink(OrderedPartsSink(folder, {"out": "out", "counts": "counts"}))
    for block in read_counts(folder, "counts"):
        for code, n in block.items():
            counts[REASON[int(code)]] += n  # JSON keys are strings
    write_output(folder, "out", dest, shards)
    return counts
