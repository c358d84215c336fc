"""`dapt validate` end to end through real great-expectations suites (in process, fast)."""

import json
import textwrap
from pathlib import Path

import pytest

from components.cli import main
from tests.conftest import ROOT

GB18030 = ROOT / "data/samples/medical/toyhom_internal_medicine_sample.gb18030.csv"
MEDICAL = [
    "患者头痛三天伴有发热",
    "高血压患者能吃党参吗",
    "糖尿病的饮食注意事项",
    "孩子咳嗽有痰怎么办",
    "胃痛反酸是什么原因",
    "失眠多梦如何调理",
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(
        textwrap.dedent(
            """
            profile: demo
            validate:
              corpus: {min_docs: 5, min_bytes: 10, max_dup_rate: 0.2}
              task: {min_rows: 2, min_per_class: 1}
            """
        )
    )
    return tmp_path


def jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return str(path)


def corpus(path: Path, texts=MEDICAL) -> str:
    return jsonl(path, [{"id": str(i), "text": t} for i, t in enumerate(texts)])


def task(path: Path, rows: list[tuple[str, str, str]]) -> str:
    return jsonl(path, [{"id": i, "text": t, "label": lab} for i, t, lab in rows])


TRAIN = [
    ("t1", "年龄大于18岁", "Age"),
    ("t2", "高血压病史", "Disease"),
    ("t3", "年龄小于70岁", "Age"),
]
TEST = [("s1", "既往糖尿病", "Disease"), ("s2", "年龄18至65岁", "Age")]


def validate(*args: str) -> int:
    return main(["validate", "--no-mlflow", "--no-docs", "--manifest", "manifest.json", *args])


def test_good_corpus_and_task_pass_and_write_manifest(workdir, capsys):
    (workdir / "labels.txt").write_text("Age\nDisease\n")
    rc = main(
        [
            "validate",
            "--no-mlflow",
            "--manifest",
            "manifest.json",
            "--corpus",
            corpus(workdir / "c.jsonl"),
            "--task-train",
            task(workdir / "train.jsonl", TRAIN),
            "--task-test",
            task(workdir / "test.jsonl", TEST),
            "--labels",
            "labels.txt",
            "--metrics",
            "m.json",
        ]
    )
    assert rc == 0, capsys.readouterr()
    manifest = json.loads((workdir / "manifest.json").read_text())
    assert manifest["passed"] and set(manifest["files"]) == {
        "c.jsonl",
        "train.jsonl",
        "test.jsonl",
        "labels.txt",
    }
    summary = json.loads((workdir / "reports/validation/summary.json").read_text())
    assert summary["passed"] and summary["failed"] == 0 and summary["checks"] >= 20
    assert (workdir / "reports/validation/data_docs/index.html").exists()
    assert "Validation passed" in (workdir / "reports/validation/index.html").read_text()


def fails(capsys, *args: str) -> str:
    rc = validate(*args)
    err = capsys.readouterr().err
    assert rc == 1, err
    assert not Path("manifest.json").exists()
    summary = json.loads(Path("reports/validation/summary.json").read_text())
    assert not summary["passed"]
    return err


def test_non_utf8_names_file_encoding_and_flag_then_passes_encoding_check(workdir, capsys):
    err = fails(capsys, "--corpus", str(GB18030))
    assert (
        str(GB18030) in err and "detected encoding: gb18030" in err and "--encoding gb18030" in err
    )
    assert "line 2" in err and "byte offset 28" in err
    validate("--corpus", str(GB18030), "--encoding", "gb18030", "--text-field", "ask,answer")
    summary = json.loads(Path("reports/validation/summary.json").read_text())
    readable = [r for r in summary["results"] if r["check"].startswith("readable")]
    assert readable and all(r["success"] for r in readable)
    assert summary["stats"][str(GB18030)]["n_docs"] > 200


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "file is empty"),
        (b'{"id":"1","text":"ok"}\n{"id":"2",\n', "invalid JSON"),
        (b'{"id":"1","body":"no text"}\n', "missing field 'text'"),
        (b'{"id":"1","text":"a\x00b"}\n', "NUL byte"),
    ],
)
def test_unreadable_corpus_fails_closed(workdir, capsys, content, expected):
    path = workdir / "bad.jsonl"
    path.write_bytes(content)
    err = fails(capsys, "--corpus", str(path))
    assert str(path) in err and expected in err and "fix:" in err


def test_missing_text_column_is_named(workdir, capsys):
    path = workdir / "c.tsv"
    path.write_text("label\tsentence\nA\t头痛\n", encoding="utf-8")
    err = fails(capsys, "--corpus", str(path))
    assert (
        "column 'text' does not exist (columns: label, sentence)" in err and "--text-field" in err
    )


def test_corpus_quality_failures_are_counted_with_examples(workdir, capsys):
    texts = [
        *MEDICAL,
        *[MEDICAL[0]] * 3,
        "含有\ufffd乱码",
        "control\x07char",
        "english only text here",
    ]
    err = fails(capsys, "--corpus", corpus(workdir / "c.jsonl", texts))
    assert "duplicate rate <= 0.2" in err and "observed 0.25" in err
    assert "no U+FFFD replacement characters" in err and "1 of 12 rows" in err
    assert "no control characters" in err


def test_label_outside_label_set(workdir, capsys):
    (workdir / "labels.txt").write_text("Age\nDisease\n")
    bad_test = [*TEST, ("s3", "妊娠期妇女", "Pregnancy")]
    err = fails(
        capsys,
        "--task-train",
        task(workdir / "tr.jsonl", TRAIN),
        "--task-test",
        task(workdir / "te.jsonl", bad_test),
        "--labels",
        "labels.txt",
    )
    assert "label in the declared label set" in err and "Pregnancy" in err and "te.jsonl" in err


def test_train_test_overlap(workdir, capsys):
    leaky = [*TEST, ("s3", TRAIN[1][1], "Disease")]
    err = fails(
        capsys,
        "--task-train",
        task(workdir / "tr.jsonl", TRAIN),
        "--task-test",
        task(workdir / "te.jsonl", leaky),
    )
    assert "no text shared with train (leakage)" in err and "1 of 3 rows" in err


def test_duplicate_ids(workdir, capsys):
    dup = [*TRAIN, ("t1", "另一条文本", "Age")]
    err = fails(
        capsys,
        "--task-train",
        task(workdir / "tr.jsonl", dup),
        "--task-test",
        task(workdir / "te.jsonl", TEST),
    )
    assert "unique ids" in err and "t1" in err


def test_min_count_per_class(workdir, capsys):
    (workdir / "labels.txt").write_text("Age\nDisease\nAllergy\n")
    err = fails(
        capsys,
        "--task-train",
        task(workdir / "tr.jsonl", TRAIN),
        "--task-test",
        task(workdir / "te.jsonl", TEST),
        "--labels",
        "labels.txt",
    )
    assert "at least 1 training rows per class" in err


def test_failure_keeps_previous_manifest(workdir, capsys):
    good = corpus(workdir / "c.jsonl")
    assert validate("--corpus", good) == 0
    before = Path("manifest.json").read_text()
    (workdir / "c.jsonl").write_bytes(b"")
    assert validate("--corpus", good) == 1
    assert Path("manifest.json").read_text() == before


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--task-train", "x.jsonl"],
        ["--task-dev", "x.jsonl"],
        ["--corpus", "missing.jsonl"],
        ["--lang", "fr"],
    ],
)
def test_usage_errors_exit_2(workdir, args):
    with pytest.raises(SystemExit) if "--lang" in args else _no_raise():
        assert main(["validate", "--no-mlflow", *args]) == 2


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_large_corpus_uses_a_sample_for_gx_but_counts_everything(workdir, capsys):
    texts = [f"第{i}号病人主诉头痛发热伴有咳嗽" for i in range(3000)] + ["含\ufffd"]
    path = corpus(workdir / "big.jsonl", texts)
    Path("params.yaml").write_text(
        "validate:\n  corpus: {min_docs: 5, min_bytes: 10, gx_sample_size: 100}\n"
    )
    assert validate("--corpus", path) == 1
    summary = json.loads(Path("reports/validation/summary.json").read_text())
    stats = summary["stats"][path]
    assert stats["n_docs"] == 3001 and stats["gx_rows"] == 100 and stats["fffd_docs"] == 1
    failed = {r["check"] for r in summary["results"] if not r["success"]}
    assert "no documents with U+FFFD" in failed  # found by the streaming pass, not the sample


def test_gx_sample_is_bounded_in_count_and_characters():
    from components.data import Document
    from components.validate.stats import scan_corpus

    docs = (Document(str(i), "字" * (10 + i % 50)) for i in range(20000))
    stats, sample = scan_corpus(
        docs,
        min_chars=1,
        max_chars=10**6,
        sample_size=5000,
        exact_cap=10**6,
        sample_max_chars=20000,
    )
    assert stats.n_docs == 20000 and stats.n_chars == sum(10 + i % 50 for i in range(20000))
    assert 0 < len(sample) < 5000 and sum(len(d.text) for d in sample) <= 20000
    ids = [int(d.id) for d in sample]
    assert (
        len(set(ids)) == len(ids) and max(ids) > 15000 and min(ids) < 5000
    )  # spread over the stream


def test_distinct_counter_spills_to_hyperloglog_within_two_percent():
    from components.validate.stats import DistinctCounter

    counter = DistinctCounter(exact_cap=1000)
    for i in range(30000):
        counter.add(hash(("doc", i % 20000)) & (2**64 - 1))
    assert not counter.is_exact and abs(counter.count() - 20000) / 20000 < 0.02
