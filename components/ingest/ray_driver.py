"""The Ray driver of ingest: ``core.prepare_block`` (normalisation, the length check, the content
hash) on Ray workers, over blocks of documents this process reads.

Why the driver reads and the workers normalise: ingest's inputs are raw formats (txt, csv/tsv
with quoted newlines and named columns, JSONL with configurable fields, gb18030 and UTF-16
files), and ``DocumentReader`` is what defines a Document, its id and every input error (line,
byte offset, the params key that fixes it). None of Ray's datasources reproduces that exactly
(``read_text`` splits at U+2028, ``read_csv``/``read_json`` infer Arrow schemas), so reading
through them could change ids, texts or errors. Normalisation is the per-document work; it runs
on the workers, and only the texts go out and (text, hash) pairs come back.

The decisions stay in ``core.clean`` in this process, in input order: exact dedup keeps the first
occurrence and dev/test rows leaked from train are dropped on the hashes the blocks return, so
outputs and counters are those of ``engine: local``. A bounded window of blocks is in flight, so
memory stays flat however large the inputs are.

A corpus role whose sources are all plain UTF-8 JSONL, which Ray's datasource does read exactly,
runs on Ray end to end instead (``whole_role``, ``ray_corpus.py``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from components.data.document import Document
from components.ingest.core import Prepared, prepare_block
from components.ingest.params import IngestParams


def prepared(batch_docs: int, window: int | None = None) -> Prepared:
    """A ``core.Prepared`` running ``prepare_block`` on Ray, ``batch_docs`` documents a task and
    at most ``window`` tasks in flight (default: two per CPU of the cluster, so the workers
    never wait for the reader)."""

    def run(docs: Iterable[Document], params: IngestParams) -> Iterator[tuple[Document, Any]]:
        import ray

        task = ray.remote(prepare_block)
        ref = ray.put(params)
        size = window or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        pending: deque = deque()
        it = iter(docs)
        while block := list(islice(it, batch_docs)):
            pending.append((block, task.remote([d.text for d in block], ref)))
            if len(pending) >= size:
                yield from _done(*pending.popleft())
        while pending:
            yield from _done(*pending.popleft())

    return run


def _done(block: list[Document], ref) -> Iterator[tuple[Document, Any]]:
    import ray

    yield from zip(block, ray.get(ref), strict=True)


def whole_role(batch_docs: int, shards: bool):
    """A ``core.WholeRole``: the role on Ray Data end to end (``ray_corpus``) when its sources
    are plain UTF-8 JSONL and nothing caps them; otherwise None, and it is read here."""
    import sys

    from components.ingest import ray_corpus

    def run(specs, params, key, dest, allow_links, links):
        why = ray_corpus.why_not(specs, params)
        if why:
            print(
                f"[ingest] {key}: read in this process, normalised on Ray: {why}", file=sys.stderr
            )
            return None
        return ray_corpus.ingest_role(
            specs, params, key, dest, allow_links=allow_links, links=links,
            batch_docs=batch_docs, shards=shards,
        )  # fmt: skip

    return run
