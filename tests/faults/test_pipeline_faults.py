"""Faults a user can cause, injected into the tiny project and run through DVC as `make run`
runs it: the exit code, no traceback, a message naming the file or params key and a fix, no
stage after the failing one run, the last good outputs byte-identical; then the fix, applied as
the message words it, makes the run succeed. Each test leaves the project as it found it."""

from __future__ import annotations

import os
import random
import re

import pytest

from tests.faults.conftest import Project, assert_clean_failure, ran_stages

GB18030 = "data/samples/medical/toyhom_internal_medicine_sample.gb18030.csv"
DIALOGUES = "data/samples/medical/cmdd_dialogues.jsonl"
GENERAL = "data/samples/general/clue_corpus_small_sample.txt"
TEST_TSV = "data/samples/medical/tiny_test.tsv"
BASE_WEIGHTS = "models/base-zh-tiny/model.safetensors"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults")]


def _data_only(snapshot: dict[str, str]) -> dict[str, str]:
    """Outputs that carry no timing (a rerun rewrites metrics' seconds, nothing else)."""
    return {k: v for k, v in snapshot.items() if not k.startswith(("metrics/", "reports/"))}


def _fails_in(project: Project, stage: str, *expected: str) -> str:
    """`dvc repro` of the whole graph fails in ``stage``: nothing after it ran, the outputs of
    it and of every later stage are byte-identical. Returns the output."""
    later = project.downstream(stage)
    before = project.snapshot(later)
    proc = project.dvc("repro")
    out = assert_clean_failure(proc, *expected)
    assert ran_stages(proc) == [stage], out[-3000:]
    assert project.snapshot(later) == before
    assert not project.leftovers(), project.leftovers()
    return out


def _rerun_ok(project: Project, *args: str) -> None:
    proc = project.dvc("repro", *args)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


def test_a_folder_given_as_a_corpus_file(project):
    params = project.params()
    params["domain"]["corpus"][0] = {"path": "data/samples/medical"}
    project.write_params(params)
    out = _fails_in(
        project, "ingest", "data/samples/medical: is a folder, not a file",
        "set domain.corpus[0].path to the file(s) inside it: ",
    )  # fmt: skip
    advised = re.search(r"inside it: ([^,\s]+)", out).group(1)  # the first file it names
    params["domain"]["corpus"][0] = {"path": advised}
    project.write_params(params)
    before = project.snapshot(["ingest"])
    _rerun_ok(project, "-s", "ingest")  # the fix, as worded, works
    assert project.snapshot(["ingest"]) != before
    project.restore("params.yaml")
    _rerun_ok(project, "-s", "ingest")
    assert _data_only(project.snapshot(["ingest"])) == _data_only(before)


def test_a_folder_given_as_the_label_set(project):
    params = project.params()
    label_set = params["domain"]["task"]["label_set"]
    params["domain"]["task"]["label_set"] = "data/samples/medical"
    project.write_params(params)
    out = _fails_in(
        project, "ingest", "data/samples/medical: is a folder, not a file",
        "set domain.task.label_set to the file(s) inside it: ",
    )  # fmt: skip
    advised = re.search(r"inside it: ([^,\s]+)", out).group(1)
    assert advised == label_set  # only label-set candidates (.txt) are offered
    project.restore("params.yaml")
    _rerun_ok(project)


def test_seq_len_above_the_models_positions(project):
    params = project.params()
    params["pretrain"]["profiles"]["smoke"]["dapt"]["seq_len"] = 1024
    project.write_params(params)
    proc = project.dvc("repro")
    out = assert_clean_failure(
        proc, "pretrain.profiles.smoke.dapt.seq_len: 1024 is above the 512 positions",
        "set it to 512 or less",
    )  # fmt: skip
    assert ran_stages(proc)[0] in ("dapt", "control") and len(ran_stages(proc)) == 1, out
    params["pretrain"]["profiles"]["smoke"]["dapt"]["seq_len"] = 32  # "512 or less"
    project.write_params(params)
    _rerun_ok(project)
    project.restore("params.yaml")


def test_a_truncated_model_safetensors(project):
    path = project.root / BASE_WEIGHTS
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    out = _fails_in(
        project, "tokenizer", f"{BASE_WEIGHTS}: the weights file is truncated or corrupt",
    )  # fmt: skip
    fix = re.search(r"\((git checkout -- \S+) for a committed model", out).group(1)
    project.run(*fix.split(), timeout=60)  # the advice, run as written
    assert path.read_bytes() == data
    _rerun_ok(project)


def test_utf16_input_told_the_params_key_that_reads_it(project):
    params = project.params()
    index = next(i for i, s in enumerate(params["domain"]["corpus"]) if s["path"] == DIALOGUES)
    path = project.root / DIALOGUES
    text = path.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-16")
    before = project.snapshot(["ingest"])
    key = f"domain.corpus[{index}].encoding"
    out = _fails_in(project, "ingest", DIALOGUES, f"set {key}: utf-16 in params.yaml")
    assert "--encoding" not in out  # `dapt ingest` has no such flag
    params["domain"]["corpus"][index]["encoding"] = "utf-16"
    project.write_params(params)
    _rerun_ok(project, "-s", "ingest")
    # The same text, read as UTF-16: the same canonical data as from the UTF-8 file.
    assert _data_only(project.snapshot(["ingest"])) == _data_only(before)
    project.restore("params.yaml", DIALOGUES)
    _rerun_ok(project, "-s", "ingest")


def test_gb18030_inside_the_pipeline_names_the_params_key(project):
    params = project.params()
    params["domain"]["corpus"].append({"path": GB18030, "text_fields": ["ask", "answer"]})
    project.write_params(params)
    key = f"domain.corpus[{len(params['domain']['corpus']) - 1}].encoding"
    out = _fails_in(project, "ingest", GB18030, "detected encoding: gb18030", f"set {key}: gb18030")
    assert "--encoding" not in out
    params["domain"]["corpus"][-1]["encoding"] = "gb18030"
    project.write_params(params)
    _rerun_ok(project, "-s", "ingest")
    project.restore("params.yaml")
    _rerun_ok(project, "-s", "ingest")


def test_random_bytes_are_not_given_an_encoding_to_try(project):
    path = project.root / GENERAL
    path.write_bytes(random.Random(15).randbytes(30000))
    out = _fails_in(project, "ingest", GENERAL, "point to the text file you meant")
    assert "--encoding" not in out and "encoding: unknown" not in out
    project.restore(GENERAL)  # the fix: the file that was meant
    _rerun_ok(project)


def test_a_test_label_outside_the_label_set_is_located(project):
    path = project.root / TEST_TSV
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    row = len(lines) + 1
    path.write_text("".join(lines) + "Unknown Class\t完全新的一条入组标准\n", encoding="utf-8")
    ingest_before = project.snapshot(["ingest"])
    later = project.downstream("validate")
    before = project.snapshot(later)
    proc = project.dvc("repro")
    out = assert_clean_failure(
        proc, "label in the declared label set", f"id tiny_test:{row}", "'Unknown Class'",
        "fix the label of these rows, or add it to the label set "
        "(data/samples/medical/cmedtc_labels.txt, domain.task.label_set)",
        f"(from domain.task.test: {TEST_TSV})",
    )  # fmt: skip
    assert ran_stages(proc) == ["ingest", "validate"], out
    assert project.snapshot(later) == before  # the manifest and reports of the last good run
    assert (project.root / "reports/validation-failed/summary.json").is_file()
    # The first fix offered: correct the row's label.
    path.write_text("".join(lines) + "Age\t完全新的一条入组标准\n", encoding="utf-8")
    _rerun_ok(project, "validate")
    assert not (project.root / "reports/validation-failed").exists()
    project.restore(TEST_TSV)
    _rerun_ok(project, "validate")
    assert _data_only(project.snapshot(["ingest"])) == _data_only(ingest_before)


def test_a_read_only_output_folder(project):
    metrics = project.root / "metrics"
    before = project.snapshot(project.downstream("ingest"))
    ingest_before = project.snapshot(["ingest"])
    prefix = []
    if os.geteuid() == 0:  # root writes anywhere: drop the capability that allows it
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    os.chmod(metrics, 0o555)
    try:
        proc = project.run(*prefix, "dvc", "repro", "-f", "-s", "ingest")
        assert_clean_failure(
            proc, "metrics/ingest.json: cannot write: Permission denied",
            "make metrics writable for this user (chmod u+w metrics",
        )  # fmt: skip
        assert project.snapshot(project.downstream("ingest")) == before
        assert not project.leftovers()
        project.run("chmod", "u+w", "metrics")  # the advice, as written
    finally:
        os.chmod(metrics, 0o755)
    _rerun_ok(project, "-f", "-s", "ingest")
    assert _data_only(project.snapshot(["ingest"])) == _data_only(ingest_before)


def test_a_full_disk(project):
    before = project.snapshot(project.downstream("ingest"))
    ingest_before = project.snapshot(["ingest"])
    cmd = project.cmd("ingest")
    proc = project.run("bash", "-c", f"ulimit -f 16 && exec {cmd}")  # 16 KiB per file
    assert_clean_failure(
        proc, "data/ingested/general.jsonl: cannot write: File too large",
        "ulimit -f unlimited", "the previous outputs were left as they were",
    )  # fmt: skip
    assert project.snapshot(project.downstream("ingest")) == before
    assert not project.leftovers()
    _rerun_ok(project, "-f", "-s", "ingest")  # the limit raised, the stage run again
    assert _data_only(project.snapshot(["ingest"])) == _data_only(ingest_before)
