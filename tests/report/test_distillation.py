"""The report puts the student's macro-F1, latency and size next to its teacher's."""

from __future__ import annotations

import json

from components.report.core import distillation


def test_student_and_teacher_side_by_side(tmp_path):
    assert distillation(tmp_path) is None
    row = {"encoder_layers": 4, "macro_f1": 0.4336, "accuracy": 0.71, "latency_ms_p50": 4.25,
           "latency_ms_p95": 6.5, "parameters": 1912236, "file_bytes": 7656920}  # fmt: skip
    small = {**row, "encoder_layers": 2, "macro_f1": 0.4212, "latency_ms_p50": 2.5,
             "seed_macro_f1": [0.4212], "parameters": 1515692}  # fmt: skip
    report = {
        "teacher": {**row, "model": "m", "version": "2", "role": "champion", "note": "n"},
        "student": small, "registered": True, "model": "m-small", "version": "1",
        "alias": "champion", "reason": "champion: loss +1.24 points",
    }  # fmt: skip
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/distill.json").write_text(json.dumps(report), "utf-8")
    page = distillation(tmp_path)
    for text in ("43.36", "42.12", "4.2", "2.5", "1,912,236", "1,515,692", "m-small", "v2"):
        assert text in page, text
    (tmp_path / "reports/distill.json").write_text(
        json.dumps({"skipped": True, "reason": "no task"})
    )
    assert "Skipped: no task" in distillation(tmp_path)
