"""Pretraining reads a shard folder (execution.shards) as the file its parts assemble into, and
the decontamination gate passes it by its bytes."""

from __future__ import annotations

import hashlib
import json

from components.data.gate import require_decontaminated
from components.pretrain.stage import _docs
from tests.data.test_shards import corpus


def test_pretraining_texts_of_a_shard_folder_are_those_of_its_file(tmp_path, monkeypatch):
    single, folder = corpus(tmp_path)
    for cap in (0, 3, 7):  # max_docs: the first documents, across parts
        assert list(_docs([str(folder)], cap)) == list(_docs([str(single)], cap))
    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "data/decontaminated/manifest.json"
    manifest.parent.mkdir(parents=True)
    md5 = hashlib.md5(single.read_bytes()).hexdigest()
    files = {"sharded.jsonl": {"md5": md5}}
    manifest.write_text(json.dumps({"passed": True, "files": files}), encoding="utf-8")
    require_decontaminated(["sharded.jsonl"])
