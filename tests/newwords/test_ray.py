"""``engine: ray`` (hash-partitioned exact counting) against the local counter on bundled sample
text: the same new words in the same order, the same scores (relative tolerance 1e-9: both rank
identical count tables with the same numpy code, so any difference is a counting bug), the same
evaluation against the bundled medical lexicon."""

from __future__ import annotations

import csv
import json

import pytest

from components.cli import main
from tests.mine.conftest import SAMPLES, general_texts, medical_texts
from tests.newwords.conftest import write_jsonl

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]
NUMERIC = ("freq", "cohesion", "left_entropy", "right_entropy", "domain_score", "score")


def lexicon(out) -> list[dict]:
    with open(out / "lexicon.tsv", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_ray_counts_give_the_same_words_and_scores(ray_cluster, tmp_path, monkeypatch, capsys):
    domain = write_jsonl(tmp_path / "domain.jsonl", medical_texts(1500))
    general = write_jsonl(tmp_path / "general.jsonl", general_texts(800))
    ref = SAMPLES / "lexicons" / "THUOCL_medical.txt"
    runs = {}
    for engine in ("local", "ray"):
        monkeypatch.setenv("DAPT_ENGINE", engine)
        out = tmp_path / engine
        args = ["newwords", "--corpus", str(domain), "--background", str(general),
                "--reference", str(ref), "--out", str(out),
                "--params", "no-such-params.yaml", "--no-mlflow", "--no-validated-check"]  # fmt: skip
        assert main(args) == 0
        runs[engine] = (lexicon(out), json.loads((out / "metrics.json").read_text()))
    assert "DAPT_ENGINE=ray overrides params.yaml execution.engine=local" in capsys.readouterr().err
    (local, lm), (ray_rows, rm) = runs["local"], runs["ray"]
    assert len(local) > 100  # a real ranking, not two empty ones
    assert [r["word"] for r in ray_rows] == [r["word"] for r in local]
    for a, b in zip(ray_rows, local, strict=True):
        for col in NUMERIC:
            assert float(a[col]) == pytest.approx(float(b[col]), rel=1e-9, abs=1e-12), (a, col)
    assert rm["eval"] == lm["eval"] and rm["candidates"] == lm["candidates"]
    assert rm["units_domain"] == lm["units_domain"] and rm["exact_counts"]
    assert rm["shuffle"]["partitions"] == 2 and rm["shuffle"]["shuffle_mb"] > 0  # 2 CPUs
