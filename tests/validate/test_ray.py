"""``engine: ray`` against ``engine: local`` for validation: the same streaming statistics
(examples included), the same GX sample rows and the same report, on bundled dialogues with
planted problems, an unreadable file and a file the Ray engine does not read."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import pytest

from components.cli import main
from components.data import raydata
from components.data.raydata import ClusterFailure
from components.data.readers import DocumentReader
from components.data.shards import open_documents, part_name
from components.validate import ray_driver
from components.validate.core import scan_here
from components.validate.params import CorpusChecks
from tests.conftest import ROOT

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]

DIALOGUES = ROOT / "data/samples/medical/cmdd_dialogues.jsonl"
BATCH = 16  # documents per Ray block: the corpus below is ~20 blocks


def corpus(path: Path) -> Path:
    rows = [json.loads(x) for x in DIALOGUES.read_text("utf-8").splitlines()[:300]]
    rows[40]["text"] = rows[5]["text"]  # a duplicate of a document in an earlier block
    rows[51]["text"] = rows[50]["text"]  # ...and one within a block
    rows[52]["text"] = rows[3]["text"]
    rows[60]["text"] = " "
    rows[70]["text"] += "\ufffd"
    rows[80]["text"] += "\x07"
    rows[90]["text"] = "长" * 2500
    rows[100]["text"] += "\u2028" + rows[101]["text"]  # one document, not two lines
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(120, "")  # a blank line: not a document
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "bounds",
    [
        {"gx_sample_size": 100, "gx_sample_max_chars": 10**7},  # the count bound is met
        {"gx_sample_size": 1000, "gx_sample_max_chars": 30_000},  # the character bound is met
    ],
)
def test_ray_statistics_and_sample_are_the_local_ones(ray_cluster, tmp_path, bounds, capsys):
    path = corpus(tmp_path / "c.jsonl")
    checks = CorpusChecks(max_chars=2000, exact_dedup_max_docs=10**6, **bounds)
    local, local_sample = scan_here(DocumentReader(path), checks)
    ray, ray_sample = ray_driver.scanner(BATCH)(DocumentReader(path), checks)
    assert "scanning here" not in capsys.readouterr().err  # Ray did it: no local fallback
    assert local.n_docs == 300 and local.distinct == 296  # the sample has a duplicate of its own
    # rows 40 and 52 (their originals are in the first block: looked up), 51 (in its block)
    assert [e["id"] for e in local.examples["duplicate"]] == ["10274249", "10264651", "10302960"]
    assert list(local.examples)[:3] == ["duplicate", "empty", "too_short"]
    assert 10 < len(local_sample) < 300
    assert dataclasses.asdict(ray) == dataclasses.asdict(local)
    assert list(ray.examples) == list(local.examples)
    assert [(d.id, d.text) for d in ray_sample] == [(d.id, d.text) for d in local_sample]


def test_ray_validation_report_is_the_local_one(ray_cluster, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("params.yaml").write_text(
        textwrap.dedent(
            f"""
            validate:
              corpus: {{min_docs: 5, min_bytes: 10, max_chars: 2000, gx_sample_size: 100}}
            execution: {{ray_batch_docs: {BATCH}}}
            """
        )
    )
    good = corpus(tmp_path / "c.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "好的文本"}\n{"id": "2",\n', encoding="utf-8")
    txt = tmp_path / "plain.txt"  # not canonical JSONL: scanned in the driver on both engines
    txt.write_text("患者头痛三天伴有发热\n" * 6, encoding="utf-8")
    outputs = {}
    for engine in ("local", "ray"):
        monkeypatch.setenv("DAPT_ENGINE", engine)
        args = ["--corpus", str(good), "--corpus", str(bad), "--corpus", str(txt)]
        args += ["--report", f"rep-{engine}", "--metrics", f"{engine}.json"]
        rc = main(["validate", "--no-mlflow", "--no-docs", *args])
        assert rc == 1  # the unreadable file fails the validation
        summary = json.loads(Path(f"rep-{engine}/summary.json").read_text("utf-8"))
        metrics = json.loads(Path(f"{engine}.json").read_text("utf-8"))
        for timing in ("seconds", "mb_per_s"):
            summary.pop(timing, None), metrics.pop(timing, None)
        text = Path(f"rep-{engine}/summary.txt").read_text("utf-8")
        outputs[engine] = summary, metrics, text
    (summary, metrics, text), (ray_summary, ray_metrics, ray_text) = outputs.values()
    err = capsys.readouterr().err  # only the unreadable and the plain-text file were local
    assert err.count("scanning here") == 1 and f"{bad}: the Ray scan failed" in err
    assert f"{txt}: not canonical JSONL, scanned here" in err
    assert "invalid JSON" in text and "(line 2)" in text
    assert summary["stats"][str(good)]["gx_rows"] == 100
    assert "engine" not in metrics and ray_metrics.pop("engine") == "ray"
    assert ray_metrics == metrics
    assert ray_summary == summary
    assert ray_text.replace("rep-ray/", "rep-local/") == text  # the text names its own folder


def test_a_shard_folder_is_scanned_on_ray_as_its_file(ray_cluster, tmp_path, capsys):
    """Statistics, examples and the GX sample of a shard folder (execution.shards): those of the
    file its parts assemble into, on both engines (lines counted across the parts)."""
    path = corpus(tmp_path / "c.jsonl")
    lines = path.read_text("utf-8").splitlines(keepends=True)
    folder = tmp_path / "c-shards.jsonl"
    folder.mkdir()
    for key, (a, b) in enumerate([(0, 97), (97, 97), (97, 200), (200, len(lines))]):
        (folder / part_name(key)).write_text("".join(lines[a:b]), "utf-8")  # one part empty
    checks = CorpusChecks(max_chars=2000, exact_dedup_max_docs=10**6, gx_sample_size=100)
    local, local_sample = scan_here(DocumentReader(path), checks)
    runs = {
        "local": scan_here(open_documents(folder), checks),
        "ray": ray_driver.scanner(BATCH)(open_documents(folder), checks),
    }
    assert "scanned here" not in capsys.readouterr().err  # Ray did the folder: no fallback
    for stats, sample in runs.values():
        assert dataclasses.asdict(stats) == dataclasses.asdict(local)
        assert [(d.id, d.text, d.metadata) for d in sample] == [
            (d.id, d.text, d.metadata) for d in local_sample
        ]
    assert any(d.metadata["line"] > 200 for d in local_sample)  # from the last part


def test_a_cluster_failure_is_raised_not_hidden_by_a_local_scan(ray_cluster, tmp_path, monkeypatch):
    """A Ray failure outside the blocks' code (a lost node, here raised by the execution) fails
    the scan as ``ClusterFailure`` (exit 3: retried); the file is not scanned here instead, which
    on a large pool would hide the failure behind hours of local work."""
    from ray.exceptions import RaySystemError

    def lost(*args, **kwargs):
        raise RaySystemError("the node running the blocks died")

    def no_local_scan(*args):
        raise AssertionError("scanned here after a cluster failure")

    monkeypatch.setattr(raydata, "ordered_block_map", lost)
    monkeypatch.setattr(ray_driver, "scan_here", no_local_scan)
    path = corpus(tmp_path / "c.jsonl")
    checks = CorpusChecks(max_chars=2000, exact_dedup_max_docs=10**6, gx_sample_size=100)
    with pytest.raises(ClusterFailure, match=r"outside the stage's code.*node .* died"):
        ray_driver.scanner(BATCH)(DocumentReader(path), checks)


def test_block_code_failing_on_a_good_file_is_an_error(ray_cluster, tmp_path, monkeypatch, capsys):
    """The workers' code fails (as on workers with other code or libraries) on a file that reads
    here without error: an error, not a silent local result; a failure in the blocks' code is
    recognised through Ray's wrapping (UserCodeException), not only on bad input."""

    def other_workers(docs, bounds):
        raise ValueError("a worker without this project's code")

    monkeypatch.setattr(ray_driver, "_scan_block", other_workers)
    path = corpus(tmp_path / "c.jsonl")
    checks = CorpusChecks(max_chars=2000, exact_dedup_max_docs=10**6, gx_sample_size=100)
    with pytest.raises(RuntimeError, match="reads here without error") as raised:
        ray_driver.scanner(BATCH)(DocumentReader(path), checks)
    assert not isinstance(raised.value, ClusterFailure)
    assert f"{path}: the Ray scan failed" in capsys.readouterr().err  # read here, then raised
