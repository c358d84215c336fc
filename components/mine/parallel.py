"""Shards of a corpus and an ordered, bounded-memory parallel map over them."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

from components.data.shards import read_documents

WORKER: dict = {}


def init_worker(state: dict) -> None:
    WORKER.update(state)


def parallel_map(
    fn: Callable, items: Iterable, workers: int, state: dict
) -> Iterator[tuple[object, object]]:
    """(shard, fn(shard texts)) in order, at most 2 x workers shards in flight (bounded memory).

    ``state`` (the model) is sent once per worker, not once per shard.
    """
    if workers <= 1:
        init_worker(state)
        try:
            for item in items:
                yield item, fn(item[1])
        finally:
            WORKER.clear()  # do not keep the model alive after the pass
        return
    import multiprocessing as mp

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ctx.Pool(workers, initializer=init_worker, initargs=(state,)) as pool:
        pending: deque = deque()
        for item in items:
            pending.append((item, pool.apply_async(fn, (item[1],))))
            if len(pending) >= 2 * workers:
                head, res = pending.popleft()
                yield head, res.get()
        while pending:
            head, res = pending.popleft()
            yield head, res.get()


def local_mapper(jobs: dict, workers: int, shard_docs: int, shard_mb: float):
    """The local engine's mapper (``core.Mapper``): shards read here, ``jobs[block]`` (the block
    function reading its state from ``WORKER``) on a process pool when ``workers`` > 1."""

    def run(block: Callable, paths: list[str], state: dict, want_texts: bool):
        items = shards(paths, shard_docs, shard_mb)
        for (_, texts), result in parallel_map(jobs[block], items, workers, state):
            yield texts, result

    return run


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
