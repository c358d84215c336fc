from collections import Counter

from components.data import Document
from components.data.text import hash64
from components.ingest.core import clean, lexicon_words
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


def test_lexicon_words_handles_bom_cr_only_and_spaces(tmp_path):
    path = tmp_path / "lex.txt"
    path.write_bytes("\ufeff高血压 \t 100\r糖尿病\t50\r\r高血压\t3\r".encode())
    assert list(lexicon_words(str(path))) == ["高血压", "糖尿病"]


def test_dev_held_out_of_train_is_stratified_and_independent_of_file_order():
    from components.ingest.core import hold_out_dev

    docs = [Document(f"a{i}", f"甲类文本{i}", "A") for i in range(50)]
    docs += [Document(f"b{i}", f"乙类文本{i}", "B") for i in range(10)]
    train, dev = hold_out_dev(docs, 0.2)
    assert sorted(d.label for d in dev) == ["A"] * 10 + ["B"] * 2
    assert len(train) + len(dev) == 60 and not {d.id for d in train} & {d.id for d in dev}
    _, dev_reversed = hold_out_dev(list(reversed(docs)), 0.2)
    assert {d.id for d in dev} == {d.id for d in dev_reversed}
