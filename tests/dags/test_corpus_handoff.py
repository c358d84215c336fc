"""corpus_handoff: a good delivery is versioned and announced; a bad one is quarantined."""

from __future__ import annotations

import json

import pytest
import yaml

pytestmark = pytest.mark.slow
ASSET = "dapt_validated_corpus"


def test_good_delivery_versioned_bad_delivery_quarantined(airflow_project, tmp_path):
    root = airflow_project.root
    sample = (root / "data/samples/general/clue_corpus_small_sample.txt").read_text(
        encoding="utf-8"
    )
    drop = root / "data/incoming"
    drop.mkdir(parents=True, exist_ok=True)
    (drop / "batch-good.txt").write_text(
        "\n".join(sample.splitlines()[:300]) + "\n", encoding="utf-8"
    )
    bad = tmp_path / "batch-bad.txt"
    bad.write_text("the same english line, again\n" * 300, encoding="utf-8")

    # Run 1 picks the good file from the drop folder; run 2 is triggered with the bad file's path.
    report = airflow_project.dagtest(
        "corpus_handoff",
        "--asset",
        ASSET,
        "--conf",
        "null",
        "--conf",
        json.dumps({"path": str(bad)}),
    )
    good_run, bad_run = report["runs"]

    assert good_run["state"] == "success", good_run
    info = good_run["tasks"]["version_delivery"]["return"]
    assert info["delivery"] == "data/deliveries/batch-good.txt"
    assert not (drop / "batch-good.txt").exists()
    dvc_file = yaml.safe_load((root / "data/deliveries.dvc").read_text(encoding="utf-8"))
    assert dvc_file["outs"][0]["md5"] == info["md5"]
    # Pushed: the directory manifest is in the project's DVC remote.
    remote = root / ".dvc-remote"
    assert any(p.name == info["md5"].rsplit(".", 1)[0][2:] + ".dir" for p in remote.rglob("*"))
    summary = json.loads((root / info["report"] / "summary.json").read_text(encoding="utf-8"))
    assert summary["passed"] is True

    assert bad_run["state"] == "failed"
    assert bad_run["tasks"]["validate_delivery"]["state"] == "failed"
    assert bad_run["tasks"]["validate_delivery"]["try_number"] == 1  # data failures: no retry
    assert bad_run["tasks"]["version_delivery"]["state"] == "upstream_failed"
    assert not bad.exists()
    (quarantined,) = (root / "data/quarantine").glob("batch-bad-*")
    assert (quarantined / "batch-bad.txt").read_text(encoding="utf-8").startswith("the same")
    assert (quarantined / "REJECTED.txt").exists()
    summary = json.loads((quarantined / "report/summary.json").read_text(encoding="utf-8"))
    assert summary["passed"] is False

    # Exactly one new asset event, from the good delivery: the bad one starts nothing.
    events = report["asset_events"]
    assert len(events) == report["asset_events_before"] + 1
    assert events[-1]["extra"]["md5"] == info["md5"]
    assert events[-1]["dag_id"] == "corpus_handoff"
