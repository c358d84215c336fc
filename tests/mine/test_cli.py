"""``dapt mine`` end to end: outputs and audit trail, budgets, bad inputs, parallel = serial."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from components.cli import main
from components.config import load_section
from components.mine.outputs import select_cutoff
from components.mine.shard import RECORD
from tests.mine.conftest import general_texts, medical_texts, write_jsonl

ROOT = Path(__file__).resolve().parents[2]
PARAMS = """
profile: smoke
mine:
  top_n: 10
  workers: 1
  dsir: {n_buckets_log2: 16}
"""


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(PARAMS, encoding="utf-8")
    return path


def dapt_mine(
    tmp_path: Path, params_file: Path, seed, pool, *extra: str, out="out", checked=False
) -> int:
    """``dapt mine`` on ad-hoc files (no validation gate) unless ``checked``."""
    return main(
        [
            "mine",
            "--seed",
            str(seed),
            "--pool",
            *map(str, pool if isinstance(pool, list) else [pool]),
            "--out",
            str(tmp_path / out),
            "--params",
            str(params_file),
            "--metrics",
            str(tmp_path / f"{out}.metrics.json"),
            "--plot",
            str(tmp_path / f"{out}.png"),
            "--no-progress",
            "--no-mlflow",
            *([] if checked else ["--no-validated-check"]),
            *extra,
        ]
    )


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_outputs_audit_every_pool_document(tmp_path, params_file, mixture):
    # Two pool files; one pool document is a seed document, one an exact duplicate.
    seed_rows = read_jsonl(mixture["seed"])
    extra = write_jsonl(
        tmp_path / "extra.jsonl",
        [
            {"id": "copy_of_seed", "text": seed_rows[0]["text"]},
            {"id": "dup_of_pool", "text": mixture["pool_rows"][0]["text"]},
            {"id": "tiny", "text": "短"},
        ],
    )
    rc = dapt_mine(
        tmp_path, params_file, mixture["seed"], [mixture["pool"], extra], "--top-n", "25"
    )
    assert rc == 0
    scores = read_jsonl(tmp_path / "out" / "scores.jsonl")
    pool_ids = [r["id"] for r in mixture["pool_rows"]] + ["copy_of_seed", "dup_of_pool", "tiny"]
    assert [r["id"] for r in scores] == pool_ids
    by_id = {r["id"]: r for r in scores}
    assert by_id["copy_of_seed"]["reason"] == "in_seed" and not by_id["copy_of_seed"]["kept"]
    assert by_id["dup_of_pool"]["reason"] == "exact_dup"
    assert by_id["tiny"]["reason"] == "too_short"
    assert all((r["reason"] is None) == r["kept"] for r in scores)
    kept = [r for r in scores if r["kept"]]
    assert len(kept) == 25
    # The kept ones are the 25 best clean scores.
    clean = sorted(
        (r["score"] for r in scores if r["reason"] in (None, "not_selected")), reverse=True
    )
    assert min(r["score"] for r in kept) == clean[24]

    selected = read_jsonl(tmp_path / "out" / "selected.jsonl")
    assert [d["id"] for d in selected] == [r["id"] for r in kept]  # pool ids, pool order
    texts = {r["id"]: r["text"] for r in mixture["pool_rows"]}
    assert all(d["text"] == texts[d["id"]] for d in selected)

    metrics = json.loads((tmp_path / "out.metrics.json").read_text())
    assert metrics["selected_docs"] == 25 and metrics["pool_docs"] == len(pool_ids)
    assert metrics["dropped"]["in_seed"] == 1 and metrics["dropped"]["exact_dup"] == 1
    assert sum(metrics["dropped"].values()) + metrics["clean_docs"] == metrics["pool_docs"]
    assert metrics["throughput_mb_s"]["score_pass"] > 0
    assert (tmp_path / "out.png").stat().st_size > 1000


def test_budget_modes_fraction_and_threshold(tmp_path, params_file, mixture):
    assert (
        dapt_mine(tmp_path, params_file, mixture["seed"], mixture["pool"], "--fraction", "0.1") == 0
    )
    m = json.loads((tmp_path / "out.metrics.json").read_text())
    assert m["selected_docs"] == int(np.ceil(0.1 * m["clean_docs"]))
    cut = m["cutoff_score"]
    assert (
        dapt_mine(
            tmp_path,
            params_file,
            mixture["seed"],
            mixture["pool"],
            "--threshold",
            str(cut),
            out="t",
        )
        == 0
    )
    by_t = read_jsonl(tmp_path / "t" / "scores.jsonl")
    assert all(r["kept"] == (r["reason"] is None) for r in by_t)
    assert {r["id"] for r in by_t if r["kept"]} == {
        r["id"] for r in read_jsonl(tmp_path / "out" / "scores.jsonl") if r["kept"]
    }


def test_parallel_workers_give_the_same_result(tmp_path, params_file, mixture):
    assert dapt_mine(tmp_path, params_file, mixture["seed"], mixture["pool"], out="one") == 0
    rc = dapt_mine(
        tmp_path, params_file, mixture["seed"], mixture["pool"], "--workers", "2", out="two"
    )
    assert rc == 0
    assert read_jsonl(tmp_path / "one" / "scores.jsonl") == read_jsonl(
        tmp_path / "two" / "scores.jsonl"
    )


@pytest.mark.parametrize("n_scores", [1, 7, 500])
def test_cutoff_selects_exactly_n_with_ties(n_scores):
    from components.mine.params import MineParams

    rng = np.random.default_rng(n_scores)
    rec = np.zeros(n_scores, dtype=RECORD)
    rec["score"] = rng.integers(0, 5, n_scores) / 4  # many ties
    rec["reason"] = rng.integers(0, 3, n_scores) == 0  # a third dropped (code 1)
    clean = np.sort(rec["score"][rec["reason"] == 0])[::-1]
    for want in {1, 3, len(clean)}:
        cutoff, ties, got, _ = select_cutoff(rec, MineParams(top_n=want))
        want = min(want, len(clean))
        assert got == want
        if want:
            assert cutoff == clean[want - 1]
            assert (clean > cutoff).sum() + ties == want


def test_repo_params_resolve_for_every_profile():
    for profile in ("smoke", "demo", "full"):
        p = load_section("mine", ROOT / "params.yaml", profile=profile)
        assert p.method == "dsir" and p.check() == []


# -- bad inputs ---------------------------------------------------------------------------------
def test_empty_seed_is_an_input_error(tmp_path, params_file, mixture, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert dapt_mine(tmp_path, params_file, empty, mixture["pool"]) == 1
    assert "empty.jsonl: file is empty" in capsys.readouterr().err
    blank = write_jsonl(tmp_path / "blank.jsonl", [{"id": "1", "text": "  "}])
    assert dapt_mine(tmp_path, params_file, blank, mixture["pool"]) == 1
    assert "the seed has no non-empty document" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_empty_pool_is_an_input_error(tmp_path, params_file, mixture, capsys):
    empty = tmp_path / "pool.txt"
    empty.write_text("\n\n", encoding="utf-8")
    assert dapt_mine(tmp_path, params_file, mixture["seed"], empty) == 1
    assert "pool.txt: file is empty" in capsys.readouterr().err


def test_seed_in_another_script_is_refused_unless_allowed(tmp_path, params_file, capsys):
    english = [
        "The patient reported chest pain and shortness of breath after exercise yesterday.",
        "Blood pressure should be measured twice a day while the new medication is adjusted.",
    ] * 10
    seed = write_jsonl(
        tmp_path / "seed_en.jsonl",
        [{"id": str(i), "text": f"{t} {i}"} for i, t in enumerate(english)],
    )
    pool = write_jsonl(
        tmp_path / "pool.jsonl",
        [{"id": str(i), "text": t} for i, t in enumerate(general_texts(40))],
    )
    assert dapt_mine(tmp_path, params_file, seed, pool) == 1
    err = capsys.readouterr().err
    assert "seed is mostly Latin script but the pool is mostly Han" in err
    assert "allow_script_mismatch" in err
    params_file.write_text(PARAMS + "  allow_script_mismatch: true\n", encoding="utf-8")
    assert dapt_mine(tmp_path, params_file, seed, pool) == 0
    assert "warning: the seed is mostly Latin" in capsys.readouterr().err
    m = json.loads((tmp_path / "out.metrics.json").read_text())
    assert any("Latin" in w for w in m["warnings"])


def test_budget_larger_than_the_pool_selects_all_clean_with_a_warning(
    tmp_path, params_file, capsys
):
    seed = write_jsonl(
        tmp_path / "seed.jsonl",
        [{"id": str(i), "text": t} for i, t in enumerate(medical_texts(50))],
    )
    pool = write_jsonl(
        tmp_path / "pool.jsonl",
        [{"id": f"p{i}", "text": t} for i, t in enumerate(general_texts(30))],
    )
    assert dapt_mine(tmp_path, params_file, seed, pool, "--top-n", "1000") == 0
    assert "exceeds the" in capsys.readouterr().err
    m = json.loads((tmp_path / "out.metrics.json").read_text())
    assert m["selected_docs"] == m["clean_docs"] > 0
    assert any("exceeds" in w for w in m["warnings"])


def test_inconsistent_budget_and_unvalidated_inputs(
    tmp_path, params_file, mixture, capsys, monkeypatch
):
    params_file.write_text(PARAMS + "  fraction: 0.5\n", encoding="utf-8")
    assert dapt_mine(tmp_path, params_file, mixture["seed"], mixture["pool"]) == 2
    assert "set exactly one budget" in capsys.readouterr().err
    params_file.write_text(PARAMS, encoding="utf-8")
    assert dapt_mine(tmp_path, params_file, mixture["seed"], mixture["pool"], "--top-n", "0") == 2
    assert "--top-n must be >= 1" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # no data/validated/manifest.json here
    rc = dapt_mine(
        tmp_path,
        params_file,
        mixture["seed"],
        mixture["pool"],
        "--top-n",
        "5",
        checked=True,
    )
    assert rc == 1 and "no validate manifest" in capsys.readouterr().err
