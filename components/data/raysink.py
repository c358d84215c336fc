"""Ordered part files written by Ray workers through a Ray Data ``Datasink`` (imported only under
``engine: ray``), and their assembly into one canonical file.

A stage formats its output lines in the workers (the JSON work, which is what a single writer
spends its time on) and the sink writes each block's lines of each output to a part file named
by the block's first key, zero-padded: with ``preserve_order`` a block holds consecutive keys,
so the parts in name order are the dataset's order. Parts can be used as the shards they are
(``parts``); ``assemble`` concatenates them byte for byte into one canonical file, at disk
speed, with no parsing, and ``publish`` leaves them as a shard folder instead (``shards.py``:
every reader reads the folder as that file), so no machine copies the whole output.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from ray.data import Datasink

_WIDTH = 20  # digits of a non-negative int64 key


class OrderedPartsSink(Datasink):
    """``columns``: text column -> output name; a block writes ``<folder>/<name>/<key>.part``."""

    def __init__(self, folder: str | os.PathLike, columns: dict[str, str], key: str = "key"):
        # Absolute: workers do not share the driver's working directory (a cluster's never do).
        self.folder = Path(folder).absolute()
        self.columns = columns
        self.key = key

    def on_write_start(self, schema=None) -> None:
        for name in self.columns.values():
            (self.folder / name).mkdir(parents=True, exist_ok=True)

    def write(self, blocks: Iterable, ctx) -> None:
        from ray.data.block import BlockAccessor

        for block in blocks:
            block = BlockAccessor.for_block(block).to_arrow()
            if block.num_rows == 0:
                continue
            first = int(block.column(self.key)[0].as_py())
            for column, name in self.columns.items():
                data = "".join(s for s in block.column(column).to_pylist() if s).encode("utf-8")
                final = self.folder / name / f"{first:0{_WIDTH}d}.part"
                tmp = final.with_suffix(".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, final)  # a retried task rewrites the same part whole


def parts_folder(dest: str | os.PathLike) -> Path:
    """Where the parts of the output ``dest`` are written before they are assembled or
    published: a hidden sibling, so it is in the same filesystem (publishing renames)."""
    dest = Path(dest)
    return dest.parent / f".{dest.stem}.parts"


def counts_column(counts: dict, n: int) -> list[str]:
    """A block's counters as a text column of ``n`` rows (one JSON line in the first), so the
    sink writes them beside the block's lines: the dataset streams through one write instead of
    being materialised for a second pass that reads the counters back."""
    return [json.dumps(counts) + "\n"] + [""] * (n - 1) if n else []


def read_counts(folder: str | os.PathLike, name: str) -> Iterator[dict]:
    """The blocks' counters written by ``counts_column``, in dataset order."""
    for part in parts(folder, name):
        for line in part.read_text(encoding="utf-8").splitlines():
            yield json.loads(line)


def parts(folder: str | os.PathLike, name: str) -> list[Path]:
    """The part files of one output, in dataset order."""
    return sorted((Path(folder) / name).glob("*.part"))


def assemble(folder: str | os.PathLike, name: str, dest) -> int:
    """Append the parts of ``name`` to the open binary file ``dest``; returns bytes copied."""
    total = 0
    for part in parts(folder, name):
        with open(part, "rb") as f:
            shutil.copyfileobj(f, dest, 1 << 22)
        total += part.stat().st_size
    return total


def publish(folder: str | os.PathLike, name: str, dest: str | os.PathLike) -> int:
    """Move the parts of ``name`` to the new shard folder ``dest`` (``part-<key>.jsonl``, in
    dataset order); returns their bytes. A dataset without rows gets one empty part, so
    ``dest`` is a shard folder either way (an empty dataset, not a missing one)."""
    from components.data.shards import part_name

    dest = Path(dest)
    dest.mkdir()
    total = 0
    for part in parts(folder, name):
        total += part.stat().st_size
        os.replace(part, dest / part_name(int(part.stem)))
    if total == 0 and not any(dest.iterdir()):
        (dest / part_name(0)).write_bytes(b"")
    return total


def write_output(
    folder: str | os.PathLike, name: str, dest: str | os.PathLike, shards: bool
) -> int:
    """The output ``name`` at ``dest``: its parts published as a shard folder, or assembled."""
    from components.data.writers import atomic_open

    if shards:
        return publish(folder, name, dest)
    with atomic_open(dest, "wb") as f:
        return assemble(folder, name, f)
