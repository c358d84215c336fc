"""``engine: ray`` (hash-partitioned exact counting) against the local counter on bundled sample
text: the same new words in the same order, the same scores, the same evaluation.

Chinese (bundled medical QA vs CLUE web text): the lexicon row for row (scores are checked
within a relative 1e-9 first, so a failure says which column drifts): both paths score with the
same numpy code, the Ray one inside the partitions (neighbour sums in the local order, cohesion
from substring counts fetched by key) with a global top-k. English (ACL-ARC
citation contexts vs WikiText-2, in an English project): tolerance 0, the lexicon byte for byte,
since the Ray path hands the scorer the local tables in the local order (english_ray.py)."""

from __future__ import annotations

import csv
import json
import os

import pytest

from components.cli import main
from components.newwords import core, english
from components.newwords.english import score_counts
from tests.mine.conftest import SAMPLES, general_texts, medical_texts, write_shards
from tests.newwords.conftest import ACL_ARC, ACL_TRAIN, EN_VOCAB, wikitext, write_jsonl

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]
NUMERIC = ("freq", "cohesion", "left_entropy", "right_entropy", "domain_score", "score")


def lexicon(out) -> list[dict]:
    with open(out / "lexicon.tsv", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.mark.parametrize("top_k", [None, 40])
def test_ray_counts_give_the_same_words_and_scores(
    ray_cluster, tmp_path, monkeypatch, capsys, top_k
):
    """``top_k=40`` cuts inside the partitions (each keeps its best 40, the driver the best 40
    of those); ``None``: the default 5,000, more than the candidates that pass the filters."""
    domain = write_jsonl(tmp_path / "domain.jsonl", medical_texts(1500))
    rows = [{"id": f"g{i}", "text": t} for i, t in enumerate(general_texts(800))]
    general = write_shards(tmp_path / "general.jsonl", rows, 300)  # a sharded decontaminated pool
    ref = SAMPLES / "lexicons" / "THUOCL_medical.txt"
    runs, scored = {}, []
    score = core.zh_candidates

    def capture(counts, p):  # which driver builds the whole candidate table
        scored.append(os.environ["DAPT_ENGINE"])
        return score(counts, p)

    monkeypatch.setattr(core, "zh_candidates", capture)
    for engine in ("local", "ray"):
        monkeypatch.setenv("DAPT_ENGINE", engine)
        out = tmp_path / engine
        args = ["newwords", "--corpus", str(domain), "--background", str(general),
                "--reference", str(ref), "--out", str(out),
                "--params", "no-such-params.yaml", "--no-mlflow", "--no-validated-check"]  # fmt: skip
        if top_k:
            args += ["--top-k", str(top_k)]
        assert main(args) == 0
        runs[engine] = (lexicon(out), json.loads((out / "metrics.json").read_text()))
    assert "DAPT_ENGINE=ray overrides params.yaml execution.engine=local" in capsys.readouterr().err
    (local, lm), (ray_rows, rm) = runs["local"], runs["ray"]
    assert len(local) == (top_k or len(local)) and len(local) > 30  # a real ranking
    assert [r["word"] for r in ray_rows] == [r["word"] for r in local]
    for a, b in zip(ray_rows, local, strict=True):
        for col in NUMERIC:
            assert float(a[col]) == pytest.approx(float(b[col]), rel=1e-9, abs=1e-12), (a, col)
    assert ray_rows == local  # in practice the same bits: the same numpy on the same counts
    assert any(len(r["word"]) >= 5 for r in local)  # rows whose characters travel (head/tail)
    for key in ("eval", "candidates", "filtered", "listed", "units_domain", "units_background"):
        assert rm[key] == lm[key], key
    # Scored and ranked in the partitions: the Ray driver never built the candidate table.
    assert scored == ["local"]
    assert rm["exact_counts"] and rm["workers"] == 2
    assert rm["shuffle"]["partitions"] == 2 and rm["shuffle"]["shuffle_mb"] > 0  # 2 CPUs


@pytest.mark.parametrize("top_k", [None, 30])
def test_english_project_on_ray_gives_the_local_lexicon(
    ray_cluster, tmp_path, monkeypatch, capsys, top_k
):
    rows = [{"id": str(i), "text": t} for i, t in enumerate(wikitext(600))]
    general = write_shards(tmp_path / "wiki.jsonl", rows, 250)  # a shard folder
    ref = tmp_path / "terms.txt"
    ref.write_text("machine translation\nnamed entity recognition\nparsing\n", encoding="utf-8")
    scored = []  # which driver builds the whole candidate table

    def capture(c, bg, p, vocab, workers=1):
        scored.append(os.environ["DAPT_ENGINE"])
        return score_counts(c, bg, p, vocab, workers)

    monkeypatch.setattr(english, "score_counts", capture)
    runs = {}
    for engine in ("local", "ray"):
        monkeypatch.setenv("DAPT_ENGINE", engine)
        out = tmp_path / engine
        # The ACL-ARC example's own params: an English project (domain.lang en), min_count 3.
        args = ["newwords", "--corpus", str(ACL_TRAIN), "--background", str(general),
                "--exclude-vocab", str(EN_VOCAB), "--reference", str(ref), "--out", str(out),
                "--params", str(ACL_ARC.parent / "params.yaml"),
                "--no-mlflow", "--no-validated-check"]  # fmt: skip
        if top_k:
            args += ["--top-k", str(top_k)]
        assert main(args) == 0
        lexicon_bytes = (out / "lexicon.tsv").read_bytes()
        runs[engine] = (lexicon_bytes, json.loads((out / "metrics.json").read_text()))
    assert "DAPT_ENGINE=ray overrides params.yaml execution.engine=local" in capsys.readouterr().err
    (local, lm), (ray_lex, rm) = runs["local"], runs["ray"]
    assert lm["lang"] == "en" and local.count(b"\n") > (top_k or 100)  # a real English ranking
    assert ray_lex == local  # same words, order, freq and scores (to the 4 decimals written)
    assert rm.pop("engine") == "ray" and "engine" not in lm
    shuffle = rm.pop("shuffle")
    assert shuffle["partitions"] == 2 and shuffle["shuffle_mb"] > 0  # 2 CPUs
    assert rm.pop("workers") == shuffle["partitions"] and lm.pop("workers") == 1
    timing = ("seconds", "mb_per_s", "peak_rss_mb_main", "peak_rss_mb_worker")
    assert {k: v for k, v in rm.items() if k not in timing} == {
        k: v for k, v in lm.items() if k not in timing
    }  # candidates, every filter's count, units, exact_counts, evaluation
    assert lm["eval"]["reference_occurring"] >= 2 and lm["candidates"] > 1000
    # Scored and ranked in the partitions: the Ray driver never built the candidate table.
    assert scored == ["local"]
