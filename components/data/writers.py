"""Atomic writers: a reader sees the old file or the complete new one, never a partial write."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from components.data.document import Document
from components.data.outputs import FILE_MODE, OutputSet, recover, temp_name, write_error


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"
) -> Iterator[IO]:
    """Write to a temp file beside ``path``; fsync and rename over it only if the block succeeds.

    The temp file is named after this process (``outputs.temp_name``), so a run killed
    mid-write leaves a leftover the next writer of ``path`` recognises and removes.
    """
    path = Path(path)
    recover(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(path)
        f = open(tmp, mode, encoding=None if "b" in mode else encoding)  # noqa: SIM115
    except OSError as exc:
        raise (write_error(exc, path) or exc) from None
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, str(tmp)):
            raise (write_error(exc, path) or exc) from None
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory in a temp sibling and swap it in only when the block succeeds.

    On failure the previous directory (the last good output) is left untouched. Several outputs
    that must change together: ``components.data.outputs.OutputSet``.
    """
    with OutputSet() as outs:
        yield outs.dir(path)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_open(path) as f:
        json.dump(obj, f, ensure_ascii=False, indent=2, sort_keys=True)
        f.write("\n")


def dump_jsonl_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_jsonl(path: str | os.PathLike, docs: Iterable[Document | dict]) -> int:
    """Stream documents to ``path`` atomically; returns how many were written."""
    n = 0
    with atomic_open(path) as f:
        for doc in docs:
            f.write(dump_jsonl_line(doc.to_json() if isinstance(doc, Document) else doc))
            n += 1
    return n
