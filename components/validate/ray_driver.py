"""The Ray driver of validation's streaming statistics: ``stats.scan_block`` on Ray Data blocks
of a corpus, folded in input order by ``stats.Scan`` in this process (the local driver's fold).

The blocks return their Partial statistics (merged exactly), their content hashes (the
duplicate count is the one sequential step: a document duplicates an *earlier* one) and their
sample candidates as (key, position, characters, line): keys depend on each document's line, not
on the blocks, so the sample is the rows ``engine: local`` picks. Documents do not travel back:
once the sample is decided, one more filtered pass over the file's lines (on Ray) brings the
sampled lines and those of the first duplicates whose example no block had. The statistics, the
examples, the sample and so the report are those of ``engine: local``.

Ray reads canonical JSONL only (``raydata.lines_dataset``), with the default fields, as ingest
writes it, as a file or a shard folder (``execution.shards``): a folder's documents are numbered
by their line in the file its parts assemble into (``raydata.assembled_offsets``), as the local
reader numbers them, so the sample is the same. Any other file (a ``--corpus`` in another
format, encoding or text field) is scanned in this process, as is a file the blocks' code could
not read: the local reader then raises the same error, with its line and byte offset, that
``engine: local`` reports (and if the file reads here, the workers differ from this process: an
error, not a silent local scan). A failure outside the blocks' code (a worker or node lost, the
cluster unreachable) is raised as ``raydata.ClusterFailure`` (exit 3, retried), without a local
scan that would hide it behind hours of work on a large pool.
"""

from __future__ import annotations

import sys

from components.data.document import Document
from components.data.readers import DocumentReader
from components.data.shards import ShardedReader
from components.validate.core import Scanner, scan_here
from components.validate.params import CorpusChecks
from components.validate.stats import Block, Bounds, Scan, scan_block


def _scan_block(docs: list[Document], bounds: Bounds) -> Block:
    return scan_block(docs, bounds, by_line=True)


def _canonical(reader: DocumentReader) -> bool:
    """Read by the Ray engine exactly as here (``raydata.batch_documents``), one document a
    line: what ingest writes."""
    return (
        reader.path.endswith(".jsonl")
        and reader.fmt == "jsonl"
        and reader.encoding == "utf-8"
        and reader.text_fields == ["text"]
        and reader.label_field is None
        and reader.id_field == "id"
    )


def scanner(batch_docs: int) -> Scanner:
    """A ``core.Scanner`` running ``scan_block`` on Ray, ``batch_docs`` documents a block."""

    def scan(reader: DocumentReader | ShardedReader, c: CorpusChecks):
        # a shard folder (execution.shards) is scanned as the file its parts assemble into
        files = reader.readers if isinstance(reader, ShardedReader) else [reader]
        if not all(_canonical(r) for r in files):
            print(f"[validate] {reader.path}: not canonical JSONL, scanned here", file=sys.stderr)
            return scan_here(reader, c)
        from components.data.raydata import (
            ClusterFailure,
            assembled_offsets,
            failed_in_block_code,
            ordered_block_map,
        )

        bounds = Bounds(c.min_chars, c.max_chars, c.gx_sample_size, c.gx_sample_max_chars)
        fold = Scan(bounds, c.exact_dedup_max_docs)
        try:
            offsets = assembled_offsets([reader.path])
            blocks = ordered_block_map([reader.path], _scan_block, bounds, batch_docs, offsets)
            for block in blocks:
                fold.add(block)
            result = fold.result(lambda lines: fetch(reader.path, lines, offsets))
        except Exception as err:
            if not failed_in_block_code(err):
                raise ClusterFailure("validate", reader.path, err) from err
            # The blocks' code failed: the local reader says what is wrong, with its line.
            print(
                f"[validate] {reader.path}: the Ray scan failed ({type(err).__name__}), "
                "scanning here",
                file=sys.stderr,
            )
            scan_here(reader, c)  # raises the input's located error, if it has one
            raise RuntimeError(
                f"[validate] {reader.path}: the Ray scan failed in its per-block code, but the "
                "file reads here without error: the Ray workers run other code or libraries "
                "than this process (check the cluster's image and runtime environment), or "
                "run with execution.engine: local"
            ) from err
        for r in files:
            r.bytes_read = r.total_bytes
        return result

    return scan


def fetch(path: str, lines: set[int], offsets: dict[str, int]) -> dict[int, Document]:
    """The documents at these lines of a canonical JSONL file or shard folder (lines counted in
    the file its parts assemble into; at most the sample and a few examples): the workers
    filter the lines, this process parses the few that pass."""
    from components.data.raydata import lines_dataset

    wanted = frozenset(lines)
    readers: dict[str, DocumentReader] = {}
    out: dict[int, Document] = {}
    rows = lines_dataset([path]).filter(lambda r: offsets[r["path"]] + r["lineno"] in wanted)
    for row in rows.iter_rows():
        part, lineno = str(row["path"]), int(row["lineno"])
        reader = readers.get(part) or readers.setdefault(part, DocumentReader(part))
        for doc in reader.jsonl_line(lineno, str(row["line"])):  # as batch_documents makes them
            doc.metadata["line"] = at = offsets[part] + lineno
            out[at] = doc
    return out
