"""The data stages of the graph with ``engine: ray`` and ``execution.shards: true``: ingest (its
corpus roles being plain JSONL), mining and decontamination leave shard folders, DVC versions
them, validation, mining, decontamination and new words read them (through the gates) and
everything equals the local run of the same tiny project. (Pretraining reads them with
``read_documents`` through the same gate: tests/data/test_shards.py.)

Real DVC stages, a real Ray (the session's, joined by every stage process through RAY_ADDRESS)
and real torch training; no stage is mocked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from components.data.shards import is_shard_folder, shard_files
from components.evaluate.lineage import stage_lineage
from tests.conftest import drop_timing
from tests.faults import project as tiny

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.xdist_group("ray")]

TARGET = "newwords"  # ingest, validate, mine, decontaminate, newwords


def _bytes(path: Path) -> bytes:
    return b"".join(Path(f).read_bytes() for f in shard_files(path))


def _metrics(path: Path):
    return drop_timing(json.loads(path.read_text(encoding="utf-8")))


def jsonl_corpora(root: Path, params: dict) -> None:
    """The corpus roles as plain JSONL with no per-source cap: what ingest runs wholly on Ray."""
    general = root / "data/samples/general/clue_corpus_small_sample.txt"
    lines = [x for x in general.read_text(encoding="utf-8").splitlines() if x.strip()][:400]
    out = root / "data/samples/general/tiny_general.jsonl"
    out.write_text("".join(json.dumps({"id": f"g{i}", "text": t}, ensure_ascii=False) + "\n"
                           for i, t in enumerate(lines)), "utf-8")  # fmt: skip
    dialogues = root / "data/samples/medical/cmdd_dialogues.jsonl"
    rows = dialogues.read_text(encoding="utf-8").splitlines(keepends=True)[:300]
    (root / "data/samples/medical/tiny_dialogues.jsonl").write_text("".join(rows), "utf-8")
    params["domain"]["general"] = [{"path": "data/samples/general/tiny_general.jsonl"}]
    params["domain"]["corpus"] = [{"path": "data/samples/medical/tiny_dialogues.jsonl"}]
    params["ingest"]["profiles"]["smoke"] = {"max_docs_per_source": 0}


@pytest.fixture(scope="module")
def runs(ray_cluster, tmp_path_factory) -> dict[str, Path]:
    address = ray_cluster.get_runtime_context().gcs_address
    roots = {}
    for engine in ("local", "ray"):
        root = tiny.build(tmp_path_factory.mktemp(f"shards-{engine}"))
        params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
        jsonl_corpora(root, params)
        if engine == "ray":
            params["execution"].update(engine="ray", shards=True)
        text = yaml.safe_dump(params, allow_unicode=True, sort_keys=False)
        (root / "params.yaml").write_text(text, "utf-8")
        env = {"RAY_ADDRESS": address, "RAY_AUTH_MODE": "disabled"} if engine == "ray" else {}
        proc = tiny.run(root, "dvc", "repro", TARGET, timeout=900, **env)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        log = proc.stdout + proc.stderr
        # every data stage's work on Ray: no role read here, no corpus scanned here
        assert "read in this process" not in log and "scanned here" not in log, log[-3000:]
        roots[engine] = root
    return roots


def test_sharded_outputs_are_versioned_read_and_equal_the_local_files(runs):
    local, ray = runs["local"], runs["ray"]
    for role in ("general", "domain"):  # ingest's outputs: shard folders, the same bytes
        name = f"data/ingested/{role}.jsonl"
        assert is_shard_folder(ray / name) and (local / name).is_file()
        assert _bytes(ray / name) == (local / name).read_bytes()
    mined = "data/mined/selected.jsonl"
    assert is_shard_folder(ray / mined) and (local / mined).is_file()
    assert _bytes(ray / mined) == _bytes(local / mined) and _bytes(local / mined)
    sharded = 0
    for f in sorted((local / "data/decontaminated").glob("*.jsonl")):
        other = ray / "data/decontaminated" / f.name
        assert _bytes(other) == f.read_bytes(), f.name
        sharded += is_shard_folder(other)
    assert sharded == 4  # domain, mined, general, tapt
    # the manifests record the same digests: a folder's is its bytes in order
    for name in ("data/decontaminated/manifest.json", "data/validated/manifest.json"):
        assert (ray / name).read_bytes() == (local / name).read_bytes(), name
    assert (ray / "data/lexicon/lexicon.tsv").read_bytes() == (
        local / "data/lexicon/lexicon.tsv"
    ).read_bytes()
    metrics = ("metrics/ingest.json", "metrics/mine.json", "metrics/decontaminate.json",
               "data/lexicon/metrics.json")  # fmt: skip
    for name in metrics:
        a, b = _metrics(ray / name), _metrics(local / name)
        for key in ("engine", "shuffle", "dedup", "workers"):  # how it ran, not what it made
            a.pop(key, None)
            b.pop(key, None)
        assert a == b, name
    # DVC recorded the folders as directory outputs of the stages, and sees nothing changed.
    lock = yaml.safe_load((ray / "dvc.lock").read_text(encoding="utf-8"))
    assert lock["stages"]["newwords"]["deps"]
    status = tiny.run(ray, "dvc", "status", TARGET)
    assert status.returncode == 0 and "changed" not in status.stdout, status.stdout
    # Lineage of the lexicon names each shard folder it was made from with DVC's hash.
    deps = {d["path"]: d["md5"] for d in lock["stages"][TARGET]["deps"]}
    nodes, todo = {}, [stage_lineage(ray, TARGET)]
    while todo:
        node = todo.pop()
        nodes.setdefault(node.get("path"), node)
        todo.extend(node.get("inputs", []))
    domain = "data/decontaminated/domain.jsonl"
    assert nodes[domain]["md5"] == deps[domain] and deps[domain].endswith(".dir")
    assert nodes[domain]["inside"] == "data/decontaminated"
