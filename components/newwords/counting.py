"""Sharded, memory-bounded character n-gram counting for Chinese (numpy, all cores).

Text is cut into shards in the reading process; worker processes turn each shard into per-length
tables of unique n-grams (sorted 64-bit keys with counts) and merge them into their own running
tables. A table set that grows past ``max_entries`` is pruned lossy-counting style (entries at or
below a rising floor are dropped, the floor is reported), so memory is bounded by the cap and not
by the corpus. Below the cap nothing is dropped and the result equals an exact count.

Keys: characters map to 16-bit ids (CJK BMP ideographs; anything else is a boundary). n-grams of
up to 4 characters are packed exactly into 64 bits; longer ones are a 64-bit mix of the shorter key
and the next id (collision odds ~1e-6 at 10^7 distinct keys of one length). Keys are only ever
compared within one length. Every entry also keeps its (L-1)-prefix key, (L-1)-suffix key and last
character, which is what PMI splits, neighbour entropy and decoding back to text need.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FIELDS = ("keys", "counts", "prefix", "suffix", "last")
CHAR_FIELDS = ("head", "tail")  # rows of 5+ characters, on request (``shard_tables(chars=)``)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_EXT_A, _URO_END, _COMPAT, _COMPAT_END = 0x3400, 0x9FFF, 0xF900, 0xFAFF
_COMPAT_BASE = _URO_END - _EXT_A + 2  # first id of the compatibility block


def char_ids(text: str) -> np.ndarray:
    """uint64 ids (1..) of Han characters; 0 marks a boundary (punctuation, Latin, space...)."""
    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    ids = np.zeros(len(cp), dtype=np.uint64)
    han = (cp >= _EXT_A) & (cp <= _URO_END) & ~((cp >= 0x4DC0) & (cp <= 0x4DFF))
    ids[han] = cp[han] - _EXT_A + 1
    compat = (cp >= _COMPAT) & (cp <= _COMPAT_END)
    ids[compat] = cp[compat] - _COMPAT + _COMPAT_BASE
    return ids


def id_to_char(i: int) -> str:
    return chr(i - 1 + _EXT_A) if i < _COMPAT_BASE else chr(i - _COMPAT_BASE + _COMPAT)


def extend(prev: np.ndarray, ids: np.ndarray, length: int) -> np.ndarray:
    """Key of an n-gram of ``length`` from the key of its prefix and its last character id."""
    if length <= 4:
        return (prev << np.uint64(16)) | ids
    with np.errstate(over="ignore"):
        x = prev + ids * _GOLD + np.uint64(length)
        x ^= x >> np.uint64(30)
        x *= _MIX1
        x ^= x >> np.uint64(27)
        x *= _MIX2
        x ^= x >> np.uint64(31)
    return x


def key_of(word: str) -> int | None:
    """The table key of one word (None when it holds a non-Han character)."""
    ids = char_ids(word)
    if not len(ids) or not ids.all():
        return None
    key = ids[:1].copy()
    for n in range(2, len(ids) + 1):
        key = extend(key, ids[n - 1 : n], n)
    return int(key[0])


Table = dict[str, np.ndarray]


def empty_table() -> Table:
    return {f: np.zeros(0, dtype=np.uint16 if f == "last" else np.uint64) for f in FIELDS}


def _unique(
    keys: np.ndarray, counts: np.ndarray | None, extra: list[np.ndarray], *, runs: bool = False
):
    """Sort by key, sum counts of equal keys, keep the first row's extra columns.

    ``runs``: the keys are concatenated sorted tables; timsort merges such runs in linear time.
    """
    order = np.argsort(keys, kind="stable" if runs else None)
    sk = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], sk[1:] != sk[:-1]))) if len(sk) else sk
    if counts is None:
        summed = np.diff(np.append(starts, len(sk))).astype(np.uint64)
    else:
        summed = np.add.reduceat(counts[order], starts) if len(sk) else counts
    pick = order[starts]
    return sk[starts], summed, [e[pick] for e in extra]


def partition_of(keys: np.ndarray, parts: int) -> np.ndarray:
    """The partition of each key: the hash ``shard_tables`` splits by (the Ray shuffles too)."""
    with np.errstate(over="ignore"):
        return (((keys * _GOLD) >> np.uint64(40)) % np.uint64(parts)).astype(np.int64)


def shard_tables(
    text: str, max_len: int, part: tuple[int, int] = (0, 1), chars: bool = False
) -> list[Table]:
    """Unique n-grams of lengths 1..max_len of one text; index 0 is length 1.

    ``part=(rank, parts)`` keeps only keys whose hash falls in partition ``rank``: every worker
    scans all text (cheap) but sorts only its share of keys (the expensive part), and the
    workers' tables are disjoint, so combining them needs no summing.
    ``chars``: rows longer than 4 characters (hashed keys) also carry their characters, packed:
    ``head`` the first four, ``tail`` the rest (``CHAR_FIELDS``; up to 8 characters), so that a
    row's substrings can be keyed where the row is (``ray_scores``).
    """
    rank, parts = part
    ids = char_ids(text)
    ok1 = ids != 0
    key, ok = ids, ok1
    key4 = None  # packed 4-grams at every position (the head of longer rows)
    tables: list[Table] = []
    for n in range(1, max_len + 1):
        if n > 1:
            if len(key) <= 1:
                tables.append(empty_table())
                continue
            new_key = extend(key[:-1], ids[n - 1 :], n)
            ok = ok[:-1] & ok1[n - 1 :]
            prev_key, key = key, new_key
            if n == 4:
                key4 = key
        pos = np.flatnonzero(ok)
        if parts > 1:
            with np.errstate(over="ignore"):
                bucket = ((key[pos] * _GOLD) >> np.uint64(40)) % np.uint64(parts)
            pos = pos[bucket == rank]
        if n <= 4:  # packed keys: sort the keys alone, the other columns are bit fields
            keys, counts = np.unique(key[pos], return_counts=True)
            counts = counts.astype(np.uint64)
            last = keys & np.uint64(0xFFFF)
            prefix = keys >> np.uint64(16) if n > 1 else np.zeros(len(keys), dtype=np.uint64)
            suffix = keys & np.uint64((1 << (16 * (n - 1))) - 1)
        else:
            keys, counts, (rep,) = _unique(key[pos], None, [pos])
            prefix, suffix, last = prev_key[rep], prev_key[rep + 1], ids[rep + n - 1]
        table = {
            "keys": keys,
            "counts": counts,
            "prefix": prefix,
            "suffix": suffix,
            "last": last.astype(np.uint16),
        }
        if chars and n > 4:
            tail = np.zeros(len(rep), dtype=np.uint64)
            for j in range(4, n):
                tail = (tail << np.uint64(16)) | ids[rep + j]
            table.update(zip(CHAR_FIELDS, (key4[rep], tail), strict=True))
        tables.append(table)
    return tables


def merge(tables: Iterable[Table]) -> Table:
    """One table summing the counts of ``tables`` (of one length); a key's other columns
    (``FIELDS``, and ``CHAR_FIELDS`` where every table has them) are its first row's."""
    tables = [t for t in tables if len(t["keys"])]
    if not tables:
        return empty_table()
    if len(tables) == 1:
        return tables[0]
    extra = [f for f in tables[0] if f not in ("keys", "counts") and all(f in t for t in tables)]
    cat = {f: np.concatenate([t[f] for t in tables]) for f in ("keys", "counts", *extra)}
    keys, counts, cols = _unique(cat["keys"], cat["counts"], [cat[f] for f in extra], runs=True)
    return {"keys": keys, "counts": counts, **dict(zip(extra, cols, strict=True))}


def lookup(table: Table, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row index, found) of ``keys`` in a sorted table."""
    if not len(table["keys"]):
        return np.zeros(len(keys), dtype=np.int64), np.zeros(len(keys), dtype=bool)
    idx = np.searchsorted(table["keys"], keys)
    idx = np.minimum(idx, len(table["keys"]) - 1)
    return idx, table["keys"][idx] == keys


@dataclass
class TableSet:
    """Running per-length tables of one role (domain or background) with lazy merging."""

    max_len: int
    tables: list[Table] = field(default_factory=list)
    pending: list[list[Table]] = field(default_factory=list)
    pending_rows: int = 0
    prune_floor: int = 0

    def __post_init__(self) -> None:
        self.tables = self.tables or [empty_table() for _ in range(self.max_len)]
        self.pending = self.pending or [[] for _ in range(self.max_len)]

    def rows(self) -> int:
        return sum(len(t["keys"]) for t in self.tables) + self.pending_rows

    def add(self, shard: list[Table], max_entries: int) -> None:
        for n, t in enumerate(shard):
            self.pending[n].append(t)
            self.pending_rows += len(t["keys"])
        # Merging only when the buffer is as big as the table keeps total sort work O(N log N).
        if (
            self.pending_rows >= sum(len(t["keys"]) for t in self.tables)
            or self.rows() > max_entries
        ):
            self.flush()
            while self.rows() > max_entries:
                self.prune()

    def flush(self) -> None:
        self.tables = [merge([t, *p]) for t, p in zip(self.tables, self.pending, strict=True)]
        self.pending = [[] for _ in range(self.max_len)]
        self.pending_rows = 0

    def prune(self) -> None:
        self.prune_floor += 1
        self.tables = [
            {f: t[f][t["counts"] > self.prune_floor] for f in FIELDS} for t in self.tables
        ]

    def save(self, path: Path) -> None:
        self.flush()
        arrays = {f"{n}_{f}": t[f] for n, t in enumerate(self.tables) for f in FIELDS}
        np.savez(path, prune_floor=np.int64(self.prune_floor), **arrays)

    @classmethod
    def load(cls, path: Path, max_len: int) -> TableSet:
        with np.load(path) as z:
            tables = [{f: z[f"{n}_{f}"] for f in FIELDS} for n in range(max_len)]
            return cls(max_len, tables=tables, prune_floor=int(z["prune_floor"]))


def _worker(
    jobs: mp.Queue, done: mp.Queue, spill: str, rank: int, parts: int, max_len: int, cap: int
) -> None:
    try:
        sets = {role: TableSet(max_len) for role in ("domain", "background")}
        while (job := jobs.get()) is not None:
            role, text = job
            sets[role].add(shard_tables(text, max_len, (rank, parts)), cap)
        paths = {}
        for role, ts in sets.items():
            paths[role] = str(Path(spill) / f"{role}-{rank}.npz")
            ts.save(Path(paths[role]))
        done.put(("ok", rank, paths))
    except BaseException as exc:  # the parent must learn of it instead of waiting forever
        done.put(("error", rank, f"{type(exc).__name__}: {exc}"))


def auto_workers() -> int:
    """All cores, except on machines of two or fewer: there every worker re-scanning the text
    and shipping its tables back cost more than the second core gave (measured on 2 cores: 1
    process 1.7 s vs 2 processes 2.6 s on the 9 MB demo domain corpus, 6.8 vs 10.4 s on 35 MB of
    news; docs/benchmarks.md), so counting stays in the reading process."""
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else cores


@dataclass
class CountResult:
    domain: list[Table]
    background: list[Table]
    prune_floor: int
    workers: int


def count_sharded(
    shards: Iterable[tuple[str, str]],
    *,
    max_len: int,
    workers: int = 0,
    max_entries: int = 30_000_000,
    on_shard: Callable[[], None] | None = None,
) -> CountResult:
    """Count (role, text) shards on ``workers`` processes (0 = auto, see ``auto_workers``).

    ``max_entries`` caps the rows held per worker and role (about 30 bytes a row).
    """
    workers = workers or auto_workers()
    cap = max(1, max_entries // workers)
    if workers == 1:
        sets = {role: TableSet(max_len) for role in ("domain", "background")}
        for role, text in shards:
            sets[role].add(shard_tables(text, max_len), cap)
            if on_shard:
                on_shard()
        for ts in sets.values():
            ts.flush()
        floor = max(ts.prune_floor for ts in sets.values())
        return CountResult(sets["domain"].tables, sets["background"].tables, floor, 1)

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with tempfile.TemporaryDirectory(prefix="newwords-spill-") as spill:
        # Every worker sees every shard and keeps its hash partition of the keys.
        queues: list[mp.Queue] = [ctx.Queue(maxsize=2) for _ in range(workers)]
        done: mp.Queue = ctx.Queue()
        procs = [
            ctx.Process(
                target=_worker,
                args=(queues[r], done, spill, r, workers, max_len, cap),
                daemon=True,
            )
            for r in range(workers)
        ]
        for p in procs:
            p.start()
        try:
            for job in shards:
                for q in queues:
                    _put(q, job, procs)
                if on_shard:
                    on_shard()
            for q in queues:
                _put(q, None, procs)
            results = [_get(done, procs) for _ in procs]
        except BaseException:
            for p in procs:  # a reading error: the workers' partial counts are worthless
                p.terminate()
            raise
        finally:
            for p in procs:
                p.join(timeout=5)
                if p.is_alive():
                    p.terminate()
        errors = [r for r in results if r[0] == "error"]
        if errors:
            raise RuntimeError(f"counting worker {errors[0][1]} failed: {errors[0][2]}")
        merged, floor = {}, 0
        for role in ("domain", "background"):
            loaded = [TableSet.load(Path(r[2][role]), max_len) for r in results]
            floor = max([floor, *(ts.prune_floor for ts in loaded)])
            merged[role] = [merge(ts.tables[n] for ts in loaded) for n in range(max_len)]
    return CountResult(merged["domain"], merged["background"], floor, workers)


def _alive_check(procs: list) -> None:
    dead = [p for p in procs if p.exitcode not in (None, 0)]
    if dead:
        raise RuntimeError(
            f"counting worker exited with code {dead[0].exitcode} (out of memory? lower "
            "newwords.max_entries or newwords.workers)"
        )


def _put(q: mp.Queue, item, procs: list) -> None:
    while True:
        try:
            q.put(item, timeout=1)
            return
        except queue.Full:
            _alive_check(procs)


def _get(q: mp.Queue, procs: list):
    while True:
        try:
            return q.get(timeout=1)
        except queue.Empty:
            _alive_check(procs)
