"""The trainer end to end on a tiny BERT: outputs, exact resume after a hard kill, checkpoint
errors, the sparse objective, and a 2-process gloo DDP run."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from components.errors import InputError
from components.modeling.backbone import load_masked_lm
from components.pretrain import checkpoint, cli, stage
from components.pretrain.model import SparseMLM
from tests.conftest import ROOT, tool_env
from tests.tokenizer.conftest import synthetic_texts

PARAMS = """
domain: {name: tiny, lang: zh, inputs: raw, base_model: models/base, corpus: [],
         general: [{path: raw/g.txt}], task: {train: {path: raw/t.tsv}, test: {path: raw/t.tsv}}}
pretrain:
  dapt:
    seq_len: 32
    global_batch: 4
    micro_batch: 2
    max_steps: 6
    lr: 1.0e-3
    warmup_ratio: 0.2
    replay_fraction: 0.3
    precision: fp32
    threads: 1
    checkpoint_every: 2
    keep_checkpoints: 3
    log_every: 1
    eval_fraction: 0.1
    eval_max_blocks: 8
"""


@pytest.fixture
def setup(tmp_path, tiny_tokenizer_dir, corpus_file):
    params = tmp_path / "params.yaml"
    params.write_text(PARAMS, encoding="utf-8")
    general = tmp_path / "general.txt"
    general.write_text("\n".join(synthetic_texts(120, seed=7)), encoding="utf-8")
    lex = tmp_path / "lex.txt"
    lex.write_text("高血压\n糖尿病\n", encoding="utf-8")

    def argv(out: Path, *extra: str, mlflow: bool = False) -> list[str]:
        return [
            "--params", str(params), "--corpus", str(corpus_file),
            "--model", str(tiny_tokenizer_dir), "--out", str(out),
            "--general-corpus", str(general), "--lexicon", str(lex),
            "--no-validated-check", *([] if mlflow else ["--no-mlflow"]), *extra,
        ]  # fmt: skip

    return argv


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv))


def test_outputs_load_and_metrics_and_mlflow(setup, tmp_path, monkeypatch):
    import mlflow
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    out = tmp_path / "out"
    assert _run(setup(out, "--stage", "control", "--recipe", "dapt", mlflow=True)) == 0
    run = mlflow.search_runs(search_all_experiments=True, output_format="list")[0]
    assert run.data.tags["stage"] == "control"
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [1, 2, 3, 4, 5, 6]  # log_every: 1
    assert run.data.metrics["general_eval_perplexity"] > 0
    m = json.loads((out / "metrics.json").read_text())
    for key in ("train_tokens_per_second", "eval_perplexity", "general_eval_perplexity"):
        assert m[key] > 0, key
    assert m["steps"] == 6 and m["padding_ratio"] == 0.0
    assert "eval_perplexity_before" in m
    AutoModelForMaskedLM.from_pretrained(out)
    AutoTokenizer.from_pretrained(out)
    assert (out / "loss_curve.png").stat().st_size > 0
    assert len((out / "loss.tsv").read_text().splitlines()) == 7
    assert not Path(f"{out}.checkpoints").exists()  # cleared once the output is complete


def test_killed_run_resumes_to_identical_weights(setup, tmp_path):
    ref = tmp_path / "ref"
    assert _run(setup(ref)) == 0
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "components.cli", "pretrain", *setup(out)]
    proc = subprocess.run(
        cmd, cwd=ROOT, env=tool_env(DAPT_PRETRAIN_FAULT_AFTER_STEP="4"), capture_output=True
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    ckpts = Path(f"{out}.checkpoints")
    assert sorted(p.name for p in ckpts.glob("step-*.pt")) == [
        "step-00000002.pt",
        "step-00000004.pt",
    ]
    assert not out.exists()
    assert _run(setup(out)) == 0  # resumes from step 4 automatically
    a, b = load_file(ref / "model.safetensors"), load_file(out / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:  # same seed, same data position and masks, same RNG: equal up to float noise
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (ref, out))
    assert ma["eval_perplexity"] == pytest.approx(mb["eval_perplexity"], rel=1e-5)
    assert len((out / "loss.tsv").read_text().splitlines()) == 7  # history survives the kill


def test_corrupt_or_missing_checkpoint_is_a_clear_error(tmp_path):
    folder = tmp_path / "ck"
    for step in (2, 4):
        checkpoint.save(folder, step, {"step": step, "w": torch.ones(3) * step}, keep=2)
    assert checkpoint.load(folder)["step"] == 4
    newest = folder / "step-00000004.pt"
    newest.write_bytes(newest.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(InputError, match="corrupt") as err:
        checkpoint.load(folder)
    assert "step-00000002.pt" in str(err.value)  # names the good one it kept
    assert newest.exists() and (folder / "step-00000002.pt").exists()
    newest.unlink()
    with pytest.raises(InputError, match="missing"):
        checkpoint.load(folder)
    assert (folder / "step-00000002.pt").exists()
    (folder / "latest.json").unlink()
    with pytest.raises(InputError, match="pointer"):
        checkpoint.load(folder)
    assert checkpoint.load(tmp_path / "empty") is None


def test_resume_refuses_a_corrupt_checkpoint_via_cli(setup, tmp_path):
    out = tmp_path / "out"
    ckpts = Path(f"{out}.checkpoints")
    checkpoint.save(ckpts, 2, {"step": 2}, keep=2)
    (ckpts / "step-00000002.pt").write_bytes(b"garbage")
    with pytest.raises(InputError, match="corrupt"):
        _run(setup(out))
    assert (ckpts / "step-00000002.pt").exists()


def test_sparse_objective_matches_full_mlm_loss(tiny_tokenizer_dir):
    torch.manual_seed(0)
    model, _ = load_masked_lm(str(tiny_tokenizer_dir))
    model.eval()
    ids = torch.randint(5, model.config.vocab_size, (3, 16))
    labels = torch.where(torch.rand(3, 16) < 0.3, ids, torch.full_like(ids, -100))
    labels[0, 0] = ids[0, 0]
    with torch.no_grad():
        sparse = SparseMLM(model)(ids, labels)
        full = model(input_ids=ids, labels=labels).loss
    torch.testing.assert_close(sparse, full, rtol=1e-5, atol=1e-6)


def test_ddp_two_process_gloo_smoke(setup, tmp_path):
    out = tmp_path / "ddp"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    cmd = [*torchrun, "--master_port", str(29500 + os.getpid() % 1000), "-m"]
    cmd += ["components.cli", "pretrain", *setup(out, "--max-steps", "3")]
    proc = subprocess.run(
        cmd, cwd=ROOT, env=tool_env(OMP_NUM_THREADS="1"), capture_output=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["world_size"] == 2 and m["steps"] == 3
    assert m["train_tokens"] == 3 * 4 * 32  # the global batch, whatever the world size


def test_ema_weights_are_the_saved_output(setup, tmp_path):
    plain = tmp_path / "plain"
    assert _run(setup(plain)) == 0
    params = Path(setup(plain)[1])
    params.write_text(PARAMS.replace("    threads: 1\n", "    threads: 1\n    ema_decay: 0.9\n"))
    ema = tmp_path / "ema"
    assert _run(setup(ema)) == 0
    a, b = load_file(plain / "model.safetensors"), load_file(ema / "model.safetensors")
    # Same seed and data: the only difference is the averaging. An EMA with decay 0.9 over six
    # steps still carries about half of the starting weights, so it differs from the last step.
    moved = [k for k in a if a[k].is_floating_point() and not torch.allclose(a[k], b[k])]
    assert moved and "bert.embeddings.word_embeddings.weight" in moved


def test_a_stage_without_its_input_writes_a_skipped_output_that_says_why(setup, tmp_path):
    shape = tmp_path / "shape.json"
    shape.write_text('{"shape": "task-only", "corpus": false, "task": true}')
    out = tmp_path / "dapt"
    metrics, plot = tmp_path / "m.json", tmp_path / "loss.tsv"
    extra = ["--needs", "corpus", "--shape", str(shape), "--metrics", str(metrics)]
    assert _run(setup(out, *extra, "--plot", str(plot))) == 0
    assert json.loads((out / "SKIPPED.json").read_text())["reason"].startswith("no domain corpus")
    assert json.loads(metrics.read_text())["skipped"] is True
    assert plot.read_text().startswith("step\tloss")
    # a stage starting from a skipped model is skipped too, naming the first reason
    after = tmp_path / "dapt_tapt"
    assert _run([*setup(after, "--stage", "dapt_tapt"), "--model", str(out)]) == 0
    assert "was skipped: no domain corpus" in (after / "SKIPPED.json").read_text()


def test_the_control_matches_the_adaptation_that_runs(tmp_path):
    shape = tmp_path / "shape.json"
    args = argparse.Namespace(recipe="control", stage="control", shape=str(shape))
    shape.write_text('{"corpus": true, "task": true}')
    assert stage.recipe(args) == "dapt"
    shape.write_text('{"corpus": false, "task": true}')
    assert stage.recipe(args) == "tapt"


class _Payload:
    """What an attacker with write access to the checkpoint folder would plant."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_payload_is_refused_and_never_runs(tmp_path):
    folder = tmp_path / "ck"
    checkpoint.save(folder, 2, {"step": 2, "w": torch.ones(3)}, keep=2)
    marker = tmp_path / "pwned"
    newest = folder / "step-00000002.pt"
    torch.save({"step": 2, "w": torch.ones(3), "x": _Payload(marker)}, newest)
    # The attacker can also rewrite the pointer's hash (it lives in the same folder).
    pointer = json.loads((folder / "latest.json").read_text())
    pointer["sha256"] = checkpoint._sha256(newest)
    (folder / "latest.json").write_text(json.dumps(pointer))
    with pytest.raises(InputError, match="refused, nothing from it was executed") as err:
        checkpoint.load(folder)
    assert "weights_only=False" in str(err.value)  # the fix says what never to do
    assert not marker.exists()
    with pytest.raises(TypeError, match="cannot be loaded with weights_only=True"):
        checkpoint.save(folder, 4, {"step": 4, "x": _Payload(marker)})  # caught at save time


def test_resume_is_keyed_on_content_a_replaced_base_model_starts_fresh(
    setup, tmp_path, tiny_tokenizer_dir
):
    import shutil

    base = tmp_path / "base"
    shutil.copytree(tiny_tokenizer_dir, base)

    def argv(out: Path) -> list[str]:
        args = setup(out)
        args[args.index("--model") + 1] = str(base)
        return args

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "components.cli", "pretrain", *argv(out)]
    env = tool_env(DAPT_PRETRAIN_FAULT_AFTER_STEP="4")
    assert subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True).returncode == -9
    # Same path, other content: a different initialisation of the base model.
    config = json.loads((base / "config.json").read_text())
    config["initializer_range"] = 0.05
    (base / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [sys.executable, "-m", "components.cli", "pretrain", *argv(out)],
        cwd=ROOT, env=tool_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "trained on a different base model; starting fresh" in proc.stderr
    assert "resumed" not in proc.stderr
    fresh = tmp_path / "fresh"
    assert _run(argv(fresh)) == 0
    a, b = load_file(fresh / "model.safetensors"), load_file(out / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
