"""Ray Data plumbing shared by the stages' Ray drivers (imported only under ``engine: ray``).

Inputs are the stages' canonical JSONL files, read through Ray's own datasource
(``read_binary_files``) and split into lines on ``\\n`` bytes in the workers. Not
``read_text``: it splits with ``str.splitlines``, which also breaks at U+2028, U+0085 and
other separators that canonical JSONL (``ensure_ascii=False``) keeps raw inside strings, and not
``read_json``: Arrow's schema inference would turn free-form ``metadata`` into structs padded
with nulls, so rows would not round-trip byte for byte. Each line becomes Documents through
``DocumentReader.jsonl_line``, the same code the local readers use.

A file is read whole by one read task (as ``read_text`` does): large corpora are expected as
many shards, which is also what makes the reads parallel.
"""

from __future__ import annotations

import codecs
import math
import os
import pickle
import re
from collections.abc import Callable, Iterator
from typing import Any

from components.data.document import POSITION, Document
from components.data.readers import DocumentReader
from components.errors import InputError

# A document's position as one int64, in input order whatever the blocks are:
# file index << 40 | line number << 8 | text field (files: the inputs with shard folders expanded).
LINE_SHIFT, FILE_SHIFT = 8, 40


def file_indices(paths: list[str]) -> dict[str, int]:
    """Index of each file of ``paths`` (shard folders expanded), by the absolute path that
    ``lines_dataset``'s ``path`` column holds."""
    from components.data.shards import expand

    return {p: i for i, p in enumerate(dict.fromkeys(os.path.abspath(f) for f in expand(paths)))}


def row_key(file: int, lineno: int, field: int) -> int:
    return (file << FILE_SHIFT) | (lineno << LINE_SHIFT) | field


def key_position(key: int) -> tuple[int, int, int]:
    """(file index, line number, text field) of a ``row_key``."""
    return key >> FILE_SHIFT, (key >> LINE_SHIFT) & ((1 << 32) - 1), key & ((1 << LINE_SHIFT) - 1)


# Rows per shuffle partition. Ray Data's default is 200 partitions whatever the size, which on
# a small pool costs more in per-partition tasks than the shuffle itself (15 s for 1,423
# documents on 2 cores, measured); here a partition holds up to this many rows.
ROWS_PER_PARTITION = 2_000_000


def shuffle_parts(rows: int) -> int:
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 2))
    return max(cpus, math.ceil(rows / ROWS_PER_PARTITION))


# Below this many rows a groupby uses Ray's task-based sort shuffle: the hash shuffle starts
# aggregator actors first (2-4 s a groupby on 2 cores for 20k rows, against 0.5 s; measured),
# which only pays off on large inputs.
SMALL_SHUFFLE_ROWS = 10_000_000


def use_small_shuffle(ds, rows: int) -> None:
    """Datasets derived from ``ds`` use the shuffle that suits ``rows`` (a Dataset plans with
    the context it was made from, not the current one)."""
    if rows < SMALL_SHUFFLE_ROWS:
        use_sort_shuffle(ds)


def use_sort_shuffle(ds) -> None:
    """Datasets derived from ``ds`` group with Ray's task-based sort shuffle: each reduce task
    holds one partition (not one aggregator actor per CPU holding its share of everything until
    it finalises, as the hash shuffle does), and map outputs spill to disk when the object store
    fills."""
    from ray.data.context import ShuffleStrategy

    ds.context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED


def failed_in_block_code(err: BaseException) -> bool:
    """Whether a failed Ray Data execution failed in the stage's own per-row or per-block code
    (Ray wraps that in ``UserCodeException``; the original class, an ``InputError`` say, does not
    survive the trip). On a canonical input that is the input's fault (bad JSON, bad UTF-8) until
    a local read says otherwise; anything else (a worker or node lost, the object store, the
    connection to the cluster) is the cluster's, and re-reading the input here would only hide it
    behind hours of local work."""
    from ray.exceptions import UserCodeException

    stack, seen = [err], set()
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        if isinstance(e, UserCodeException):
            return True
        seen.add(id(e))
        stack += [e.__cause__, e.__context__, getattr(e, "cause", None)]
    return False


class ClusterFailure(RuntimeError):
    """A Ray execution failed outside the stage's code: not the input's fault, so the stage
    exits 3 (``components/cli.py``) and the orchestrator retries it."""

    def __init__(self, stage: str, what: str, err: BaseException) -> None:
        said = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip().splitlines() or [""]
        super().__init__(
            f"[{stage}] {what}: the Ray execution failed outside the stage's code "
            f"({type(err).__name__}: {said[0][:200]}); the input was not re-read here. "
            "Check the Ray cluster (RAY_ADDRESS, its dashboard and logs) and retry, or run "
            "with execution.engine: local"
        )


def _split_lines(row: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for lineno, raw in enumerate(row["bytes"].split(b"\n"), 1):
        if lineno == 1 and raw.startswith(codecs.BOM_UTF8):  # as the local reader: not text
            raw = raw[len(codecs.BOM_UTF8) :]
        line = raw.decode("utf-8").rstrip("\r")
        if line.strip():
            out.append({"path": row["path"], "lineno": lineno, "line": line})
    return out


def lines_dataset(paths: list[str]):
    """A Ray Dataset of the non-empty lines of ``paths`` (columns path, lineno, line), in order;
    None when every file is empty (an absent part of the project)."""
    import ray

    from components.data.shards import expand

    paths = expand(paths)  # a shard folder is its parts, in order
    for path in paths:
        if not path.endswith(".jsonl"):
            raise InputError(
                path,
                "the ray engine reads canonical JSONL only",
                "run the ingest stage first (its outputs are JSONL), or use execution.engine: local",
            )
    full = [os.path.abspath(p) for p in paths if os.path.getsize(p) > 0]
    if not full:
        return None
    ds = ray.data.read_binary_files(full, include_paths=True)
    return ds.flat_map(_split_lines)


def batch_lines(
    batch: dict[str, Any], make_reader: Callable[[str], DocumentReader] = DocumentReader
) -> Iterator[tuple[str, int, int, str, Document]]:
    """(path, line number, text field index, raw line, Document) for each Document of a batch of
    ``lines_dataset`` rows, the Document exactly as the local reader makes it (``make_reader``:
    a raw input's reader, with its configured fields); the position is what stages that restore
    input order key their rows by."""
    readers: dict[str, DocumentReader] = {}
    for path, lineno, line in zip(batch["path"], batch["lineno"], batch["line"], strict=True):
        path, lineno, line = str(path), int(lineno), str(line)
        reader = readers.get(path) or readers.setdefault(path, make_reader(path))
        for field, doc in enumerate(reader.jsonl_line(lineno, line)):
            yield path, lineno, field, line, doc


def batch_documents(batch: dict[str, Any]) -> Iterator[Document]:
    """The Documents of a batch of ``lines_dataset`` rows, exactly as the local reader makes them."""
    for *_, doc in batch_lines(batch):
        yield doc


def _line_count(row: dict[str, Any]) -> dict[str, Any]:
    data = row["bytes"]  # lines as the local reader numbers them (a last one without \n counts)
    return {"path": row["path"], "n": data.count(b"\n") + int(bool(data) and data[-1:] != b"\n")}


def assembled_offsets(paths: list[str]) -> dict[str, int]:
    """For each file of ``paths`` (shard folders expanded), the lines before it in the file its
    folder's parts assemble into (0 for a plain file): a part's line + its offset is the line
    ``shards.ShardedReader`` gives. Counted by one Ray pass over the parts' bytes."""
    import ray

    from components.data.shards import is_shard_folder, shard_files

    offsets = {os.path.abspath(f): 0 for p in paths for f in shard_files(p)}
    parts = [os.path.abspath(f) for p in paths if is_shard_folder(p) for f in shard_files(p)]
    if not parts:
        return offsets
    rows = ray.data.read_binary_files(parts, include_paths=True).map(_line_count).iter_rows()
    counts = {str(r["path"]): int(r["n"]) for r in rows}
    for p in paths:
        at = 0
        for f in map(os.path.abspath, shard_files(p) if is_shard_folder(p) else []):
            offsets[f], at = at, at + counts.get(f, 0)
    return offsets


def _apply(
    batch: dict[str, Any], fn: Callable, state: Any, offsets: dict[str, int] | None = None
) -> dict[str, list]:
    docs = []
    for path, *_, doc in batch_lines(batch):
        if offsets:  # lines counted in the file a shard folder's parts assemble into
            doc.metadata[POSITION] += offsets[path]
        docs.append(doc)
    # The result goes back to the driver through Ray's object store, which pickles anyway; the
    # bytes never touch disk, so this is not the "no pickle on load" concern of checkpoints.
    return {"result": [pickle.dumps(fn(docs, state), protocol=5)]}


def ordered_block_map(
    paths: list[str],
    fn: Callable,
    state: Any,
    batch_docs: int,
    offsets: dict[str, int] | None = None,
) -> Iterator[Any]:
    """``fn(documents, state)`` for consecutive blocks of at most ``batch_docs`` documents of
    ``paths``, run on Ray workers, yielded in input order (the drivers merge sequentially).

    ``state`` (a fitted model, an index) is put in the object store once, not once per block.
    ``offsets`` (``assembled_offsets``): documents of shard folders numbered as in their file.
    """
    import ray

    ds = lines_dataset(paths)
    if ds is None:
        return
    ref = ray.put(state)
    kw = {"fn": fn, "ref": ref, "offsets": offsets}
    out = ds.map_batches(_apply_ref, batch_size=batch_docs, batch_format="numpy", fn_kwargs=kw)
    for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
        for blob in batch["result"]:
            yield pickle.loads(blob)


def _apply_ref(batch: dict[str, Any], fn: Callable, ref, offsets=None) -> dict[str, list]:
    import ray

    return _apply(batch, fn, ray.get(ref), offsets)
