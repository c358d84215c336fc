"""Decontamination on planted cases: the issue's four, plus English word n-grams."""

from __future__ import annotations

from components.config import with_derived
from components.decontaminate.core import build_index, clean, units
from components.decontaminate.params import DecontaminateParams

TEST = "患者年龄在十八岁至六十五岁之间且签署知情同意书自愿参加本项研究"  # 31 Han characters
FILLER = "门诊记录显示病人近期血压控制良好饮食规律睡眠充足" * 8


def index(p: DecontaminateParams, texts=(("test", "t1", TEST),)):
    return build_index(texts, p)


def test_planted_sentence_in_a_long_document_is_cut_out_and_the_rest_kept():
    p = DecontaminateParams()
    doc = FILLER + "。" + TEST + "。" + FILLER
    kept, rows = clean("d1", doc, index(p), p)
    assert kept is not None and TEST not in kept
    assert kept.count("门诊记录") == 16  # both sides of the cut survive
    (row,) = rows
    assert row["eval_id"] == "t1" and row["kind"] == "contained"
    assert row["action"] == "removed_span" and row["overlap"] == 1.0
    a, b = row["chars"]
    assert doc[a:b] == TEST


def test_copy_with_a_few_characters_changed_is_found():
    p = DecontaminateParams()
    # 3 of 31 characters changed near one end: 14 of its 19 13-grams survive (74% >= 50%)
    changed = TEST.replace("本项研究", "该项试验")
    kept, rows = clean("d2", FILLER + changed + FILLER, index(p), p)
    assert [r["kind"] for r in rows] == ["near"]
    assert 0.5 <= rows[0]["overlap"] < 1.0
    assert changed not in (kept or "")


def test_unrelated_document_sharing_a_common_short_phrase_is_kept():
    p = DecontaminateParams()
    doc = FILLER + "签署知情同意书" + FILLER  # 7 characters shared: a common phrase
    kept, rows = clean("d3", doc, index(p), p)
    assert rows == [] and kept == doc


def test_document_that_is_the_test_text_is_dropped_whatever_the_punctuation():
    p = DecontaminateParams()
    kept, rows = clean("d4", " ".join(TEST[:10]) + "，" + TEST[10:] + "！", index(p), p)
    assert kept is None and rows[0]["kind"] == "exact"
    assert rows[0]["action"] == "dropped_document"


def test_action_document_drops_instead_of_cutting():
    p = DecontaminateParams(action="document")
    kept, rows = clean("d5", FILLER + TEST + FILLER, index(p), p)
    assert kept is None and "decontaminate.action: document" in rows[0]["reason"]


def test_short_texts_need_whole_containment_and_tiny_ones_are_not_checked():
    p = DecontaminateParams()
    idx = index(p, [("dev", "s1", "血糖控制不佳者"), ("dev", "s2", "男性")])  # 7 and 2 units
    assert idx.too_short == {"dev": 2}  # both below min_units 8
    p = DecontaminateParams(min_units=5)
    idx = index(p, [("dev", "s1", "血糖控制不佳者")])
    assert clean("d", FILLER + "血糖控制不佳者。" + FILLER, idx, p)[1][0]["kind"] == "contained"
    assert clean("d", FILLER + "血糖控制不佳" + FILLER, idx, p)[1] == []  # 6 of 7: no match


def test_english_uses_word_ngrams_case_and_punctuation_blind():
    p = with_derived(DecontaminateParams(), lang="en")
    text = (
        "We follow the citation intent scheme of Jurgens et al. and classify each citation "
        "context into background, uses, compares or contrasts, motivation, extension and future."
    )
    assert len(units(text, "en")) > 13
    other = "A long unrelated paragraph about protein folding and enzyme kinetics. " * 3
    doc = other + text.upper().replace(",", " ;") + " " + other
    kept, rows = clean("e1", doc, index(p, [("test", "x", text)]), p)
    assert rows and rows[0]["kind"] == "contained"
    assert "CITATION INTENT" not in kept and kept.startswith("A long unrelated")
