"""The streaming statistics' per-block function and merge (components/validate/stats.py): the
same statistics, examples and sample whatever the blocks are, which is what lets the Ray engine
compute them per block (tests/validate/test_ray.py compares the engines themselves)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from components.data import Document
from components.validate.stats import Bounds, Partial, merge, scan_block, scan_corpus
from tests.conftest import ROOT

TEXTS = ["患者头痛", "", "a\x01b", "含\ufffd字", "x", "很长" * 40, "患者头痛"]


def docs(n: int) -> list[Document]:
    out = [Document(str(i), f"第{i}号病人" + "字" * (i % 37)) for i in range(n)]
    for i, text in enumerate(TEXTS):
        out[i * 97 % n].text = text
    out[n - 1].text = out[3].text  # a duplicate far from its original
    return out


def test_statistics_and_sample_do_not_depend_on_the_blocks():
    corpus = docs(1500)
    kw = dict(min_chars=2, max_chars=60, sample_size=200, exact_cap=10**6, sample_max_chars=4000)
    runs = [scan_corpus(iter(corpus), block_docs=size, **kw) for size in (1, 7, 250, 16_384)]
    stats, sample = runs[0]
    assert stats.n_docs == 1500 and stats.distinct == 1498
    assert [e["id"] for e in stats.examples["duplicate"]] == ["582", "1499"]
    assert 0 < len(sample) < 200 and sum(len(d.text) for d in sample) <= 4000
    ids = [int(d.id) for d in sample]
    assert ids == sorted(ids) and min(ids) < 300 and max(ids) > 1200  # in order, spread
    for other, other_sample in runs[1:]:
        assert dataclasses.asdict(other) == dataclasses.asdict(stats)
        assert list(other.examples) == list(stats.examples)
        assert [d.id for d in other_sample] == [d.id for d in sample]


def test_merge_is_associative_and_exact():
    corpus = docs(300)
    bounds = Bounds(min_chars=2, max_chars=60, sample_size=40, sample_max_chars=600)
    a, b, c = (scan_block(corpus[i : i + 100], bounds, i).partial for i in (0, 100, 200))
    whole = scan_block(corpus, bounds, 0).partial

    def view(p: Partial):
        return p.counts, p.examples, [(k, pos, n, d.id) for k, pos, n, d in p.sample]

    assert view(merge(merge(a, b, bounds), c, bounds)) == view(whole)
    assert view(merge(a, merge(b, c, bounds), bounds)) == view(whole)


def test_the_local_engine_never_imports_ray():
    code = (
        "import sys; from components.validate import stage, core, stats; "
        "from components.ingest import stage as s, core as c; "
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
