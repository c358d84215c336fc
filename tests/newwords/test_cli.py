"""`dapt newwords` end to end on tiny inputs: outputs, evaluation, English mode, clear errors."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from components.cli import main
from tests.newwords.conftest import TERMS, synthetic_docs, write_jsonl

NO_PARAMS = [
    "--params",
    "no-such-params.yaml",
    "--no-mlflow",
    "--no-validated-check",
]  # documented defaults, ad-hoc inputs


def run_cli(*args: str) -> int:
    return main(["newwords", *args, *NO_PARAMS])


def read_tsv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_zh_finds_planted_terms_and_scores_against_reference(corpora, tmp_path):
    out = tmp_path / "out"
    second = write_jsonl(tmp_path / "more.jsonl", ["蒙脱石散胶囊，赛庚啶片。"] * 3)
    rc = run_cli(
        "--corpus", str(corpora["domain"]), str(second),
        "--background", str(corpora["general"]),
        "--reference", str(corpora["reference"]),
        "--out", str(out), "--plot", str(out / "p.png"), "--workers", "2",
    )  # fmt: skip
    assert rc == 0
    rows = read_tsv(out / "lexicon.tsv")
    assert list(rows[0]) == ["word", "freq", "cohesion", "left_entropy", "right_entropy",
                             "domain_score", "score"]  # fmt: skip
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert {r["word"] for r in rows[:4]} == set(TERMS)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["eval"]["precision_at_100"] == pytest.approx(4 / 100)
    assert metrics["eval"]["recall"] == 1.0 and metrics["eval"]["reference_occurring"] == 5 - 1
    assert metrics["exact_counts"] and metrics["workers"] == 2 and metrics["mb_per_s"] > 0
    assert (out / "p.png").stat().st_size > 1000


def test_exclude_vocab_and_top_k(corpora, tmp_path):
    vocab = tmp_path / "vocab.tsv"
    vocab.write_text("赛庚啶\t1\n", encoding="utf-8")
    out = tmp_path / "out"
    rc = run_cli("--corpus", str(corpora["domain"]), "--exclude-vocab", str(vocab),
                 "--out", str(out), "--top-k", "3", "--workers", "1")  # fmt: skip
    assert rc == 0
    words = [r["word"] for r in read_tsv(out / "lexicon.tsv")]
    assert len(words) == 3 and "赛庚啶" not in words


def test_default_ranking_never_lists_general_dictionary_words(tmp_path):
    from components.newwords.core import general_dictionary

    # 阿莫西林 and 布洛芬 are in jieba's dict.txt: with the same statistics as the new terms
    # they would rank among them.
    known = ["阿莫西林", "布洛芬"]
    assert set(known) <= general_dictionary()
    corpus = write_jsonl(tmp_path / "d.jsonl", synthetic_docs(300, seed=1, terms=TERMS + known))
    general = write_jsonl(tmp_path / "g.jsonl", synthetic_docs(300, seed=2, terms=[]))
    out = tmp_path / "out"
    args = ["--corpus", str(corpus), "--background", str(general), "--workers", "1"]
    assert run_cli(*args, "--out", str(out)) == 0
    words = [r["word"] for r in read_tsv(out / "lexicon.tsv")]
    assert words and not set(words) & general_dictionary()
    assert set(TERMS) <= set(words[:10])
    params = tmp_path / "params.yaml"  # configured otherwise: the known words come back
    params.write_text("newwords:\n  exclude_general_dict: false\n", encoding="utf-8")
    out2 = tmp_path / "out2"
    rc = main(
        [
            "newwords",
            *args,
            "--out",
            str(out2),
            "--params",
            str(params),
            "--no-mlflow",
            "--no-validated-check",
        ]
    )
    assert rc == 0
    assert set(known) <= {r["word"] for r in read_tsv(out2 / "lexicon.tsv")[:10]}


def test_english_terms_and_long_single_words(tmp_path):
    rng = random.Random(0)
    filler = [
        "patients",
        "were",
        "given",
        "daily",
        "doses",
        "over",
        "weeks",
        "in",
        "the",
        "study",
        "group",
    ]
    terms = ["heart failure", "atrial fibrillation", "pneumonia"]
    docs = []
    for _ in range(200):
        words = [*rng.sample(filler, 4), rng.choice(terms), *rng.sample(filler, 3)]
        docs.append(" ".join(words) + ". The " + rng.choice(filler) + " of the trial.")
    corpus = write_jsonl(tmp_path / "en.jsonl", docs)
    general = write_jsonl(
        tmp_path / "bg.jsonl", [" ".join(rng.sample(filler, 6)) for _ in range(200)]
    )
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[UNK]", "heart", "failure", "pneu", "##mo", "##nia", *filler]))
    out = tmp_path / "out"
    rc = run_cli("--lang", "en", "--corpus", str(corpus), "--background", str(general),
                 "--exclude-vocab", str(vocab), "--out", str(out))  # fmt: skip
    assert rc == 0
    words = [r["word"] for r in read_tsv(out / "lexicon.tsv")]
    assert set(words[:3]) == set(terms)
    assert not any(w.split()[0] in {"of", "the"} or w.split()[-1] in {"of", "the"} for w in words)


def test_english_exclude_vocab_from_a_tokenizer_json(tmp_path):
    """Fast tokenizers save tokenizer.json, not vocab.txt: its vocabulary is what counts (read as
    lines it was JSON fragments, so no single word ever qualified as "split into many pieces")."""
    from components.data.lexicon import read_words
    from components.errors import InputError
    from components.tokenizer.core import train_char_wordpiece

    rng = random.Random(1)
    filler = ["the", "study", "group", "patients", "were", "given", "daily", "doses", "over"]
    general = [" ".join(rng.sample(filler, 6)) for _ in range(200)]
    tok = train_char_wordpiece([*general, "abcdefghijklmnopqrstuvwxyz"],
                               vocab_size=120, min_frequency=1)  # fmt: skip
    tok.save_pretrained(tmp_path / "tok")
    tok_json = tmp_path / "tok" / "tokenizer.json"
    assert set(read_words(str(tok_json))) == set(tok.get_vocab())
    docs = [" ".join([*rng.sample(filler, 4), "pneumonia", *rng.sample(filler, 3)]) + "."
            for _ in range(200)]  # fmt: skip
    corpus = write_jsonl(tmp_path / "en.jsonl", docs)
    bg = write_jsonl(tmp_path / "bg.jsonl", general)
    out = tmp_path / "out"
    rc = run_cli("--lang", "en", "--corpus", str(corpus), "--background", str(bg),
                 "--exclude-vocab", str(tok_json), "--out", str(out))  # fmt: skip
    assert rc == 0
    words = [r["word"] for r in read_tsv(out / "lexicon.tsv")]
    assert "pneumonia" in words and "study" not in words  # long word listed, vocab word dropped
    (tmp_path / "other.json").write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(InputError, match=r"not a tokenizer\.json"):
        read_words(str(tmp_path / "other.json"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b'{"text": "abc def"}\n', "holds no Han characters"),
        (
            '{"text": "甲乙丙"}\n'.encode(),
            "only 3 Han characters, fewer than the longest candidate (6)",
        ),
        (b'{"text": "\x00\x01\x02"}\n', "NUL byte"),
        (b'{"text": "\xff\xfe\xfa"}\n', "not valid UTF-8"),
    ],
)
def test_bad_inputs_get_clear_errors(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    assert run_cli("--corpus", str(bad), "--out", str(tmp_path / "out")) == 1
    err = capsys.readouterr().err
    assert message in err and str(bad) in err and "fix:" in err
    assert not (tmp_path / "out").exists()


def test_missing_file_and_unvalidated_input(corpora, tmp_path, capsys, monkeypatch):
    assert run_cli("--corpus", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")) == 1
    assert "file does not exist" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # no data/validated/manifest.json here
    rc = main(
        ["newwords", "--corpus", str(corpora["domain"]), "--out", "o", "--no-mlflow"]
    )  # checked by default
    assert rc == 1 and "no validate manifest" in capsys.readouterr().err


def test_out_of_range_option_is_a_usage_error(corpora, tmp_path, capsys):
    assert run_cli("--corpus", str(corpora["domain"]), "--out", str(tmp_path), "--top-k", "0") == 2
    assert "newwords.top_k: 0 is out of range" in capsys.readouterr().err
