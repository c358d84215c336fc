import gzip
import json
import os
from pathlib import Path

import pytest

from components.data import DocumentReader, read_documents
from components.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
GB18030 = ROOT / "data/samples/medical/toyhom_internal_medicine_sample.gb18030.csv"


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_jsonl_txt_tsv_csv_and_gzip(tmp_path):
    rows = [
        {"id": "a", "text": "头痛三天", "label": "Sign"},
        {"id": "b", "text": "发热", "src": "x"},
    ]
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    docs = list(read_documents(write(tmp_path / "x.jsonl", body), label_field="label"))
    assert [(d.id, d.text, d.label) for d in docs] == [
        ("a", "头痛三天", "Sign"),
        ("b", "发热", None),
    ]
    assert docs[1].metadata["src"] == "x"

    gz = tmp_path / "x.jsonl.gz"
    gz.write_bytes(gzip.compress(body.encode()))
    assert [d.text for d in read_documents(gz)] == ["头痛三天", "发热"]

    txt = list(read_documents(write(tmp_path / "c.txt", "第一行\n\n第二行\r\n")))
    assert [(d.id, d.text) for d in txt] == [("c:1", "第一行"), ("c:3", "第二行")]

    tsv = write(tmp_path / "t.tsv", "Age\t 18岁以上\r\nDisease\t高血压\r\n")
    got = [
        (d.label, d.text)
        for d in read_documents(tsv, columns=["label", "text"], label_field="label")
    ]
    assert got == [("Age", " 18岁以上"), ("Disease", "高血压")]

    csv = write(tmp_path / "q.csv", 'title,ask\n"头痛, 怎么办","多行\n问题"\n')
    docs = list(read_documents(csv, text_field=["title", "ask"]))
    assert [d.text for d in docs] == ["头痛, 怎么办", "多行\n问题"]
    assert docs[0].id == "q:3:title"  # a quoted newline: the row ends on line 3


def test_utf8_bom_is_accepted(tmp_path):
    docs = list(
        read_documents(write(tmp_path / "b.txt", b"\xef\xbb\xbf\xe5\xa4\xb4\xe7\x97\x9b\n"))
    )
    assert docs[0].text == "头痛"


def test_gb18030_names_file_line_offset_encoding_and_flag():
    with pytest.raises(InputError) as err:
        list(read_documents(GB18030, text_field="ask"))
    msg = str(err.value)
    assert str(GB18030) in msg and "line 2" in msg and "byte offset 28" in msg
    assert "gb18030" in msg and "--encoding gb18030" in msg
    docs = list(read_documents(GB18030, encoding="gb18030", text_field="ask"))
    assert len(docs) > 50 and "高血压" in docs[0].text


def test_encoding_error_deep_in_file_reports_its_line(tmp_path):
    good = "正常的一行\n" * 20000  # past the 64 KiB sniff window
    path = write(tmp_path / "late.txt", good.encode() + "坏行\n".encode("gb18030"))
    with pytest.raises(InputError, match=r"line 20001 \(byte offset 320000\)"):
        list(read_documents(path))


@pytest.mark.parametrize(
    ("name", "data", "kwargs", "pattern"),
    [
        ("empty.jsonl", b"", {}, "file is empty"),
        ("blank.txt", b"\n  \n", {}, "file is empty"),
        (
            "bad.jsonl",
            '{"id":"1","text":"a"}\n{"id": "2", "text": }\n',
            {},
            r"line 2: invalid JSON",
        ),
        (
            "notext.jsonl",
            '{"id":"1","body":"a"}\n',
            {},
            r"line 1, field 'text': missing field 'text' \(fields present: id, body\)",
        ),
        ("nul.txt", b"ok\nbad\x00line\n", {}, r"line 2 \(byte offset 6\): NUL byte"),
        (
            "cols.tsv",
            "label\ttext\nA\tx\n",
            {"text_field": "sentence"},
            r"column 'sentence' does not exist \(columns: label, text\)",
        ),
        (
            "nolabel.jsonl",
            '{"id":"1","text":"a"}\n',
            {"label_field": "label", "require_label": True},
            "missing label",
        ),
        ("utf16.txt", "头痛\n".encode("utf-16"), {}, "detected encoding"),
        ("data.bin", b"x", {}, "cannot tell the format"),
    ],
)
def test_bad_inputs_raise_clear_errors(tmp_path, name, data, kwargs, pattern):
    path = write(tmp_path / name, data)
    with pytest.raises(InputError, match=pattern) as err:
        list(read_documents(path, **kwargs))
    assert str(path) in str(err.value) and "fix:" in str(err.value)


def test_reader_streams_without_reading_everything(tmp_path):
    path = write(tmp_path / "big.txt", "文本\n" * 100000)
    reader = DocumentReader(path)
    docs = iter(reader)
    next(docs)
    # Only the sniffed head and one buffer have been read, not the 700 KB file.
    assert 0 < reader.bytes_read < reader.total_bytes / 4
    assert sum(1 for _ in docs) == 99999 and reader.bytes_read == reader.total_bytes


# -- only regular files; advice that works when followed ---------------------------------------

MEDICAL_LINES = "患者头痛三天伴有发热\n高血压患者能吃党参吗\n"


def test_a_symlink_is_refused_unless_allowed_then_its_target_is_exposed(tmp_path, monkeypatch):
    secret = write(tmp_path / "outside.txt", "root:x:0:0:root:/root:/bin/bash\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw/general.txt").symlink_to(secret)
    with pytest.raises(InputError, match="symbolic link") as err:
        DocumentReader("raw/general.txt")
    assert "domain.allow_symlinks: true" in str(err.value) and "cp --remove-destination" in str(
        err.value
    )
    reader = DocumentReader("raw/general.txt", allow_symlinks=True)
    assert reader.resolved == str(secret)
    assert next(iter(reader)).text.startswith("root:")
    # A folder on the way that is a link counts too (relative paths are checked from the cwd).
    (tmp_path / "real").mkdir()
    write(tmp_path / "real/a.txt", "文本\n")
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    with pytest.raises(InputError, match="goes through a symbolic link"):
        DocumentReader("linked/a.txt")
    # The fix, followed: the file itself in place of the link.
    target = (tmp_path / "raw/general.txt").resolve()
    (tmp_path / "raw/general.txt").unlink()
    (tmp_path / "raw/general.txt").write_bytes(target.read_bytes())
    assert DocumentReader("raw/general.txt").resolved is None


def test_folders_fifos_and_devices_are_refused_with_what_to_pass(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    write(folder / "a.jsonl", '{"id":"1","text":"文本"}\n')
    with pytest.raises(InputError, match="is a folder, not a file") as err:
        DocumentReader(folder)
    assert f"pass the file(s) inside it: {folder / 'a.jsonl'}" in str(err.value)
    with pytest.raises(InputError, match=r"set domain.corpus\[0\].path to the file"):
        DocumentReader(folder, hints={"path": "domain.corpus[0].path"})
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        DocumentReader(fifo)  # refused before any read, which would block
    with pytest.raises(InputError, match="not a regular file"):
        DocumentReader("/dev/zero", fmt="txt")


@pytest.mark.parametrize("enc", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_advice_works_when_followed(tmp_path, enc):
    body = "label\ttext\r\nAge\t患者头痛三天伴有发热\r\nDisease\t高血压患者能吃党参吗\r\n"
    path = write(tmp_path / "u.tsv", body.encode(enc))
    with pytest.raises(InputError) as err:
        list(read_documents(path, label_field="label"))
    msg = str(err.value)
    advised = msg.split("--encoding ")[1].split()[0]
    assert advised.startswith("utf-16"), msg
    docs = list(read_documents(path, encoding=advised, label_field="label"))  # followed
    assert [(d.label, d.text) for d in docs] == [
        ("Age", "患者头痛三天伴有发热"),
        ("Disease", "高血压患者能吃党参吗"),
    ]


def test_random_bytes_are_called_binary_not_given_an_encoding(tmp_path):
    import random

    rng = random.Random(0)
    path = write(tmp_path / "noise.txt", bytes(rng.getrandbits(8) for _ in range(20000)))
    with pytest.raises(InputError) as err:
        list(read_documents(path))
    msg = str(err.value)
    assert "--encoding" not in msg and "unknown" not in msg
    assert "not text in any encoding" in msg or "NUL byte" in msg


def test_configured_inputs_are_told_the_params_key_not_a_flag():
    hints = {"encoding": "domain.corpus[1].encoding", "text_field": "domain.corpus[1].text_fields"}
    with pytest.raises(InputError) as err:
        list(read_documents(GB18030, text_field="ask", hints=hints))
    msg = str(err.value)
    assert "set domain.corpus[1].encoding: gb18030 in params.yaml" in msg and "--" not in msg
    with pytest.raises(InputError, match=r"set domain.corpus\[1\].text_fields: "):
        list(read_documents(GB18030, encoding="gb18030", text_field="question", hints=hints))


def test_links_dvc_makes_into_its_cache_are_read(tmp_path, monkeypatch):
    obj = tmp_path / "cache/files/md5/3f" / ("a" * 30)  # cache.type symlink: DVC's own link
    obj.parent.mkdir(parents=True)
    obj.write_text("文本\n")
    monkeypatch.chdir(tmp_path)
    Path("data.txt").symlink_to(obj)
    assert [d.text for d in DocumentReader("data.txt")] == ["文本"]
