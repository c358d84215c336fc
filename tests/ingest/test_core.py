from collections import Counter

from components.data import Document
from components.data.text import hash64
from components.ingest.core import clean
from components.ingest.params import IngestParams


def params(**kw) -> IngestParams:
    return IngestParams(**kw)


def test_clean_normalises_and_counts_every_drop_reason():
    docs = [
        Document("1", " 年龄&gt;７０岁 "),
        Document("2", "年龄>70岁"),
        Document("3", "a"),
        Document("4", "既往史"),
    ]
    counters, seen = Counter(), set()
    kept = list(clean(docs, params(min_chars=2), counters, seen=seen, forbidden={hash64("既往史")}))
    assert [(d.id, d.text) for d in kept] == [("1", "年龄>70岁")]
    assert counters == Counter(
        read=4, kept=1, dropped_exact_dup=1, dropped_too_short=1, dropped_leaked_from_train=1
    )


def test_dev_held_out_of_train_is_stratified_and_independent_of_file_order():
    from components.ingest.core import hold_out_dev

    docs = [Document(f"a{i}", f"甲类文本{i}", "A") for i in range(50)]
    docs += [Document(f"b{i}", f"乙类文本{i}", "B") for i in range(10)]
    train, dev = hold_out_dev(docs, 0.2)
    assert sorted(d.label for d in dev) == ["A"] * 10 + ["B"] * 2
    assert len(train) + len(dev) == 60 and not {d.id for d in train} & {d.id for d in dev}
    _, dev_reversed = hold_out_dev(list(reversed(docs)), 0.2)
    assert {d.id for d in dev} == {d.id for d in dev_reversed}


def test_accepted_deliveries_are_read_as_domain_corpus_and_links_refused(tmp_path, monkeypatch):
    import json

    import pytest

    from components.config import build
    from components.domain import DomainParams
    from components.errors import InputError
    from components.ingest.core import ingest
    from tests.conftest import domain_section

    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw/deliveries").mkdir(parents=True)
    (tmp_path / "raw/domain.txt").write_text("原有的领域文本\n", encoding="utf-8")
    (tmp_path / "raw/general.txt").write_text("一般的文本\n", encoding="utf-8")
    (tmp_path / "raw/deliveries/b.jsonl").write_text(
        json.dumps({"id": "x1", "body": "新交付的病历文本"}, ensure_ascii=False) + "\n", "utf-8"
    )
    (tmp_path / "raw/deliveries/a.txt").write_text("第一批交付\n", encoding="utf-8")
    spec = {"folder": "raw/deliveries", "text_fields": ["body"]}
    domain = build(DomainParams, domain_section(deliveries=spec), "domain")
    out = tmp_path / "out"
    out.mkdir()
    report = ingest(domain, params(), out)
    texts = [json.loads(x)["text"] for x in (out / "domain.jsonl").read_text("utf-8").splitlines()]
    assert texts == ["原有的领域文本", "第一批交付", "新交付的病历文本"]  # corpus, then by name
    assert report["deliveries"] == {"files": 2}

    (tmp_path / "raw/deliveries/c.txt").symlink_to(tmp_path / "raw/general.txt")
    with pytest.raises(InputError, match="not a regular file"):
        ingest(domain, params(), tmp_path / "out2")

    with pytest.raises(Exception, match=r"deliveries\.folder: .* must be a sub-folder"):
        build(DomainParams, domain_section(deliveries={"folder": "raw"}), "domain")
