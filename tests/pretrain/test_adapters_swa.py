"""Adapter DAPT leaves the base untouched and merges into a regular checkpoint; SWA averages
exactly the configured steps (checked against the saved checkpoints by hand)."""

from __future__ import annotations

import dataclasses

import torch

from components.modeling.backbone import load_masked_lm
from components.pretrain import checkpoint
from components.pretrain.data import encode_stream, pack
from components.pretrain.params import AdapterParams, SwaParams, TrainParams
from components.pretrain.trainer import Corpora, train
from tests.tokenizer.conftest import synthetic_texts

P = TrainParams(
    seq_len=32, global_batch=4, micro_batch=4, max_steps=6, lr=1e-2, warmup_ratio=0.0,
    precision="fp32", threads=1, checkpoint_every=1, keep_checkpoints=10, log_every=1,
    eval_max_blocks=8, whole_word=False,
)  # fmt: skip


def _setup(folder):
    torch.manual_seed(0)
    model, tok = load_masked_lm(str(folder))
    ids, starts = encode_stream(synthetic_texts(60, seed=3), tok, None)
    blocks = pack(ids, starts, P.seq_len, tok.cls_token_id, tok.sep_token_id)
    return model, tok, Corpora(blocks, eval=blocks)


def _step_state(folder, step: int) -> dict[str, torch.Tensor]:
    path = folder / f"step-{step:08d}.pt"
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def test_adapter_dapt_freezes_every_base_weight_and_merges(tiny_tokenizer_dir, tmp_path):
    model, tok, corpora = _setup(tiny_tokenizer_dir)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    p = dataclasses.replace(P, adapter=AdapterParams(r=4, alpha=8))
    ckpt = tmp_path / "ckpt"
    result = train(model, tok, corpora, p, ckpt)

    # The last checkpoint is the trained state before merging: adapters next to the base.
    trained = _step_state(ckpt, p.max_steps)
    lora = {k: v for k, v in trained.items() if "lora_" in k}
    base = {k.replace(".base_layer", ""): v for k, v in trained.items() if "lora_" not in k}
    assert lora and set(base) == set(before)
    changed = [k for k in base if not torch.equal(base[k], before[k])]
    assert changed == []  # every base weight bit-identical, embeddings and head included
    assert all(not torch.equal(v, torch.zeros_like(v)) for k, v in lora.items() if "lora_B" in k)
    assert 0 < result.metrics["trainable_share"] < 0.5

    # Merged: W + B A x alpha / r in the plain checkpoint, which the regular loader reads.
    key = "bert.encoder.layer.0.attention.self.query"
    a, b = trained[f"{key}.lora_A.default.weight"], trained[f"{key}.lora_B.default.weight"]
    expected = before[f"{key}.weight"] + b @ a * (8 / 4)
    model.save_pretrained(tmp_path / "out")
    tok.save_pretrained(tmp_path / "out")
    loaded, _ = load_masked_lm(str(tmp_path / "out"))
    state = loaded.state_dict()
    assert not any("lora_" in k for k in state)
    torch.testing.assert_close(state[f"{key}.weight"], expected, rtol=0, atol=1e-6)
    assert not torch.equal(state[f"{key}.weight"], before[f"{key}.weight"])


def test_swa_averages_exactly_the_configured_checkpoints(tiny_tokenizer_dir, tmp_path):
    model, tok, corpora = _setup(tiny_tokenizer_dir)
    p = dataclasses.replace(P, swa=SwaParams(count=3, every=2))  # steps 6, 4, 2
    ckpt = tmp_path / "ckpt"
    train(model, tok, corpora, p, ckpt)
    saved = {s: _step_state(ckpt, s) for s in range(1, p.max_steps + 1)}
    out = model.state_dict()
    names = [n for n, _ in model.named_parameters()]
    for name in names:
        by_hand = (saved[2][name] + saved[4][name] + saved[6][name]) / 3
        torch.testing.assert_close(out[name], by_hand, rtol=0, atol=1e-6)
    # Not another set of steps: the last one alone, or the last three, differ from the output.
    diff_last = max((out[n] - saved[6][n]).abs().max() for n in names)
    last3 = {n: (saved[4][n] + saved[5][n] + saved[6][n]) / 3 for n in names}
    diff_last3 = max((out[n] - last3[n]).abs().max() for n in names)
    assert diff_last > 1e-4 and diff_last3 > 1e-4


def test_swa_resumes_to_the_same_average(tiny_tokenizer_dir, tmp_path):
    p = dataclasses.replace(P, swa=SwaParams(count=3, every=2))
    model, tok, corpora = _setup(tiny_tokenizer_dir)
    train(model, tok, corpora, p, tmp_path / "a")
    whole = model.state_dict()
    # Interrupted after step 3 (step 2 already in the average): resume from that checkpoint.
    at3 = torch.load(tmp_path / "a" / "step-00000003.pt", map_location="cpu", weights_only=True)
    assert int(at3["swa"]["n_averaged"]) == 1
    checkpoint.save(tmp_path / "b", 3, at3)
    model, tok, corpora = _setup(tiny_tokenizer_dir)
    train(model, tok, corpora, p, tmp_path / "b")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, whole[k], rtol=0, atol=1e-6)


STAGE_PARAMS = """
evaluate: {candidates: [base, adapter_dapt]}
pretrain:
  adapter_dapt: {seq_len: 32, global_batch: 4, micro_batch: 4, max_steps: 2, precision: fp32,
                 threads: 1, eval_fraction: 0.1, eval_max_blocks: 4, adapter: {r: 2}}
"""


def test_adapter_dapt_stage_trains_only_as_a_candidate(tiny_tokenizer_dir, corpus_file, tmp_path):
    import argparse
    import json

    from components.data.skip import skipped_reason
    from components.pretrain import cli

    params = tmp_path / "params.yaml"
    params.write_text(STAGE_PARAMS, encoding="utf-8")
    out = tmp_path / "adapter_dapt"
    argv = [
        "--stage", "adapter_dapt", "--needs", "candidate", "--params", str(params),
        "--corpus", str(corpus_file), "--model", str(tiny_tokenizer_dir), "--out", str(out),
        "--no-validated-check", "--no-mlflow",
    ]  # fmt: skip
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args(argv)) == 0
    model, _ = load_masked_lm(str(out))  # the regular loader: a plain merged checkpoint
    assert not any("lora_" in k for k in model.state_dict())
    assert 0 < json.loads((out / "metrics.json").read_text())["trainable_share"] < 0.5

    params.write_text(STAGE_PARAMS.replace("base, adapter_dapt", "base"), encoding="utf-8")
    assert cli.run(parser.parse_args(argv)) == 0
    assert "not in evaluate.candidates" in skipped_reason(out)
