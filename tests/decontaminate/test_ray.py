"""``engine: ray`` against ``engine: local`` on planted leaks in bundled sample text: the same
cleaned files, audit rows and counters, byte for byte; the Ray run leaves its cleaned corpora as
shard folders (``execution.shards``) and one source is itself a shard folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.data.shards import is_shard_folder, shard_files
from components.decontaminate import driver, ray_driver
from components.decontaminate.params import DecontaminateParams
from tests.decontaminate.test_core import FILLER, TEST
from tests.mine.conftest import general_texts, medical_texts, write_jsonl, write_shards

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]


def corpora(tmp: Path) -> tuple[dict, dict]:
    med = medical_texts(320)
    dev, rest = med[:60], med[60:]
    domain = [{"id": f"d{i}", "text": t} for i, t in enumerate(rest)]
    domain[5]["text"] = FILLER + "。" + TEST + "。" + FILLER  # cut out, the rest kept
    domain[9]["text"] = TEST  # the document is the test text: dropped
    domain[11]["text"] = FILLER + TEST.replace("本项研究", "该项试验") + FILLER  # near copy
    domain[13]["text"] = dev[3] + "\u2028" + FILLER  # a dev text, and a raw line separator
    domain[14]["metadata"] = {"source": "x", "n": 1}
    general = [{"id": f"g{i}", "text": t} for i, t in enumerate(general_texts(400))]
    general[7]["text"] += dev[0]
    shards = write_shards(tmp / "general.jsonl", general, 150)  # as a sharded mining output
    sources = {
        "domain": str(write_jsonl(tmp / "domain.jsonl", domain)),
        "general": str(shards),
        "tapt": str(write_jsonl(tmp / "tapt.jsonl", [])),  # an absent part: empty file
    }
    evals = {
        "dev": str(
            write_jsonl(tmp / "dev.jsonl", [{"id": f"v{i}", "text": t} for i, t in enumerate(dev)])
        ),
        "test": str(write_jsonl(tmp / "test.jsonl", [{"id": "t1", "text": TEST}])),
    }
    return sources, evals


def run(engine: str, tmp: Path, sources, evals) -> tuple[dict, dict]:
    out = tmp / engine
    out.mkdir()
    final = tmp / "decontaminated"  # the manifest names the files by where they end up
    if engine == "ray":
        p = DecontaminateParams()
        report = ray_driver.run(sources, evals, out, final, p, batch_docs=64, shards=True)
    else:
        report = driver.run(sources, evals, out, final, DecontaminateParams())
    report.pop("seconds")
    return report, {f.name: _bytes(f) for f in sorted(out.iterdir())}


def _bytes(path: Path) -> bytes:
    """A file's bytes; a shard folder's parts in order (what every reader reads)."""
    return b"".join(Path(f).read_bytes() for f in shard_files(path))


def test_ray_gives_the_same_matches_files_and_counters_as_local(ray_cluster, tmp_path):
    sources, evals = corpora(tmp_path)
    local_report, local_files = run("local", tmp_path, sources, evals)
    ray_report, ray_files = run("ray", tmp_path, sources, evals)
    audit = [json.loads(x) for x in local_files["audit.jsonl"].splitlines()]
    # The planted cases are found (so the comparison below is about real matches).
    kinds = {(r["doc_id"], r["kind"]) for r in audit}
    assert {("d5", "contained"), ("d9", "exact"), ("d11", "near")} <= kinds
    assert {r["doc_id"] for r in audit} >= {"d13", "g7"}
    assert ray_report == local_report
    assert len(shard_files(tmp_path / "ray" / "general.jsonl")) > 1  # from a 3-part folder
    for name in ("domain", "general"):  # non-empty sources: shard folders under ray
        assert is_shard_folder(tmp_path / "ray" / f"{name}.jsonl")
        assert (tmp_path / "local" / f"{name}.jsonl").is_file()
    assert ray_files.keys() == local_files.keys()
    for name in local_files:
        assert ray_files[name] == local_files[name], name
