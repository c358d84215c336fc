from __future__ import annotations

import pytest

from components.config import build, load_section
from components.errors import ConfigError
from components.pretrain.params import TrainParams
from tests.conftest import ROOT


@pytest.mark.parametrize("profile", ["smoke", "demo", "full"])
def test_project_sections_load_in_every_profile(profile):
    pre = load_section("pretrain", ROOT / "params.yaml", profile=profile)
    tok = load_section("tokenizer", ROOT / "params.yaml", profile=profile)
    assert pre.dapt.replay_fraction > 0  # replay on by default in DAPT
    assert pre.tapt.replay_fraction > 0  # ...and in TAPT (issue 19: TAPT forgot general text)
    assert pre.adapter_dapt.adapter.r > 0 and pre.dapt.adapter.r == 0
    assert tok.init_model.hidden_size % tok.init_model.num_heads == 0
    if profile == "smoke":
        assert pre.dapt.max_steps <= 10 and pre.general.max_docs <= 1000
    # Continued pretraining masks like the base was pretrained: otherwise the compute-matched
    # control "gains" from easier masks (docs/benchmarks.md, base plateau).
    for stage in (pre.dapt, pre.tapt, pre.adapter_dapt):
        assert (stage.whole_word, stage.jieba_fallback, stage.mask_rate) == (
            pre.general.whole_word,
            pre.general.jieba_fallback,
            pre.general.mask_rate,
        )


def test_bad_values_name_the_key():
    with pytest.raises(ConfigError, match=r"pretrain\.dapt\.mask_rate"):
        build(TrainParams, {"mask_rate": 1.5}, "pretrain.dapt")
    with pytest.raises(ConfigError, match="random_token_ratio must be"):
        build(TrainParams, {"mask_token_ratio": 0.9, "random_token_ratio": 0.2}, "pretrain.dapt")
    with pytest.raises(ConfigError, match=r"either swa\.count or ema_decay"):
        build(TrainParams, {"swa": {"count": 2}, "ema_decay": 0.99}, "pretrain.dapt")
    with pytest.raises(ConfigError, match="need more than max_steps 10"):
        build(TrainParams, {"max_steps": 10, "swa": {"count": 3, "every": 5}}, "pretrain.dapt")
