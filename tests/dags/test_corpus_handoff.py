"""corpus_handoff: a good delivery is versioned into the pipeline's inputs and announced; a bad
one is quarantined and changes nothing; paths that are not deliveries are refused untouched."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("airflow")]
ASSET = "dapt_validated_corpus"
DELIVERIES = "data/samples/deliveries"  # params.yaml domain.deliveries.folder


def test_good_delivery_versioned_bad_delivery_quarantined(airflow_project):
    root = airflow_project.root
    sample = (root / "data/samples/general/clue_corpus_small_sample.txt").read_text(
        encoding="utf-8"
    )
    drop = root / "data/incoming"
    drop.mkdir(parents=True, exist_ok=True)
    good, bad = drop / "batch-good.txt", drop / "batch-bad.txt"
    good.write_text("\n".join(sample.splitlines()[:300]) + "\n", encoding="utf-8")
    bad.write_text("the same english line, again\n" * 300, encoding="utf-8")
    os.utime(good, (1, 1))  # the older one: what an untriggered run picks first
    (drop / "linked.txt").symlink_to(root / "params.yaml")
    own = [root / "params.yaml", root / "dvc.yaml"]
    before = {p: p.read_bytes() for p in own}

    # Run 1 picks the oldest file of the drop folder; the others are triggered with a path: the
    # bad delivery, the pipeline's own params (outside the drop folder), a symlink to it.
    report = airflow_project.dagtest(
        "corpus_handoff",
        "--asset",
        ASSET,
        *("--conf", "null"),
        *("--conf", json.dumps({"path": "batch-bad.txt"})),
        *("--conf", json.dumps({"path": str(root / "params.yaml")})),
        *("--conf", json.dumps({"path": "data/incoming/linked.txt"})),
    )
    good_run, bad_run, outside_run, link_run = report["runs"]

    assert good_run["state"] == "success", good_run
    info = good_run["tasks"]["version_delivery"]["return"]
    assert info["delivery"] == f"{DELIVERIES}/batch-good.txt"
    assert info["dvc_file"] == f"{DELIVERIES}.dvc"
    assert not good.exists()
    dvc_file = yaml.safe_load((root / info["dvc_file"]).read_text(encoding="utf-8"))
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
    # The rejected delivery changed no input: the deliveries hold the good one only, and the
    # pipeline's inputs differ from the commit by exactly the versioned deliveries.
    assert sorted(p.name for p in (root / DELIVERIES).iterdir()) == ["batch-good.txt"]
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "data/samples"],
        cwd=root,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert set(changed) - {"??"} == {"data/samples/.gitignore", f"{DELIVERIES}.dvc"}

    for refused in (outside_run, link_run):  # not deliveries: refused at once, nothing moved
        assert refused["state"] == "failed"
        assert refused["tasks"]["pick_delivery"]["state"] == "failed"
        assert refused["tasks"]["pick_delivery"]["try_number"] == 1
    assert (drop / "linked.txt").is_symlink()
    assert all(p.read_bytes() == b for p, b in before.items())

    # Exactly one new asset event, from the good delivery: the bad ones start nothing.
    events = report["asset_events"]
    assert len(events) == report["asset_events_before"] + 1
    assert events[-1]["extra"]["md5"] == info["md5"]
    assert events[-1]["dag_id"] == "corpus_handoff"
    (drop / "linked.txt").unlink()
    airflow_project.forget_queued_runs("domain_adaptation")  # the scheduler's job, not ours
