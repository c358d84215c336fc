import json
import textwrap

from components.cli import main
from tests.conftest import ROOT

GB18030 = ROOT / "data/samples/medical/toyhom_internal_medicine_sample.gb18030.csv"


def setup(tmp_path, monkeypatch, general_path: str, encoding: str = "utf-8"):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "labels.txt").write_text("A\nB\n")
    (tmp_path / "train.tsv").write_text("A\t文本一\nB\t文本二\nA\t文本二\n")
    (tmp_path / "test.tsv").write_text("A\t文本三\nB\t文本二\n")
    (tmp_path / "domain.txt").write_text("头痛\n头痛\n发热\n")
    (tmp_path / "params.yaml").write_text(
        textwrap.dedent(
            f"""
            ingest:
              general: [{{path: {general_path}, encoding: {encoding}, text_fields: [ask]}}]
              domain: [{{path: domain.txt}}]
              task:
                train: {{path: train.tsv, columns: [label, text], label_field: label}}
                test: {{path: test.tsv, columns: [label, text], label_field: label}}
                label_set: labels.txt
            """
        )
    )


def test_ingest_writes_layout_and_counts_drops(tmp_path, monkeypatch):
    setup(tmp_path, monkeypatch, str(GB18030), encoding="gb18030")
    assert main(["ingest", "--no-mlflow", "--out", "out", "--metrics", "m.json"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "domain.jsonl",
        "general.jsonl",
        "task",
    ]
    rows = [json.loads(x) for x in (tmp_path / "out/task/test.jsonl").read_text().splitlines()]
    assert [r["text"] for r in rows] == ["文本三"]  # 文本二 is in train: dropped as leakage
    metrics = json.loads((tmp_path / "m.json").read_text())["outputs"]
    assert metrics["domain"] == {"read": 3, "kept": 2, "dropped_exact_dup": 1}
    assert metrics["task_train"]["dropped_exact_dup"] == 1
    assert metrics["task_test"]["dropped_leaked_from_train"] == 1


def test_bad_encoding_fails_and_keeps_last_good_output(tmp_path, monkeypatch, capsys):
    setup(tmp_path, monkeypatch, str(GB18030), encoding="gb18030")
    assert main(["ingest", "--no-mlflow", "--out", "out", "--metrics", "m.json"]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    setup(tmp_path, monkeypatch, str(GB18030))  # forgot the encoding
    assert main(["ingest", "--no-mlflow", "--out", "out", "--metrics", "m.json"]) == 1
    err = capsys.readouterr().err
    assert str(GB18030) in err and "--encoding gb18030" in err
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
