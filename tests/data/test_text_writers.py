import os

import pytest

from components.data import (
    atomic_dir,
    atomic_open,
    content_hash,
    normalize,
    split_sentences,
    write_jsonl,
)
from components.data.gate import require_validated
from components.data.writers import write_json
from components.errors import InputError


def test_normalize_nfkc_whitespace_controls_and_html():
    assert normalize("  １２ｍｇ\u3000 每日\t两次\x07 ") == "12mg 每日 两次"
    assert normalize("年龄&gt; 70", unescape_html=True) == "年龄> 70"
    assert normalize("a\r\n\r\n\r\n\r\nb") == "a\n\nb"


def test_split_sentences_keeps_closing_quotes():
    assert split_sentences("你好。我是谁？他说：“好！”然后\n走了") == [
        "你好。",
        "我是谁？",
        "他说：“好！”",
        "然后",
        "走了",
    ]


def test_content_hash_is_stable_and_distinguishes():
    assert content_hash("头痛") == content_hash("头痛") != content_hash("头疼")
    assert len(content_hash("x")) == 32


def test_atomic_open_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("good\n")
    with pytest.raises(RuntimeError), atomic_open(path) as f:
        f.write("partial")
        raise RuntimeError("boom")
    assert path.read_text() == "good\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]  # no temp file left behind


def test_write_jsonl_generator_failure_leaves_no_partial_output(tmp_path):
    def docs():
        yield {"id": "1", "text": "a"}
        raise InputError("src.jsonl", "bad row", line=2)

    with pytest.raises(InputError):
        write_jsonl(tmp_path / "x.jsonl", docs())
    assert not list(tmp_path.iterdir())


def test_atomic_dir_swaps_only_on_success(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as d:
        (d / "a.txt").write_text("v1")
    with pytest.raises(ValueError), atomic_dir(out) as d:
        (d / "a.txt").write_text("v2-partial")
        raise ValueError
    assert (out / "a.txt").read_text() == "v1"
    with atomic_dir(out) as d:
        (d / "b.txt").write_text("v2")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_validation_gate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "d.jsonl"
    data.write_text('{"id":"1","text":"a"}\n')
    with pytest.raises(InputError, match="never checked"):
        require_validated(["d.jsonl"], "m.json")
    require_validated([], "m.json")  # no raw inputs read: nothing to gate, no manifest needed
    from components.data import file_digest

    write_json("m.json", {"passed": True, "files": {"d.jsonl": {"md5": file_digest(data)}}})
    require_validated(["d.jsonl"], "m.json")
    data.write_text('{"id":"1","text":"changed"}\n')
    with pytest.raises(InputError, match="changed since validate checked it"):
        require_validated(["d.jsonl"], "m.json")
    with pytest.raises(InputError, match="not covered"):
        require_validated(["other.jsonl"], "m.json")


def test_script_counts_match_a_per_character_reference():
    from components.data.text import HAN_RE, LATIN_RE, script_counts

    text = "头痛abc Ünd 123，。𠀀 Привет ①"
    letters = sum(c.isalpha() for c in text)
    han = sum(bool(HAN_RE.match(c)) for c in text)
    latin = sum(bool(LATIN_RE.match(c)) for c in text)
    assert script_counts(text) == (letters, han, latin) == (15, 3, 6)


def test_atomic_outputs_get_normal_permissions(tmp_path):
    from components.data import outputs
    from components.data.writers import atomic_dir, atomic_open

    with atomic_open(tmp_path / "report.html") as f:
        f.write("ok")
    with atomic_dir(tmp_path / "model") as d:
        (d / "weights.bin").write_bytes(b"0")
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == outputs.FILE_MODE
    assert (tmp_path / "model").stat().st_mode & 0o777 == outputs.DIR_MODE
    mask = os.umask(0)
    os.umask(mask)
    assert (outputs.FILE_MODE, outputs.DIR_MODE) == (
        0o666 & ~mask,
        0o777 & ~mask,
    )  # not mkstemp's 0600/0700


def test_one_han_definition_every_stage_agrees_with():
    """Mining's class table, whole-word masking and new-word counting (its BMP ids) all follow
    components.data.text's Han ranges."""
    import numpy as np

    from components.data.text import HAN_RANGES, HAN_RE, is_han
    from components.mine.features import HAN, char_classes
    from components.newwords.counting import char_ids

    table = char_classes()
    bmp = "".join(chr(c) for c in range(0x2000, 0x10000) if not 0xD800 <= c <= 0xDFFF)
    ours = np.array([is_han(c) for c in bmp])
    assert ours.sum() == sum(hi - lo + 1 for lo, hi in HAN_RANGES if hi < 0x10000)
    assert (np.array([bool(HAN_RE.match(c)) for c in bmp]) == ours).all()
    assert ((table[[ord(c) for c in bmp]] & HAN > 0) == ours).all()
    counted = char_ids(bmp) > 0
    # new-word counting leaves out the Yijing hexagram symbols (U+4DC0-4DFF): they sit inside
    # extension A's block but are symbols, not characters of any word.
    hexagrams = np.array([0x4DC0 <= ord(c) <= 0x4DFF for c in bmp])
    assert (counted == (ours & ~hexagrams)).all()
    assert is_han("𠀀") and HAN_RE.match("𠀀") and not is_han("a") and not is_han("。")
