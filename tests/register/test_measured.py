"""What the register stage hands MLflow for the classifier's LoggedModel (pure, milliseconds)."""

from __future__ import annotations

from pathlib import Path

from components.register.stage import Paths, _measured


def test_the_classifiers_test_numbers_name_the_split_and_valid_metric_keys(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text("{}\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    task = Path("data/ingested/task")
    paths = Paths(Path("r"), Path("e"), task, Path("o"), Path("d"))
    gate = {
        "test_md5": "0" * 32,
        "seed_macro_f1": [0.7, 0.9],
        "comparisons": [{"reference": "champion v1 (dapt/full)", "delta": 0.02, "low": -0.01, "high": 0.05}],
    }  # fmt: skip
    m = _measured(gate, paths)
    assert (m.dataset, m.digest) == ("data/ingested/task/test.jsonl", "0" * 32)
    assert m.metrics["test.macro_f1_mean"] == 0.8 and m.metrics["test.macro_f1_min"] == 0.7
    assert m.metrics["gate.champion_v1_dapt/full_.delta"] == 0.02  # no spaces or ( ) in keys
    assert _measured({"heldout_md5": "x"}, paths) is None  # an encoder: no single test file


def test_the_runs_to_link_come_from_the_exact_lineage_tags_and_name_the_kept_seed():
    from components.register.stage import _producers

    gate = {"candidate": "dapt/full", "seed_kept": 1}
    tags = {"lineage.mlflow_runs.finetune": "f1,f2", "lineage.mlflow_runs.compare": "c1"}
    p = _producers(gate, tags)
    assert (p.trained_by, p.chosen_by, p.unit) == (["f1", "f2"], ["c1"], "dapt/full/seed1")
    assert _producers(gate, {}) is None  # no event named the runs: nothing to link
    assert _producers({"candidate": "dapt"}, {"lineage.mlflow_runs.compare": "c"}).unit is None
