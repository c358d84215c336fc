"""``engine: ray`` against ``engine: local`` for ingest, through the stage itself: the same
layout (normalised texts, exact-dedup and leakage decisions) and counters, byte for byte, on the
bundled samples in their raw formats (gb18030 csv, tsv with columns, JSONL, txt)."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from components.cli import main
from tests.conftest import ROOT

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]

MED = ROOT / "data/samples/medical"


def project(tmp: Path) -> None:
    raw = tmp / "raw"
    raw.mkdir()
    shutil.copy(MED / "toyhom_internal_medicine_sample.gb18030.csv", raw / "general.csv")
    shutil.copy(MED / "cmdd_dialogues.jsonl", raw / "dialogues.jsonl")
    shutil.copy(MED / "cmedtc_labels.txt", raw / "labels.txt")
    train = (MED / "cmedtc_train.tsv").read_text("utf-8").splitlines()[:400]
    (raw / "train.tsv").write_text("\n".join(train) + "\n", encoding="utf-8")
    # Planted: an HTML escape and full-width digits (normalised to one text, so the second is an
    # exact duplicate), a one-character line (too short), the same file again after the
    # dialogues (duplicates across sources and blocks), train texts in test (leaked).
    (raw / "domain.txt").write_text("年龄&gt;７０岁\n年龄>70岁\n头\n既往史\n", encoding="utf-8")
    (raw / "test.tsv").write_text("\n".join([*train[:3], "Age\t年龄十八岁以上"]) + "\n", "utf-8")
    (tmp / "params.yaml").write_text(
        textwrap.dedent(
            """
            domain:
              name: demo
              lang: zh
              inputs: raw
              base_model: models/base
              general: [{path: raw/general.csv, encoding: gb18030, text_fields: [ask, answer]}]
              corpus: [{path: raw/domain.txt}, {path: raw/dialogues.jsonl}, {path: raw/domain.txt}]
              task:
                train: {path: raw/train.tsv, columns: [label, text], label_field: label}
                test: {path: raw/test.tsv, columns: [label, text], label_field: label}
                label_set: raw/labels.txt
            ingest: {min_chars: 2, max_docs_per_source: 300}
            execution: {ray_batch_docs: 16}
            """
        ),
        encoding="utf-8",
    )


def run(engine: str, monkeypatch) -> tuple[dict, dict]:
    monkeypatch.setenv("DAPT_ENGINE", engine)
    out, metrics = f"out-{engine}", f"{engine}.json"
    assert main(["ingest", "--no-mlflow", "--out", out, "--metrics", metrics]) == 0
    files = {
        p.relative_to(out).as_posix(): p.read_bytes() for p in Path(out).rglob("*") if p.is_file()
    }
    return json.loads(Path(metrics).read_text("utf-8")), files


def test_ray_ingest_writes_the_local_layout_and_counters(ray_cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project(tmp_path)
    local, local_files = run("local", monkeypatch)
    ray, ray_files = run("ray", monkeypatch)
    out = local["outputs"]
    # The planted cases are decided (so the comparison is about real decisions).
    assert out["domain"]["dropped_exact_dup"] >= 3 and out["domain"]["dropped_too_short"] == 2
    assert out["task_test"]["dropped_leaked_from_train"] == 3
    assert out["task_train"]["held_out_as_dev"] > 0
    normalised = '{"id":"domain:1","text":"年龄>70岁"}\n'.encode()
    assert local_files["domain.jsonl"].startswith(normalised)
    assert out["general"]["read"] > 16 and out["domain"]["read"] > 300  # many Ray blocks
    assert "engine" not in local and ray.pop("engine") == "ray"
    local.pop("seconds"), ray.pop("seconds")
    assert ray == local
    assert ray_files.keys() == local_files.keys()
    for name in local_files:
        assert ray_files[name] == local_files[name], name
