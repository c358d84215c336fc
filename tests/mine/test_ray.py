"""``engine: ray`` against ``engine: local`` for mining: the same scores, drop reasons, selected
ids and metrics on bundled sample text with planted duplicates (exact, near, in the seed); the
pool is a shard folder and the Ray run leaves its outputs as shard folders (``execution.shards``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from components.data.shards import is_shard_folder, shard_files
from components.mine.core import mine
from components.mine.params import HygieneParams
from tests.mine.conftest import small_params, write_shards

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]

# Differ between engines by nature: wall/CPU time, memory, the local process count.
TIMING = ("seconds", "throughput_mb_s", "peak_rss_mb", "workers", "engine", "dedup")


# One case, the hardest for the Ray pass: a fraction budget (the cutoff's histogram top-k) and a
# dedup memory smaller than the pool (ranks decide what later documents meet). The scorer does
# not matter to the Ray plumbing (it calls the same per-block functions for every method); a
# Ray run costs ~20 s of Ray Data executions on 2 cores, so methods are covered locally.
def test_ray_selects_the_same_documents_with_the_same_scores(ray_cluster, mixture, tmp_path):
    rows = list(mixture["pool_rows"])
    seed_text = mixture["seed"].read_text(encoding="utf-8").splitlines()[0]
    rows.insert(10, {"id": "dup-seed", "text": json.loads(seed_text)["text"]})
    rows.insert(50, {"id": "dup-exact", "text": rows[40]["text"]})
    rows.insert(90, {"id": "dup-near", "text": rows[80]["text"] + "。"})
    # early copies too: with a small dedup memory only these are caught, the late ones are kept
    rows.insert(14, {"id": "dup-exact-early", "text": rows[4]["text"]})
    rows.insert(16, {"id": "dup-near-early", "text": rows[6]["text"] + "。"})
    pool = write_shards(tmp_path / "pool.jsonl", rows, 70)  # as a sharded output
    params = small_params(
        method="dsir", top_n=0, fraction=0.3, hygiene=HygieneParams(dedup_max_docs=30)
    )
    out = {}
    for engine in ("local", "ray"):
        (tmp_path / engine).mkdir()
        metrics = mine(
            [str(mixture["seed"])],
            [str(pool)],
            tmp_path / engine,
            params,
            progress=False,
            engine=engine,
            batch_docs=50,
            shards=engine == "ray",
        )
        files = {
            n: b"".join(Path(f).read_bytes() for f in shard_files(tmp_path / engine / n))
            for n in ("scores.jsonl", "selected.jsonl")
        }
        out[engine] = ({k: v for k, v in metrics.items() if k not in TIMING}, files)
    metrics, files = out["local"]
    # 30 % of the clean pool, and the dedup memory filled up before the pool's end
    assert metrics["selected_docs"] == math.ceil(0.3 * metrics["clean_docs"])
    assert metrics["dedup_unindexed_docs"] > 0
    assert metrics["dropped"]["in_seed"] >= 1 and metrics["dropped"]["exact_dup"] >= 1
    assert metrics["dropped"]["near_dup"] >= 1
    assert out["ray"] == out["local"]
    assert is_shard_folder(tmp_path / "ray" / "selected.jsonl")
    assert (tmp_path / "local" / "selected.jsonl").is_file()
