"""`make run` ends with the failing stage's error, read from the Airflow log."""

from __future__ import annotations

import json
from pathlib import Path

from components.cli import main
from components.orchestration.summary import failure

FIXTURES = Path(__file__).parent / "fixtures/airflow"


def test_the_error_of_the_failing_stage_is_found_in_a_real_airflow_log():
    # Recorded from `airflow dags test domain_adaptation` (the `make run` command) on a project
    # whose params list the GB18030 sample without its encoding; ingest failed, was retried.
    log = (FIXTURES / "failed-ingest-gb18030.log").read_text(encoding="utf-8")
    stage, error = failure(log)
    assert stage == "ingest"
    assert error == [
        "error: data/samples/medical/toyhom_internal_medicine_sample.gb18030.csv, line 2 "
        "(byte offset 28): not valid UTF-8 text (detected encoding: gb18030)",
        "  fix: set domain.corpus[2].encoding: gb18030 in params.yaml (or convert the file: "
        "iconv -f gb18030 -t utf-8)",
    ]


def test_a_validation_failure_is_shown_as_its_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rows = [{"id": "a", "text": "年龄大于18岁", "label": "Age"}]
    Path("t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    Path("labels.txt").write_text("Age\nSign\n")
    argv = ["validate", "--no-mlflow", "--no-docs", "--task-train", "t.jsonl"]
    assert main([*argv, "--task-test", "t.jsonl", "--labels", "labels.txt"]) == 1
    printed = capsys.readouterr().err
    # The stage's stderr inside an Airflow task log, then DVC's failure (as in the fixture).
    prefix = "2026-12-02T13:25:39.327366Z [info     ] Running stage 'validate':\n"
    log = prefix + printed + "dvc.exceptions.ReproductionError: failed to reproduce 'validate'\n"
    stage, error = failure(log)
    assert stage == "validate" and error[0].startswith("Validation FAILED: ")
    assert any("'Sign' (0)" in line for line in error)
    assert any(line.strip().startswith("fix: ") for line in error)
