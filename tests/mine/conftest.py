"""Small real corpora from the bundled samples: medical QA (domain) and CLUE web text (general)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from components.data.shards import read_documents
from components.mine.params import DSIRParams, KNNParams, MineParams, MooreLewisParams

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def medical_texts(n: int) -> list[str]:
    docs = read_documents(
        SAMPLES / "medical" / "cmedqa_dev.tsv",
        columns=["label", "question", "answer"],
        text_field=["question", "answer"],
    )
    out, seen = [], set()
    for d in docs:
        if len(d.text) >= 20 and d.text not in seen:
            seen.add(d.text)
            out.append(d.text)
            if len(out) == n:
                break
    return out


def general_texts(n: int, min_chars: int = 20) -> list[str]:
    out = []
    for d in read_documents(SAMPLES / "general" / "clue_corpus_small_sample.txt"):
        if len(d.text) >= min_chars:
            out.append(d.text)
            if len(out) == n:
                break
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def write_shards(folder: Path, rows: list[dict], per: int) -> Path:
    """``rows`` as a shard folder of ``per`` rows a part (components/data/shards.py)."""
    from components.data.shards import part_name

    folder.mkdir()
    for key in range(0, len(rows), per):
        write_jsonl(folder / part_name(key), rows[key : key + per])
    return folder


def small_params(**kw) -> MineParams:
    """Fast settings: one process, small hash spaces."""
    base = {
        "fraction": 0.0,
        "top_n": 10,
        "workers": 1,
        "dsir": DSIRParams(n_buckets_log2=16),
        "moore_lewis": MooreLewisParams(n_buckets_log2=16),
        "knn": KNNParams(n_buckets_log2=14, dims=32, vocab_size=4096),
    }
    base.update(kw)
    return MineParams(**base)


@pytest.fixture(scope="session")
def mixture(tmp_path_factory) -> dict:
    """Seed = 400 medical texts; pool = 60 other medical texts hidden among 300 web texts."""
    tmp = tmp_path_factory.mktemp("mixture")
    med = medical_texts(460)
    rng = random.Random(0)
    rng.shuffle(med)
    seed, hidden = med[:400], med[400:]
    pool = [{"id": f"med{i}", "text": t} for i, t in enumerate(hidden)]
    pool += [{"id": f"web{i}", "text": t} for i, t in enumerate(general_texts(300))]
    rng.shuffle(pool)
    return {
        "seed": write_jsonl(
            tmp / "seed.jsonl", [{"id": f"s{i}", "text": t} for i, t in enumerate(seed)]
        ),
        "pool": write_jsonl(tmp / "pool.jsonl", pool),
        "truth": {r["id"] for r in pool if r["id"].startswith("med")},
        "pool_rows": pool,
    }
