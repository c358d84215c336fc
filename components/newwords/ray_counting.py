"""Exact Chinese n-gram counting on Ray Data: per-block tables, hash-partitioned merge.

1. map     each block of documents -> ``counting.shard_tables`` (the local counter's own
           per-shard function), split by a hash of the n-gram key into ``parts`` partitions.
2. shuffle ``groupby(part)`` (Ray Data's sort shuffle): every partition's rows meet on one
           worker, so no worker ever holds all counts.
3. reduce  per partition: ``counting.merge`` (exact sums, no pruning), then the rows no later
           step can read are dropped there, where the partition is whole (below).
4. sides   a second shuffle sends each extension row to its parent's partition, where the
           neighbour statistics of the candidates are summed (``ray_sides.py``).
5-7.       cohesion, scores and each partition's top_k in the partitions (``ray_scores.py``,
           which drives the whole Chinese path): the driver gets the top rows, not the counts.

Steps 1-4 are ``shuffled``, which the English path (``english_ray.py``) shares with its own
map, reduce and neighbour routing. The shuffles after counting (neighbours, ask, answer) share
one message convention: each partition's own payload, untagged, goes to itself with the bytes
shuffled so far; every other message is a string-tagged tuple (``Outbox`` sends, ``inbox``
opens).

What the reduce keeps (it changes no score): scoring reads domain n-grams of count >= min_count
(candidates), their prefixes and suffixes (at least as frequent), and one-character extensions
of count > 1 (neighbour entropy; single occurrences add 1*log 1 = 0); so domain rows of count 1
go, except at length 1 (whose sum is the number of units). Background counts are only looked up
for domain candidates, and a key's domain and background rows share its partition, so background
rows of other keys go too. Length-1 tables stay whole on both sides.
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Callable

import numpy as np

from components.data.raydata import batch_documents, lines_dataset, use_sort_shuffle
from components.data.shards import data_bytes
from components.newwords.counting import (
    Table,
    lookup,
    merge,
    partition_of,
    shard_tables,
)
from components.newwords.english import blocks

# Input bytes per partition: a partition's merged tables grow with the distinct n-grams it holds
# (~15x the text on news, measured: 536 MB of partitioned tables shuffled for 34.5 MB), so the
# partition count follows the input and the largest reducer stays flat as the corpus grows.
MB_PER_PARTITION = 16


def partitions_for(input_bytes: int, cpus: int) -> int:
    return max(2, cpus, math.ceil(input_bytes / 1e6 / MB_PER_PARTITION))


def _split(tables: list[Table], parts: int) -> list[list[Table]]:
    by_part: list[list[Table]] = [[] for _ in range(parts)]
    for t in tables:
        b = partition_of(t["keys"], parts)
        for r in range(parts):
            by_part[r].append({f: col[b == r] for f, col in t.items()})
    return by_part


def _chunks(texts, chars: int):
    """Texts joined by \n (a boundary, as in the local shards) in pieces of about ``chars``."""
    return ("\n".join(b) for b in blocks(texts, chars))


def count_block(batch: dict, role: str, max_len: int, parts: int, chunk_chars: int) -> dict:
    """Map: one block's tables, one output row per partition (pickled tables, in-memory only).

    The block is counted in pieces of ``chunk_chars`` (newwords.shard_mb, as the local counter
    does): per-position arrays of a whole block of long documents would cost ~70 bytes per
    character (measured: a 2.4 GB worker on 500 news documents), its unique rows far less."""
    tables = None
    chars = role == "domain"  # the candidates' characters, for scoring in the partitions
    for text in _chunks((d.text for d in batch_documents(batch)), chunk_chars):
        part = shard_tables(text, max_len, chars=chars)
        tables = (
            part if tables is None else [merge([a, b]) for a, b in zip(tables, part, strict=True)]
        )
    rows = _split(tables or [], parts)
    return {
        "part": np.arange(parts),
        "payload": [pickle.dumps((role, t), protocol=5) for t in rows],
    }


def _reduce(domain: list[Table], background: list[Table], min_count: int) -> tuple:
    d_keep = [domain[0]]
    for t in domain[1:]:
        d_keep.append({f: col[t["counts"] > 1] for f, col in t.items()})
    b_keep = [background[0]]
    for n in range(1, len(background)):
        t, d = background[n], domain[n]
        cand = {"keys": d["keys"][d["counts"] >= min_count]}
        _, found = lookup(cand, t["keys"])
        b_keep.append({f: col[found] for f, col in t.items()})
    return d_keep, b_keep


def merge_partition(group: dict, max_len: int, min_count: int) -> dict:
    """Reduce: exact merged tables of one partition, with what scoring cannot read dropped."""
    parts = {"domain": [[] for _ in range(max_len)], "background": [[] for _ in range(max_len)]}
    volume = 0
    for blob in group["payload"]:
        volume += len(blob)
        role, tables = pickle.loads(blob)
        for n, t in enumerate(tables):
            parts[role][n].append(t)
    merged = {role: [merge(ts) for ts in lists] for role, lists in parts.items()}
    domain, background = _reduce(merged["domain"], merged["background"], min_count)
    return {
        "part": [int(group["part"][0])],
        "payload": [pickle.dumps((domain, background), protocol=5)],
        "shuffle_bytes": [volume],
    }


def shuffled(
    sides: list[tuple[list[str], dict]],
    map_fn: Callable,
    reduce_fn: Callable,
    reduce_kwargs: dict,
    *,
    batch_docs: int,
    parts: int = 0,
    then: tuple[Callable, Callable, dict] | None = None,
):
    """Steps 1-3 (and 4 with ``then``) as a lazy Ray Dataset of one row per partition
    (``part``, pickled ``payload``, ``shuffle_bytes``), and the number of partitions.

    ``sides``: (JSONL paths, ``map_fn`` keyword arguments) per input role. ``map_fn(batch,
    parts=, **kw)`` returns one row per partition (``part``, pickled ``payload``);
    ``reduce_fn(group, **reduce_kwargs)`` merges one partition's rows into one row (``part``,
    pickled ``payload``, ``shuffle_bytes``). ``then`` = (route, finish, route kwargs): a second
    shuffle of the reduced rows, ``route`` addressing rows to partitions and ``finish`` reducing
    each (Chinese neighbour statistics, ``ray_sides``)."""
    import ray

    parts = parts or partitions_for(
        sum(data_bytes(p) for paths, _ in sides for p in paths),
        int(ray.cluster_resources().get("CPU", 2)),
    )
    mapped = []
    for paths, kw in sides:
        ds = lines_dataset(paths) if paths else None
        if ds is not None:
            mapped.append(
                ds.map_batches(
                    map_fn,
                    batch_size=batch_docs,
                    batch_format="numpy",
                    fn_kwargs={"parts": parts, **kw},
                )
            )
    union = mapped[0].union(*mapped[1:]) if len(mapped) > 1 else mapped[0]
    # One reduce task per partition, partitions sized by the input: a worker holds one
    # partition's tables, however large the corpus (the hash shuffle's aggregators held
    # volume / CPUs: 7.8 GB at x16 news, docs/benchmarks.md).
    use_sort_shuffle(union)
    reduced = union.groupby("part", num_partitions=parts).map_groups(
        reduce_fn, batch_format="numpy", fn_kwargs=reduce_kwargs
    )
    if then is not None:  # a second shuffle over the reduced partitions (ray_sides.py)
        route, finish, route_kwargs = then
        routed = reduced.map_batches(
            route, batch_format="numpy", fn_kwargs={"parts": parts, **route_kwargs}
        )
        reduced = routed.groupby("part", num_partitions=parts).map_groups(
            finish, batch_format="numpy"
        )
    return reduced, parts


class Outbox:
    """The rows a shuffle step emits: each partition's own payload passed on to itself unchanged,
    and messages (pickled here) to other partitions."""

    def __init__(self) -> None:
        self.rows: dict[str, list] = {"part": [], "payload": [], "shuffle_bytes": []}

    def keep(self, part: int, blob: bytes, volume: int) -> None:
        self._add(part, blob, volume)

    def send(self, part: int, message: tuple) -> None:
        blob = pickle.dumps(message, protocol=5)
        self._add(part, blob, len(blob))

    def _add(self, part: int, blob: bytes, volume: int) -> None:
        self.rows["part"].append(int(part))
        self.rows["payload"].append(blob)
        self.rows["shuffle_bytes"].append(int(volume))


def batch_rows(batch: dict):
    """(partition, own payload, bytes shuffled so far) of each row of a map batch."""
    return zip(batch["part"], batch["payload"], batch["shuffle_bytes"], strict=True)


def inbox(group: dict) -> tuple[int, bytes | None, object, list[tuple], int]:
    """A reduce group opened: (partition, its own payload and what it unpickles to, None where
    the partition has no rows; the messages others sent, tuples tagged by a string ("ext",
    "ask", "reply"; an own payload is never tagged); the bytes received)."""
    own_blob = own = None
    messages, volume = [], 0
    for blob, v in zip(group["payload"], group["shuffle_bytes"], strict=True):
        volume += int(v)
        msg = pickle.loads(blob)
        if isinstance(msg[0], str):
            messages.append(msg)
        else:
            own_blob, own = blob, msg
    return int(group["part"][0]), own_blob, own, messages, volume


def shuffle_stats(parts: int, volume: int, start: float) -> dict:
    """The ``shuffle`` block of a Ray run's metrics (the same keys for zh and en)."""
    return {
        "partitions": parts,
        "shuffle_mb": round(volume / 1e6, 3),
        "count_seconds": round(time.perf_counter() - start, 3),
    }
