"""``engine: ray`` against ``engine: local`` for ingest, through the stage itself: the same
layout (normalised texts, exact-dedup and leakage decisions) and counters, byte for byte, on the
bundled samples in their raw formats (gb18030 csv, tsv with columns, JSONL, txt)."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from components.cli import main
from components.data.shards import is_shard_folder, shard_files
from tests.conftest import ROOT, domain_section

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
    files = {}  # a shard folder as the bytes of its parts in order (what every reader reads)
    for p in sorted(Path(out).rglob("*")):
        if p.is_file() and not is_shard_folder(p.parent):
            files[p.relative_to(out).as_posix()] = p.read_bytes()
        elif is_shard_folder(p):
            files[p.relative_to(out).as_posix()] = b"".join(
                Path(f).read_bytes() for f in shard_files(p)
            )
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


def jsonl_project(tmp: Path, general_extra: str = "") -> None:
    """Every corpus source plain UTF-8 JSONL and no cap: the roles run on Ray end to end
    (ray_corpus: reading, normalisation, exact dedup by a shuffle, writing as shards)."""
    raw = tmp / "raw"
    raw.mkdir(exist_ok=True)
    texts = [json.loads(x)["text"] for x in (MED / "cmdd_dialogues.jsonl").open(encoding="utf-8")]
    rows = [{"id": f"g{i}", "text": t} for i, t in enumerate(texts[:150])]
    rows[3]["text"] = "年龄&gt;７０岁"  # normalised to the same text as the next: a duplicate
    rows[4]["text"] = "年龄>70岁"
    rows[5]["text"] = "头"  # too short
    rows[6]["text"] = texts[0]  # an exact copy of an earlier document
    rows[7]["text"] = "第一行\u2028同一行"  # a raw line separator inside a string
    rows[8]["src"] = "kept in metadata"
    del rows[9]["id"]  # an id from the file name and line
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    (raw / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + body.encode() + b"\n  \n")  # BOM, blanks
    qa = [{"q": t, "a": texts[-1 - i]} for i, t in enumerate(texts[140:200])]  # copies across
    (raw / "b.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in qa) + general_extra, "utf-8"
    )
    (raw / "d.jsonl").write_text(
        "".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n"
                for i, t in enumerate(texts[100:260])), "utf-8")  # fmt: skip
    domain = domain_section(
        general=[{"path": "raw/a.jsonl"}, {"path": "raw/b.jsonl", "text_fields": ["q", "a"]}],
        corpus=[{"path": "raw/d.jsonl"}],
    )
    params = {"domain": domain, "ingest": {"min_chars": 2}}
    params["execution"] = {"ray_batch_docs": 16, "shards": True}
    (tmp / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")


def test_jsonl_roles_on_ray_end_to_end_as_shards(ray_cluster, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    jsonl_project(tmp_path)
    local, local_files = run("local", monkeypatch)
    ray, ray_files = run("ray", monkeypatch)
    assert "read in this process" not in capsys.readouterr().err  # both roles on Ray
    g = local["outputs"]["general"]
    assert g["dropped_exact_dup"] >= 2 and g["dropped_too_short"] == 1 and g["read"] > 200
    assert is_shard_folder(tmp_path / "out-ray/general.jsonl")
    assert is_shard_folder(tmp_path / "out-ray/domain.jsonl")
    assert len(shard_files(tmp_path / "out-ray/general.jsonl")) > 1
    assert (tmp_path / "out-local/general.jsonl").is_file()
    assert ray.pop("engine") == "ray"
    local.pop("seconds"), ray.pop("seconds")
    assert ray == local
    assert ray_files == local_files


def test_a_bad_jsonl_line_on_ray_is_the_local_error(ray_cluster, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    jsonl_project(tmp_path, general_extra='{"q": "x"}\n')
    errors = {}
    for engine in ("local", "ray"):
        monkeypatch.setenv("DAPT_ENGINE", engine)
        assert main(["ingest", "--no-mlflow", "--out", f"o-{engine}", "--metrics", "m.json"]) == 1
        errors[engine] = capsys.readouterr().err
        assert not Path(f"o-{engine}").exists()  # nothing written
    local = next(x for x in errors["local"].splitlines() if "raw/b.jsonl" in x)
    assert "line 61" in local and "domain.general[1].text_fields" in errors["local"]
    assert local in errors["ray"]


def test_a_cluster_failure_exits_3_without_reading_the_input_here(
    ray_cluster, tmp_path, monkeypatch, capsys
):
    """A Ray failure outside the stage's code (a lost node, raised here by the execution) exits 3
    (the orchestrator retries it) naming the role and the cluster, writes nothing, and does not
    re-read the sources here (which on a large pool would take hours and hide the failure)."""
    from ray.exceptions import RaySystemError

    from components.data.readers import DocumentReader
    from components.ingest import ray_corpus

    def lost(*args, **kwargs):
        raise RaySystemError("the node running the blocks died")

    reads = []
    real_iter = DocumentReader.__iter__

    def counted(self):
        reads.append(self.path)
        return real_iter(self)

    monkeypatch.chdir(tmp_path)
    jsonl_project(tmp_path)
    monkeypatch.setattr(ray_corpus, "_run", lost)
    monkeypatch.setattr(DocumentReader, "__iter__", counted)
    monkeypatch.setenv("DAPT_ENGINE", "ray")
    assert main(["ingest", "--no-mlflow", "--out", "o", "--metrics", "m.json"]) == 3
    err = capsys.readouterr().err
    assert "ClusterFailure: [ingest]" in err and "outside the stage's code" in err, err[-2000:]
    assert "node running the blocks died" in err and "execution.engine: local" in err
    assert reads == [] and not Path("o").exists()
