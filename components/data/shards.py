"""A canonical JSONL dataset is one file or a folder of ordered JSONL shards.

Under ``execution.engine: ray`` with ``execution.shards: true``, the stages whose outputs Ray
workers write (ingest's plain-JSONL corpora, mining's selection and scores, decontamination's
cleaned corpora) leave them as a folder of ``part-<20-digit key>.jsonl`` files at the output's
path, instead of assembling one file: no single machine copies a terabyte. The parts in name order are the dataset in order, so
every reader of canonical JSONL reads a folder as the concatenation of its parts, and a folder
and the file its parts would assemble into give the same documents (``metadata["line"]``
included: the line in that file), the same digest (the MD5 of the bytes in order, which the
decontamination and validation manifests record) and the same size. Errors name the part and
its own line, which is where a person fixes them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from components.data.document import POSITION, Document
from components.data.readers import DocumentReader
from components.data.text import files_digest
from components.errors import InputError

PART_GLOB = "part-*.jsonl"


def part_name(key: int) -> str:
    """The name of the part whose first row has ``key`` (zero-padded: name order = key order)."""
    return f"part-{key:020d}.jsonl"


def is_shard_folder(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and any(p.glob(PART_GLOB))


def shard_files(path: str | os.PathLike) -> list[str]:
    """The files holding a dataset's bytes in order: the file itself, or a folder's parts."""
    if is_shard_folder(path):
        return [str(f) for f in sorted(Path(path).glob(PART_GLOB))]
    return [str(path)]


def expand(paths: list[str]) -> list[str]:
    """Every dataset of ``paths`` replaced by its files, in order."""
    return [f for p in paths for f in shard_files(p)]


def data_bytes(path: str | os.PathLike) -> int:
    return sum(os.path.getsize(f) for f in shard_files(path))


def is_empty(path: str | os.PathLike) -> bool:
    """A canonical dataset that the project's shape left empty (no documents): an empty file,
    or a shard folder whose parts are all empty. A missing file is not empty: its reader says
    it is missing."""
    if is_shard_folder(path):
        return data_bytes(path) == 0
    p = Path(path)
    return p.is_file() and p.stat().st_size == 0


def digest(path: str | os.PathLike) -> str:
    """MD5 of a dataset's bytes in order: a file's is the digest DVC records; a shard folder's
    equals that of the file its parts assemble into (DVC records a ``.dir`` hash for it)."""
    return files_digest(shard_files(path))


class ShardedReader:
    """A ``DocumentReader`` over a shard folder: its non-empty parts one after the other, each
    document's ``line`` counted in the file the parts assemble into."""

    def __init__(self, path: str | os.PathLike, **kwargs) -> None:
        self.path = str(path)
        self.parts = [f for f in shard_files(path) if os.path.getsize(f) > 0]
        if not self.parts:
            raise InputError(self.path, f"every {PART_GLOB} shard is empty", "point to data")
        self.readers = [DocumentReader(f, **kwargs) for f in self.parts]
        self.total_bytes = sum(r.total_bytes for r in self.readers)

    @property
    def bytes_read(self) -> int:
        return sum(r.bytes_read for r in self.readers)

    def __iter__(self) -> Iterator[Document]:
        offset = 0
        for reader in self.readers:
            lineno = 0
            for lineno, line in reader.lines():
                for doc in reader.jsonl_line(lineno, line):
                    doc.metadata[POSITION] = offset + lineno
                    yield doc
            offset += lineno


def open_documents(path: str | os.PathLike, **kwargs) -> DocumentReader | ShardedReader:
    """The reader of a file or of a shard folder (see ``DocumentReader`` for the options)."""
    if is_shard_folder(path):
        return ShardedReader(path, **kwargs)
    return DocumentReader(path, **kwargs)


def read_documents(path: str | os.PathLike, **kwargs) -> Iterator[Document]:
    """Stream the Documents of one file or shard folder."""
    return iter(open_documents(path, **kwargs))
