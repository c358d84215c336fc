"""Output sets: replaced together or not at all, a kill mid-swap completed by the next run, and
leftovers of dead writers removed (live ones kept)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
import time

import pytest

from components.data.outputs import HOST, OutputSet, recover, shown
from components.data.writers import atomic_dir, atomic_open, write_json
from components.errors import InputError
from tests.conftest import ROOT


def _tree(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _first_set(tmp_path):
    with OutputSet() as outs:
        (outs.dir(tmp_path / "data/out") / "a.txt").write_text("v1")
        write_json(outs.file(tmp_path / "metrics/m.json"), {"v": 1})
        outs.file(tmp_path / "plots/p.png").write_bytes(b"png1")
    return _tree(tmp_path)


def test_a_set_is_replaced_whole_on_success_and_not_at_all_on_failure(tmp_path):
    good = _first_set(tmp_path)
    assert set(good) == {"data/out/a.txt", "metrics/m.json", "plots/p.png"}
    with pytest.raises(ValueError), OutputSet() as outs:
        (outs.dir(tmp_path / "data/out") / "a.txt").write_text("v2")
        write_json(outs.file(tmp_path / "metrics/m.json"), {"v": 2})
        raise ValueError("the plot failed")
    assert _tree(tmp_path) == good  # byte-identical, and no temporary left anywhere
    with OutputSet() as outs:
        (outs.dir(tmp_path / "data/out") / "b.txt").write_text("v2")
        outs.file(tmp_path / "plots/p.png")  # staged but never written: the old one stays
    after = _tree(tmp_path)
    assert set(after) == {"data/out/b.txt", "metrics/m.json", "plots/p.png"}
    assert after["plots/p.png"] == b"png1"


def test_a_kill_in_the_middle_of_the_swap_is_completed_by_the_next_writer(tmp_path):
    _first_set(tmp_path)
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from components.data.outputs import OutputSet
        from components.data.writers import write_json
        root = Path({str(tmp_path)!r})
        with OutputSet() as outs:
            (outs.dir(root / "data/out") / "a.txt").write_text("v2")
            write_json(outs.file(root / "metrics/m.json"), {{"v": 2}})
            outs.file(root / "plots/p.png").write_bytes(b"png2")
        """
    )
    env = {**os.environ, "DAPT_FAULT_AFTER_SWAPS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    # Killed after the first of three renames: a mix of new and old, plus the journal.
    assert (tmp_path / "data/out/a.txt").read_text() == "v2"
    assert (tmp_path / "plots/p.png").read_bytes() == b"png1"
    assert any(p.name.endswith(".commit") for p in (tmp_path / "plots").iterdir())
    done = recover(tmp_path / "plots/p.png")  # any output of the set finds the journal
    assert any("completed" in d for d in done), done
    assert _tree(tmp_path) == {
        "data/out/a.txt": b"v2",
        "metrics/m.json": b'{\n  "v": 2\n}\n',
        "plots/p.png": b"png2",
    }


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_dead_writers_go_live_and_foreign_ones_stay(tmp_path):
    out = tmp_path / "mined"
    dead = tmp_path / f".mined.{HOST}-{_dead_pid()}.0a1b2c3d.tmp"
    (dead / "part").mkdir(parents=True)
    live = tmp_path / f".mined.{HOST}-{os.getppid()}.0a1b2c3e.tmp"
    live.mkdir()
    foreign = tmp_path / ".mined.otherhost-1.0a1b2c3f.tmp"
    foreign.mkdir()
    legacy = tmp_path / ".mined.k2j4h5g6.tmp"  # named before writers were tagged
    legacy.mkdir()
    old = time.time() - 2 * 24 * 3600
    os.utime(legacy, (old, old))
    with atomic_dir(out) as d:
        (d / "selected.jsonl").write_text("")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["mined", live.name, foreign.name])
    os.utime(foreign, (old, old))
    recover(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["mined", live.name])


def test_shown_maps_temporary_paths_back_to_the_output():
    assert shown(f"plots/.p.png.{HOST}-12.0a1b2c3d.tmp/p.png") == "plots/p.png"
    assert shown(f"data/.ingested.{HOST}-12.0a1b2c3d.tmp/task/x.jsonl") == (
        "data/ingested/task/x.jsonl"
    )


def test_a_full_disk_names_the_output_and_keeps_the_last_good_one(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("good")
    script = textwrap.dedent(
        f"""
        import resource
        from components.data.writers import atomic_open
        from components.errors import InputError
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # ulimit -f 4
        try:
            with atomic_open({str(path)!r}) as f:
                f.write("x" * 100_000)
        except InputError as e:
            print(e)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"{path}: cannot write: File too large" in proc.stdout
    assert "ulimit -f unlimited" in proc.stdout
    assert path.read_text() == "good" and [p.name for p in tmp_path.iterdir()] == [path.name]
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] == resource.RLIM_INFINITY
    with atomic_open(path) as f:  # the fix: the limit lifted, the same write succeeds
        f.write("x" * 100_000)


def test_a_read_only_folder_is_an_input_error_naming_it(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "m.json").write_text("good")
    os.chmod(folder, 0o555)
    script = textwrap.dedent(
        f"""
        from components.data.writers import write_json
        from components.errors import InputError
        try:
            write_json({str(folder / "m.json")!r}, {{"v": 2}})
        except InputError as e:
            print(e)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", script]
    if os.geteuid() == 0:  # root writes anywhere: drop the capability that allows it
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", *cmd]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert "cannot write: Permission denied" in proc.stdout, proc.stdout + proc.stderr
        assert f"chmod u+w {folder}" in proc.stdout
        assert (folder / "m.json").read_text() == "good"
    finally:
        os.chmod(folder, 0o755)
    write_json(folder / "m.json", {"v": 2})  # the fix applied: writable again


def test_an_input_error_inside_a_set_is_not_mistaken_for_a_write_error(tmp_path):
    with pytest.raises(InputError, match="bad row"), OutputSet() as outs:
        outs.dir(tmp_path / "out")
        raise InputError("src.jsonl", "bad row", line=3)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writer_not_yet_reaped_and_a_recycled_pid_count_as_gone(tmp_path):
    from components.data.outputs import _proc_stat

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = _proc_stat(child.pid)[1]
        zombie = tmp_path / f".out.{HOST}-{child.pid}-{start}.0a1b2c3d.tmp"
        zombie.mkdir()
        recycled = tmp_path / f".out.{HOST}-{os.getpid()}-1.0a1b2c3e.tmp"  # our pid, not us
        recycled.mkdir()
        recover(tmp_path / "out")
        assert zombie.exists() and not recycled.exists()  # the child still runs: kept
        child.kill()
        time.sleep(0.2)  # killed, not yet waited for: a zombie
        assert _proc_stat(child.pid)[0] == "Z"
        recover(tmp_path / "out")
        assert not zombie.exists()
    finally:
        child.kill()
        child.wait()
