"""A folder of ordered part-*.jsonl shards reads, sizes, digests and passes the gates as the file
its parts assemble into; a bad shard is named with its line."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from components.data import read_documents
from components.data.gate import require_validated
from components.data.raysink import publish, write_output
from components.data.shards import (
    data_bytes,
    digest,
    expand,
    is_empty,
    is_shard_folder,
    open_documents,
    part_name,
)
from components.data.skip import is_empty as skip_is_empty
from components.errors import InputError


def corpus(tmp_path: Path, n: int = 10) -> tuple[Path, Path]:
    """The same documents as one file and as a folder of three parts (cut at line ends)."""
    lines = [
        json.dumps({"id": f"d{i}", "text": f"第{i}行\u2028文本", "k": i}, ensure_ascii=False) + "\n"
        for i in range(n)
    ]
    single = tmp_path / "one.jsonl"
    single.write_text("".join(lines), encoding="utf-8")
    folder = tmp_path / "sharded.jsonl"
    folder.mkdir()
    for key, chunk in ((0, lines[:4]), (4, lines[4:4]), (4_000, lines[4:])):
        # an empty part in the middle: a block whose documents were all dropped
        (folder / part_name(key)).write_text("".join(chunk), encoding="utf-8")
    (folder / "README").write_text("not a part", encoding="utf-8")
    return single, folder


def test_a_shard_folder_is_read_sized_and_digested_as_its_file(tmp_path):
    single, folder = corpus(tmp_path)
    assert is_shard_folder(folder) and not is_shard_folder(single)
    assert not is_shard_folder(tmp_path / "nothing")
    docs = lambda p: [(d.id, d.text, d.metadata) for d in read_documents(p)]  # noqa: E731
    # the same Documents, each line counted in the file the parts assemble into
    assert docs(folder) == docs(single) and len(docs(single)) == 10
    assert docs(folder)[-1][2] == {"k": 9, "line": 10}
    assert data_bytes(folder) == single.stat().st_size
    want = hashlib.md5(single.read_bytes()).hexdigest()
    assert digest(folder) == digest(single) == want
    parts = expand([str(single), str(folder)])
    assert parts[0] == str(single) and [Path(p).name for p in parts[1:]] == [
        part_name(0),
        part_name(4),
        part_name(4_000),  # name order is key order (zero-padded)
    ]
    reader = open_documents(folder)
    assert reader.total_bytes == data_bytes(folder)
    list(reader)
    assert reader.bytes_read == reader.total_bytes  # progress bars reach 100 %
    assert not is_empty(folder)


def test_an_empty_shard_folder_is_an_empty_dataset(tmp_path):
    folder = tmp_path / "empty.jsonl"
    folder.mkdir()
    (folder / part_name(0)).write_bytes(b"")
    assert is_empty(folder) and skip_is_empty(folder)
    with pytest.raises(InputError, match="shard is empty"):
        open_documents(folder)
    bare = tmp_path / "bare"
    bare.mkdir()  # a folder without parts is not a dataset: its reader says what it is
    assert not is_empty(bare)
    with pytest.raises(InputError, match="folder"):
        open_documents(bare)


def test_a_bad_line_is_located_in_its_part(tmp_path):
    _, folder = corpus(tmp_path)
    bad = folder / part_name(4_000)
    bad.write_text(bad.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        list(read_documents(folder))
    assert str(bad) in str(err.value) and "line 7" in str(err.value)


def test_the_validation_gate_checks_a_shard_folder_by_its_bytes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    single, folder = corpus(tmp_path)
    manifest = tmp_path / "manifest.json"
    files = {"sharded.jsonl": {"md5": hashlib.md5(single.read_bytes()).hexdigest()}}
    manifest.write_text(json.dumps({"passed": True, "files": files}), encoding="utf-8")
    require_validated(["sharded.jsonl"], manifest)
    part = folder / part_name(0)
    part.write_text(part.read_text(encoding="utf-8").replace("第1行", "第9行"), encoding="utf-8")
    with pytest.raises(InputError, match="changed since validate checked it"):
        require_validated(["sharded.jsonl"], manifest)


def test_published_parts_are_a_shard_folder_and_assembled_parts_its_file(tmp_path):
    """What the Ray drivers do with the parts a Ray Datasink wrote (raysink)."""
    single, _ = corpus(tmp_path)
    lines = single.read_text(encoding="utf-8").splitlines(keepends=True)
    for run in ("a", "b"):
        parts = tmp_path / f"parts-{run}" / "out"
        parts.mkdir(parents=True)
        for key, chunk in ((0, lines[:3]), (3, lines[3:])):
            (parts / f"{key:020d}.part").write_text("".join(chunk), encoding="utf-8")
    assert write_output(tmp_path / "parts-a", "out", tmp_path / "a.jsonl", shards=False) > 0
    assert (tmp_path / "a.jsonl").read_bytes() == single.read_bytes()
    write_output(tmp_path / "parts-b", "out", tmp_path / "b.jsonl", shards=True)
    assert is_shard_folder(tmp_path / "b.jsonl")
    assert digest(tmp_path / "b.jsonl") == digest(single)
    assert not os.listdir(tmp_path / "parts-b" / "out")  # moved, not copied

    (tmp_path / "none" / "out").mkdir(parents=True)  # a dataset without rows
    assert publish(tmp_path / "none", "out", tmp_path / "c.jsonl") == 0
    assert is_shard_folder(tmp_path / "c.jsonl") and is_empty(tmp_path / "c.jsonl")
