"""MFU's two halves: FLOPs per token (against torch's FLOP counter) and the CPU matmul peak
(measured, cached per CPU model, threads and dtype)."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from components.pretrain import mfu
from components.pretrain.model import SparseMLM, flops_per_token


@pytest.mark.parametrize("rate", [0.15, 0.25])
def test_flops_per_token_equals_torch_flop_counter(rate):
    from transformers import BertConfig, BertForMaskedLM

    cfg = BertConfig(
        vocab_size=1000,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=256,
        max_position_embeddings=128,
    )
    obj = SparseMLM(BertForMaskedLM._from_config(cfg, attn_implementation="sdpa"))
    b, n = 4, 64
    ids = torch.randint(5, 1000, (b, n))
    picked = torch.randperm(b * n)[: round(rate * b * n)]
    labels = torch.full((b * n,), -100)
    labels[picked] = ids.view(-1)[picked]
    with FlopCounterMode(display=False) as counter:
        obj(ids, labels.view(b, n)).backward()
    counted = counter.get_total_flops() / (b * n)
    assert flops_per_token(cfg, n, len(picked) / (b * n)) == pytest.approx(counted, rel=1e-9)


def test_cpu_peak_is_measured_once_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DAPT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(mfu, "PROBE_SECONDS", 0.05)
    old_threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        peak = mfu.cpu_peak_flops(torch.float32)
        assert 1e8 < peak < 1e13  # a CPU core does between 0.1 GFLOP/s and 10 TFLOP/s
        cached = json.loads((tmp_path / "matmul_peak.json").read_text())
        key = mfu.cpu_key(torch.float32)
        assert "threads=1" in key and "float32" in key and cached == {key: peak}
        # Later calls read the file: a planted number above any CPU's comes back unchanged...
        (tmp_path / "matmul_peak.json").write_text(json.dumps({key: 1e15}))
        assert mfu.cpu_peak_flops(torch.float32) == 1e15
        assert mfu.peak_flops(torch.device("cpu"), None) == (1e15, "measured matmul")
        # ...while one below what the short re-probe reaches (a probe under load) is raised.
        (tmp_path / "matmul_peak.json").write_text(json.dumps({key: 123.0}))
        raised = mfu.cpu_peak_flops(torch.float32)
        assert (
            raised > 1e8 and json.loads((tmp_path / "matmul_peak.json").read_text())[key] == raised
        )
        assert mfu.cpu_peak_flops(torch.float32, refresh=True) > 1e8  # probes again
        # Another dtype (or thread count) is another machine setting: its own probe and entry.
        mfu.cpu_peak_flops(torch.bfloat16)
        assert len(json.loads((tmp_path / "matmul_peak.json").read_text())) == 2
    finally:
        torch.set_num_threads(old_threads)
