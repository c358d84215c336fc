"""Labeled-task faults through `dapt validate` on a small task (in process: GX, no DVC): every
failing row is located by line and id, and the advice, followed, makes validation pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.cli import main

TRAIN = [
    ("t1", "年龄大于18岁", "Age"),
    ("t2", "高血压病史", "Disease"),
    ("t3", "年龄小于70岁", "Age"),
    ("t4", "既往有糖尿病史", "Disease"),
]
TEST = [("s1", "既往糖尿病", "Disease"), ("s2", "年龄18至65岁", "Age")]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(
        "profile: demo\nvalidate:\n  task: {min_rows: 2, min_per_class: 1}\n"
    )
    (tmp_path / "labels.txt").write_text("Age\nDisease\n")
    return tmp_path


def jsonl(path: Path, rows: list[dict]) -> str:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    return str(path)


def rows(data) -> list[dict]:
    return [{"id": i, "text": t, "label": lab} for i, t, lab in data]


def validate(capsys, train: list[dict], test: list[dict], labels: str = "labels.txt") -> tuple:
    rc = main(
        [
            "validate", "--no-mlflow", "--no-docs", "--manifest", "manifest.json",
            "--task-train", jsonl(Path("train.jsonl"), train),
            "--task-test", jsonl(Path("test.jsonl"), test), "--labels", labels,
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return rc, captured.err


def test_a_row_without_a_label_is_located(workdir, capsys):
    train = rows(TRAIN)
    del train[1]["label"]
    rc, err = validate(capsys, train, rows(TEST))
    assert rc == 1 and "label present" in err
    assert "line 2, id t2: label=None" in err and "every row needs a label" in err
    train[1]["label"] = "Disease"  # the fix
    assert validate(capsys, train, rows(TEST))[0] == 0


def test_a_test_label_outside_the_label_set_is_located(workdir, capsys):
    test = [*rows(TEST), {"id": "s3", "text": "妊娠期妇女", "label": "Pregnancy"}]
    rc, err = validate(capsys, rows(TRAIN), test)
    assert rc == 1 and "label in the declared label set" in err
    assert "line 3, id s3: label='Pregnancy'" in err
    assert "add it to the label set (--labels FILE)" in err
    Path("labels.txt").write_text("Age\nDisease\nPregnancy\n")  # the second fix offered ...
    train = [*rows(TRAIN), {"id": "t5", "text": "孕妇", "label": "Pregnancy"}]  # ... and its data
    assert validate(capsys, train, test)[0] == 0


def test_train_test_leakage_names_both_rows(workdir, capsys):
    test = [*rows(TEST), {"id": "s3", "text": "高血压病史", "label": "Disease"}]
    rc, err = validate(capsys, rows(TRAIN), test)
    assert rc == 1 and "no text shared with train (leakage)" in err
    assert "line 3, id s3, same text as train id t2" in err
    assert validate(capsys, rows(TRAIN), test[:-1])[0] == 0  # the fix: the row removed


def test_a_class_absent_from_train_is_named(workdir, capsys):
    Path("labels.txt").write_text("Age\nDisease\nSign\n")
    test = [*rows(TEST), {"id": "s3", "text": "头痛伴发热", "label": "Sign"}]
    rc, err = validate(capsys, rows(TRAIN), test)
    assert rc == 1 and "at least 1 training rows per class" in err
    assert "1 classes below the minimum: 'Sign' (0)" in err
    assert "e.g. 0" not in err and "counts below the minimum: 0" not in err
    train = [*rows(TRAIN), {"id": "t5", "text": "头痛三天", "label": "Sign"}]  # "label more"
    assert validate(capsys, train, test)[0] == 0


def test_a_folder_given_as_corpus_or_label_set(workdir, capsys):
    folder = workdir / "corpus"
    folder.mkdir()
    texts = ["患者头痛三天伴有发热", "高血压患者能吃党参吗", "糖尿病的饮食注意事项"]
    jsonl(folder / "a.jsonl", [{"id": str(i), "text": t} for i, t in enumerate(texts)])
    rc = main(["validate", "--no-mlflow", "--no-docs", "--corpus", str(folder)])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert "is a folder, not a file (line" not in err and "is a folder, not a file" in err
    advised = err.split("inside it: ")[1].split()[0].rstrip(",")
    assert advised == str(folder / "a.jsonl")
    main(["validate", "--no-mlflow", "--no-docs", "--corpus", advised])  # the fix
    summary = json.loads(Path("reports/validation/summary.json").read_text())
    readable = [r for r in summary["results"] if r["check"].startswith("readable")]
    assert readable and all(r["success"] for r in readable)

    rc, err = validate(capsys, rows(TRAIN), rows(TEST), labels=str(folder))
    assert rc == 1 and f"{folder}: " in err and "is a folder, not a file" in err
    assert validate(capsys, rows(TRAIN), rows(TEST))[0] == 0  # a label file, as asked
