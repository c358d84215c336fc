"""Streaming readers for .jsonl, .txt, .tsv and .csv (each optionally .gz) into Documents.

Every problem is raised as an InputError naming the file, the line (and byte offset for encoding
problems) and the setting that fixes it: the command-line flag, or, for inputs configured in
params.yaml, the params key (``hints``). Nothing is read into memory whole.

Only regular files are read: a symbolic link is refused unless the caller allows links (params
``domain.allow_symlinks``; the reader then exposes the resolved target for lineage), and FIFOs,
devices, sockets and folders are refused with what to pass instead.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from components.data.document import POSITION, Document
from components.data.encodings import guess_encoding, text_encoding, utf16_without_bom
from components.data.inputs import FLAGS, FORMATS, check_input_file, how_to_set
from components.errors import InputError

__all__ = [
    "FLAGS",
    "FORMATS",
    "DocumentReader",
    "check_input_file",
    "detect_format",
    "guess_encoding",
    "how_to_set",
]

_SNIFF_BYTES = 1 << 16
_WIDE = ("utf-16", "utf-32")  # not ASCII-compatible: lines are not split on the byte 0x0A


def detect_format(path: str | os.PathLike, hints: dict[str, str] | None = None) -> str:
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for fmt in FORMATS:
        if name.endswith("." + fmt):
            return fmt
    if name.endswith(".json"):
        return "jsonl"
    raise InputError(
        str(path),
        "cannot tell the format from the file name",
        "name the file *.jsonl, *.txt, *.tsv or *.csv (optionally .gz), or "
        + how_to_set("format", "|".join(FORMATS), hints),
    )


class DocumentReader:
    """Iterate the Documents of one file; ``bytes_read`` feeds progress bars (MB/s)."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        fmt: str | None = None,
        encoding: str = "utf-8",
        text_field: str | Sequence[str] = "text",
        label_field: str | None = None,
        id_field: str = "id",
        columns: Sequence[str] | None = None,
        require_label: bool = False,
        allow_symlinks: bool = False,
        hints: dict[str, str] | None = None,
    ) -> None:
        """``hints``: for inputs configured in params.yaml, the params key of each setting
        (``path``, ``encoding``, ``text_field``, ``label_field``, ``format``, ``allow_symlinks``),
        so the advice names what the user can actually change."""
        self.path = str(path)
        self.hints = hints or {}
        self.resolved = check_input_file(path, allow_symlinks=allow_symlinks, hints=hints)
        self.fmt = fmt or detect_format(self.path, self.hints)
        if self.fmt not in FORMATS:
            raise InputError(
                self.path,
                f"unknown format {self.fmt!r}",
                how_to_set("format", "|".join(FORMATS), self.hints),
            )
        self.encoding = encoding.lower()
        self.text_fields = [text_field] if isinstance(text_field, str) else list(text_field)
        self.label_field = label_field
        self.id_field = id_field
        self.columns = list(columns) if columns else None
        self.require_label = require_label
        self.total_bytes = os.path.getsize(self.path)
        self.bytes_read = 0
        self.stem = Path(self.path).name.split(".")[0]

    # -- raw lines -----------------------------------------------------------------------------
    def _open(self) -> IO[bytes]:
        raw = open(self.path, "rb")  # noqa: SIM115 - closed by the caller's with-block
        self._raw = raw
        return gzip.open(raw, "rb") if self.path.endswith(".gz") else raw  # type: ignore[return-value]

    def _encoding_error(self, sample: bytes, line: int, offset: int) -> InputError:
        detected = text_encoding(sample)
        if detected is None:
            return InputError(
                self.path,
                f"not {self.encoding.upper()} text, and not text in any encoding either "
                "(binary or random bytes: is this the file you meant?)",
                "point to the text file you meant (`file -i PATH` tells what this one is)",
                line=line,
                byte_offset=offset,
            )
        return InputError(
            self.path,
            f"not valid {self.encoding.upper()} text (detected encoding: {detected})",
            f"{how_to_set('encoding', detected, self.hints)} (or convert the file: "
            f"iconv -f {detected} -t utf-8)",
            line=line,
            byte_offset=offset,
        )

    def lines(self, keep_ends: bool = False) -> Iterator[tuple[int, str]]:
        """(1-based line number, decoded line; without its line end unless ``keep_ends``)."""
        enc = "utf-8" if self.encoding in {"utf8", "utf-8", "utf-8-sig"} else self.encoding
        if enc.replace("_", "-").startswith(_WIDE):
            yield from self._wide_lines(enc, keep_ends)
            return
        with self._open() as f:
            head = f.read(_SNIFF_BYTES)
            if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise self._encoding_error(head, 1, 0)
            if not head.strip():
                raise InputError(self.path, "file is empty", "point to a file with data")
            offset = 0
            if enc == "utf-8" and head.startswith(codecs.BOM_UTF8):
                head, offset = head[len(codecs.BOM_UTF8) :], len(codecs.BOM_UTF8)
            try:
                decoder = codecs.getincrementaldecoder(enc)()
            except LookupError:
                raise InputError(
                    self.path,
                    f"unknown encoding {self.encoding!r}",
                    "pass a Python codec name, e.g. --encoding gb18030",
                ) from None
            try:  # fail before any row is produced, so no column error can mask it
                decoder.decode(head, final=False)
            except UnicodeDecodeError as exc:
                line = head[: exc.start].count(b"\n") + 1
                raise self._encoding_error(head, line, offset + exc.start) from None
            stream = io.BufferedReader(_Prefixed(head, f))
            for lineno, raw_line in enumerate(stream, start=1):
                if b"\x00" in raw_line:
                    raise self._nul_error(raw_line, lineno, offset + raw_line.index(b"\x00"))
                try:
                    text = raw_line.decode(enc)
                except UnicodeDecodeError as exc:
                    sample = raw_line + stream.peek(_SNIFF_BYTES)
                    raise self._encoding_error(sample, lineno, offset + exc.start) from None
                offset += len(raw_line)
                self.bytes_read = self._raw.tell()
                yield lineno, text if keep_ends else text.rstrip("\r\n")
            self.bytes_read = self.total_bytes

    def _nul_error(self, raw_line: bytes, line: int, offset: int) -> InputError:
        wide = utf16_without_bom(raw_line)
        if wide:
            return InputError(
                self.path,
                f"NUL bytes between the characters: {wide.upper()} text without a byte-order mark",
                f"{how_to_set('encoding', wide, self.hints)} (or convert the file: "
                f"iconv -f {wide} -t utf-8)",
                line=line,
                byte_offset=offset,
            )
        return InputError(
            self.path,
            "NUL byte in text (binary data, not a text file)",
            "point to the text file you meant, or remove the NUL bytes from it "
            "(tr -d '\\000' < FILE > FILE.clean)",
            line=line,
            byte_offset=offset,
        )

    def _wide_lines(self, enc: str, keep_ends: bool) -> Iterator[tuple[int, str]]:
        """UTF-16/32 (with or without a byte-order mark): decoded by a text stream, since their
        line ends are not the byte 0x0A."""
        try:
            codecs.lookup(enc)
        except LookupError:
            raise InputError(
                self.path,
                f"unknown encoding {self.encoding!r}",
                how_to_set("encoding", "utf-16", self.hints),
            ) from None
        with self._open() as f:
            text = io.TextIOWrapper(f, encoding=enc, newline="")  # keeps \r\n for csv quoting
            lineno = 0
            try:
                for lineno, line in enumerate(text, start=1):
                    if lineno == 1:
                        line = line.lstrip("\ufeff")  # utf-16-le/-be keep the BOM as text
                    self.bytes_read = self._raw.tell()
                    yield lineno, line if keep_ends else line.rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise InputError(
                    self.path,
                    f"not valid {enc.upper()} text ({exc.reason})",
                    "check the encoding (`file -i PATH`), or convert the file to UTF-8",
                    line=lineno + 1,
                ) from None
            if lineno == 0:
                raise InputError(self.path, "file is empty", "point to a file with data")
            self.bytes_read = self.total_bytes

    # -- documents -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Document]:
        if self.fmt == "jsonl":
            return self._jsonl()
        if self.fmt == "txt":
            return self._txt()
        return self._table(",\t"[self.fmt == "tsv"])

    def _txt(self) -> Iterator[Document]:
        for lineno, line in self.lines():
            if line.strip():
                yield Document(id=f"{self.stem}:{lineno}", text=line)

    def _jsonl(self) -> Iterator[Document]:
        for lineno, line in self.lines():
            yield from self.jsonl_line(lineno, line)

    def jsonl_line(self, lineno: int, line: str) -> Iterator[Document]:
        """The Documents of one JSONL line (the Ray engine splits files into lines itself)."""
        if not line.strip():
            return
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                self.path,
                f"invalid JSON ({exc.msg} at column {exc.colno})",
                'each line must be one JSON object such as {"id": "1", "text": "..."}',
                line=lineno,
            ) from None
        if not isinstance(row, dict):
            raise InputError(
                self.path,
                "line is JSON but not an object",
                'write {"id": ..., "text": ...}',
                line=lineno,
            )
        yield from self._row_docs(row, lineno, available=list(row))

    def _table(self, delimiter: str) -> Iterator[Document]:
        numbered = self.lines(keep_ends=True)  # csv needs the ends to keep quoted newlines
        current = [0]

        def text_lines() -> Iterator[str]:
            for lineno, line in numbered:
                current[0] = lineno
                yield line

        reader = csv.reader(text_lines(), delimiter=delimiter)
        header = self.columns
        if header is None:
            header = next(reader, None)
            if header is None:
                raise InputError(self.path, "file is empty", "point to a file with data")
            header = [h.strip().lstrip("\ufeff") for h in header]
        for name in [*self.text_fields, *([self.label_field] if self.label_field else [])]:
            if name not in header:
                kind = "label_field" if name == self.label_field else "text_field"
                raise InputError(
                    self.path,
                    f"column {name!r} does not exist (columns: {', '.join(header)})",
                    how_to_set(kind, "<one of the columns above>", self.hints),
                    line=1 if self.columns is None else None,
                    field=name,
                )
        width = len(header)
        for values in reader:
            lineno = current[0]
            if not any(v.strip() for v in values):
                continue
            if len(values) < width:
                raise InputError(
                    self.path,
                    f"row has {len(values)} columns, expected {width} ({', '.join(header)})",
                    "check the delimiter (.tsv = tab, .csv = comma) and quoting of this row",
                    line=lineno,
                )
            row = dict(zip(header, values, strict=False))
            yield from self._row_docs(row, lineno, available=header)

    def _row_docs(self, row: dict, lineno: int, available: list[str]) -> Iterator[Document]:
        label = None
        if self.label_field:
            label = row.get(self.label_field)
            if label is None or (isinstance(label, str) and not label.strip()):
                if self.require_label:
                    raise InputError(
                        self.path,
                        f"missing label (fields present: {', '.join(available)})",
                        f"give this row a {self.label_field!r}, or "
                        + how_to_set("label_field", "<the field holding the label>", self.hints),
                        line=lineno,
                        field=self.label_field,
                    )
                label = None
            else:
                label = str(label).strip()
        base_id = row.get(self.id_field)
        base_id = f"{self.stem}:{lineno}" if base_id is None or base_id == "" else str(base_id)
        meta = {
            k: v
            for k, v in row.items()
            if k not in {self.id_field, self.label_field, *self.text_fields}
        }
        for name in self.text_fields:
            text = row.get(name)
            if text is None:
                raise InputError(
                    self.path,
                    f"missing field {name!r} (fields present: {', '.join(available)})",
                    f"add a {name!r} field to this row, or "
                    + how_to_set("text_field", "<the field holding the text>", self.hints),
                    line=lineno,
                    field=name,
                )
            if not isinstance(text, str):
                raise InputError(
                    self.path,
                    f"field {name!r} is {type(text).__name__}, not a string",
                    "store text as a JSON string",
                    line=lineno,
                    field=name,
                )
            doc_id = base_id if len(self.text_fields) == 1 else f"{base_id}:{name}"
            yield Document(id=doc_id, text=text, label=label, metadata=meta | {POSITION: lineno})


class _Prefixed(io.RawIOBase):
    """A raw stream that replays the sniffed head before the rest of the file."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        if self._head.nbytes:
            n = min(len(buf), self._head.nbytes)
            buf[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buf))
        buf[: len(data)] = data
        return len(data)

