"""The label-budget curve and the recommendation reach the run summary and the report, as
register and compare wrote them (never a hand-written sentence)."""

from __future__ import annotations

import json
from pathlib import Path

from components.orchestration.summary import recommendation_lines
from components.report.core import build

REC = {
    "user_budget": 32,
    "headline": "with 32 labels per class dapt gains +6.1 (CI 3.2 to 9.0) over base; "
    "with all labels no candidate beats the control: keep the base",
    "recommended": "dapt",
    "budgets": [
        {"labels_per_class": 32, "recommended": "dapt", "text": "with 32 labels per class dapt"},
        {"labels_per_class": "all", "recommended": None, "text": "with all labels no candidate"},
    ],
    "not_recommended": {"tapt_only": "loses to the base at every label budget (...)"},
}


def test_the_summary_prints_the_headline_each_budget_and_the_refusals():
    lines = recommendation_lines({"recommendation": REC})
    assert lines[0] == f"Recommendation (32 labels per class): {REC['headline']}"
    assert "  with all labels no candidate" in lines
    assert lines[-1].startswith("  not recommended: tapt_only (loses to the base")
    assert recommendation_lines({"reason": "x"}) == []


def test_the_report_shows_the_curve_with_a_column_per_budget_and_the_recommendation(tmp_path):
    root = Path(tmp_path)
    (root / "reports/evaluation").mkdir(parents=True)
    point = {"macro_f1_mean": 0.5, "macro_f1_std": 0.02}
    curve = {c: [point | {"labels_per_class": n} for n in (8, 32, "all")] for c in ("base", "dapt")}
    (root / "reports/evaluation/label_budget.json").write_text(
        json.dumps({"strategy": "full", "curve": curve})
    )
    (root / "reports/gate.json").write_text(json.dumps({"recommendation": REC}))
    page, skipped = build(root)
    assert "Label-budget curve" not in skipped
    assert "<th>8/class</th><th>32/class</th><th>all</th>" in page
    assert "50.0 ± 2.0" in page and "keep the base" in page
    assert "Not recommended: tapt_only" in page
