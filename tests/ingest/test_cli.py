import json
import shutil
import textwrap

from components.cli import main
from tests.conftest import ROOT

GB18030 = ROOT / "data/samples/medical/toyhom_internal_medicine_sample.gb18030.csv"


def setup(tmp_path, monkeypatch, encoding: str = "utf-8", task: str | None = None):
    monkeypatch.chdir(tmp_path)
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    shutil.copy(GB18030, raw / "general.csv")
    (raw / "labels.txt").write_text("A\nB\n")
    (raw / "train.tsv").write_text("A\t文本一\nB\t文本二\nA\t文本二\n")
    (raw / "test.tsv").write_text("A\t文本三\nB\t文本二\n")
    (raw / "domain.txt").write_text("头痛\n头痛\n发热\n")
    task = (
        task
        or """
                train: {path: raw/train.tsv, columns: [label, text], label_field: label}
                test: {path: raw/test.tsv, columns: [label, text], label_field: label}
                label_set: raw/labels.txt"""
    )
    (tmp_path / "params.yaml").write_text(
        textwrap.dedent(
            f"""
            domain:
              name: demo
              lang: zh
              inputs: raw
              base_model: models/base
              general: [{{path: raw/general.csv, encoding: {encoding}, text_fields: [ask]}}]
              corpus: [{{path: raw/domain.txt}}]
              task: {task}
            """
        )
    )


def test_ingest_writes_layout_and_counts_drops(tmp_path, monkeypatch):
    setup(tmp_path, monkeypatch, encoding="gb18030")
    assert main(["ingest", "--no-mlflow", "--out", "out", "--metrics", "m.json"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "domain.jsonl",
        "general.jsonl",
        "lexicon.txt",
        "shape.json",
        "task",
    ]
    # no dev split was given: a stratified share of train would be held out as dev, but with
    # 2 + 1 training rows no class can spare one (validation then asks for more rows)
    assert (tmp_path / "out/task/dev.jsonl").read_text(encoding="utf-8") == ""
    assert json.loads((tmp_path / "out/shape.json").read_text())["shape"] == "corpus+task"
    rows = [json.loads(x) for x in (tmp_path / "out/task/test.jsonl").read_text().splitlines()]
    assert [r["text"] for r in rows] == ["文本三"]  # 文本二 is in train: dropped as leakage
    metrics = json.loads((tmp_path / "m.json").read_text())["outputs"]
    assert metrics["domain"] == {"read": 3, "kept": 2, "dropped_exact_dup": 1}
    assert metrics["task_train"]["dropped_exact_dup"] == 1
    assert metrics["task_test"]["dropped_leaked_from_train"] == 1


def test_bad_encoding_fails_and_keeps_last_good_output(tmp_path, monkeypatch, capsys):
    setup(tmp_path, monkeypatch, encoding="gb18030")
    assert main(["ingest", "--no-mlflow", "--out", "out", "--metrics", "m.json"]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    setup(tmp_path, monkeypatch)  # forgot the encoding
    assert main(["ingest", "--no-mlflow", "--out", "out", "--metrics", "m.json"]) == 1
    err = capsys.readouterr().err
    assert "raw/general.csv" in err and "gb18030" in err
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_corpus_only_and_task_only_projects_write_every_file(tmp_path, monkeypatch):
    setup(tmp_path, monkeypatch, encoding="gb18030", task="null")
    assert main(["ingest", "--no-mlflow", "--out", "out", "--metrics", "m.json"]) == 0
    shape = json.loads((tmp_path / "out/shape.json").read_text())
    assert shape == {"shape": "corpus-only", "corpus": True, "task": False, "lang": "zh"}
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl", "labels.txt"):
        assert (tmp_path / "out/task" / name).read_bytes() == b""  # DVC names every file


def test_an_input_outside_domain_inputs_is_refused_with_the_fix(tmp_path, monkeypatch, capsys):
    setup(tmp_path, monkeypatch, encoding="gb18030")
    text = (tmp_path / "params.yaml").read_text().replace("raw/domain.txt", "../domain.txt")
    (tmp_path / "params.yaml").write_text(text)
    assert main(["ingest", "--no-mlflow", "--out", "out", "--metrics", "m.json"]) == 2
    err = capsys.readouterr().err
    assert "domain.corpus[0].path: '../domain.txt' is outside domain.inputs (raw)" in err
    assert "move it under raw/" in err


def test_a_symlinked_input_is_refused_unless_allowed_then_recorded(tmp_path, monkeypatch, capsys):
    setup(tmp_path, monkeypatch, encoding="gb18030")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "raw/domain.txt").unlink()
    (tmp_path / "raw/domain.txt").symlink_to(secret)  # a link listed as the domain corpus
    assert main(["ingest", "--no-mlflow", "--out", "out", "--metrics", "m.json"]) == 1
    err = capsys.readouterr().err
    assert "raw/domain.txt: is a symbolic link" in err and "domain.allow_symlinks: true" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "m.json").exists()
    params = tmp_path / "params.yaml"
    params.write_text(
        params.read_text().replace("  lang: zh", "  lang: zh\n  allow_symlinks: true")
    )
    assert main(["ingest", "--no-mlflow", "--out", "out", "--metrics", "m.json"]) == 0
    links = json.loads((tmp_path / "m.json").read_text())["symlinks"]
    assert links == {"domain.corpus[0]": {"path": "raw/domain.txt", "resolved": str(secret)}}
