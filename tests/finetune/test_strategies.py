"""BitFit, P-Tuning and prefix tuning (P-Tuning v2): what trains, that it learns, that it reloads."""

import pytest
import torch
from mlflow.pyfunc import PythonModelContext
from safetensors.torch import load_file
from transformers import AutoConfig

from components.errors import ConfigError
from components.finetune.core import (
    build_classifier,
    collate,
    save_classifier,
)
from components.finetune.params import PrefixTuningParams, PTuningParams
from components.finetune.run import finetune
from components.modeling.backbone import load_tokenizer
from components.serving.loader import load_classifier
from components.serving.pyfunc import TextClassifier
from tests.finetune.test_core import load, params, reload_predict
from tests.finetune.tiny import LABELS

NEW = ["bitfit", "p_tuning", "prefix_tuning"]


def expected_trainable(cfg, strategy: str, p, pooling: str) -> int:
    """The method's parameter count, from the backbone's config alone (not from the model)."""
    h, i, layers, c = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, len(LABELS)
    head = h * c + c
    if strategy == "bitfit":
        # per layer: q, k, v, attention output, LayerNorm, intermediate, output, LayerNorm
        per_layer = 3 * h + h + h + i + h + h
        pooler = h if pooling == "cls" else 0  # the pooler's bias; mean pooling has no pooler
        return layers * per_layer + h + pooler + head  # + the embeddings' LayerNorm bias
    if strategy == "prefix_tuning":
        q = p.prefix_tuning
        kv = layers * 2 * h  # a key and a value vector per layer and virtual token
        if not q.projection:
            return q.num_virtual_tokens * kv + head
        e = q.encoder_hidden_size or h
        return q.num_virtual_tokens * h + (h * e + e) + (e * kv + kv) + head
    q = p.p_tuning  # p_tuning: prompt embeddings + encoder, output at the input width h
    e = q.encoder_hidden_size or h
    if q.encoder == "mlp":
        encoder = (h * e + e) + (e * e + e) + (e * h + h)
    else:  # 2-layer bidirectional LSTM (4 gates, two bias vectors) + 2-layer MLP
        lstm = 2 * (4 * e * (h + e) + 8 * e) + 2 * (4 * e * (2 * e + e) + 8 * e)
        encoder = lstm + (2 * e * 2 * e + 2 * e) + (2 * e * h + h)
    return q.num_virtual_tokens * h + encoder + head


VARIANTS = [
    ("bitfit", "mean", {}),
    ("bitfit", "cls", {}),
    ("prefix_tuning", "mean", {}),
    ("prefix_tuning", "cls", {"prefix_tuning": PrefixTuningParams(num_virtual_tokens=5)}),
    (
        "prefix_tuning",
        "mean",
        {"prefix_tuning": PrefixTuningParams(projection=True, encoder_hidden_size=24)},
    ),
    ("p_tuning", "mean", {}),
    ("p_tuning", "cls", {"p_tuning": PTuningParams(num_virtual_tokens=3, encoder_hidden_size=16)}),
    ("p_tuning", "mean", {"p_tuning": PTuningParams(encoder="lstm", encoder_hidden_size=8)}),
]


@pytest.mark.parametrize(("strategy", "pooling", "extra"), VARIANTS)
def test_trainable_parameters_are_exactly_the_methods(tiny, strategy, pooling, extra):
    backbone, _ = tiny
    p = params(pooling=pooling, **extra)
    model = build_classifier(backbone, strategy, LABELS, p)
    trainable = {n: t.numel() for n, t in model.named_parameters() if t.requires_grad}
    cfg = AutoConfig.from_pretrained(backbone)
    assert sum(trainable.values()) == expected_trainable(cfg, strategy, p, pooling)
    if strategy == "bitfit":
        assert all(n.endswith(".bias") or n.startswith("classifier.") for n in trainable)
        assert "classifier.weight" in trainable
    else:  # the prompt encoder / prefixes and peft's trainable copy of the head, nothing else
        assert all(n.startswith(("prompt_encoder.", "base_model.classifier.")) for n in trainable)
        assert any(n.startswith("base_model.classifier.modules_to_save") for n in trainable)


@pytest.mark.parametrize("strategy", NEW)
def test_new_strategy_learns_saves_and_reloads_with_the_same_predictions(tiny, tmp_path, strategy):
    backbone, task = tiny
    labels, train, dev, test = load(task)
    out = tmp_path / strategy
    r = finetune(backbone, strategy, labels, train, dev, test, params(pooling="mean"), 0, out)
    # measured on this tiny task (seeds 0-2): dev 0.83-0.93, test 0.50-0.77; chance ~0.17-0.33
    assert r.dev_macro_f1 >= 0.7 and r.macro_f1 > 0.45
    assert reload_predict(out, test.texts) == r.predictions
    served = TextClassifier()  # the registered model's pyfunc, as `models:/NAME@champion` serves it
    served.load_context(PythonModelContext(artifacts={"model_dir": str(out)}, model_config={}))
    assert served.predict(None, test.texts) == [labels[i] for i in r.predictions]
    # the backbone's weights did not move (all of them for soft prompts, all but biases for BitFit)
    before, after = load_file(backbone / "model.safetensors"), load_file(out / "model.safetensors")
    encoder = [
        k for k in before if k.startswith("bert.encoder.") or k.startswith("bert.embeddings.")
    ]
    assert encoder and all(k in after for k in encoder)
    moved = {k for k in encoder if not torch.equal(before[k], after[k])}
    if strategy == "bitfit":
        assert moved and all(k.endswith(".bias") for k in moved)
    else:
        assert (out / "adapter" / "adapter_config.json").exists() and not moved


@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize("strategy", ["prefix_tuning", "p_tuning"])
def test_soft_prompts_ignore_padding_and_reach_the_loss_under_both_poolings(
    tiny, strategy, pooling
):
    backbone, _ = tiny
    model = build_classifier(backbone, strategy, LABELS, params(pooling=pooling)).eval()
    short, long = [5, 6, 7], [5, 6, 7, 8, 9, 10, 11]
    logits = model(**collate([short, long], pad_id=0)).logits
    # one sentence vector per row: peft's own prefix path would classify every token state
    assert logits.shape == (2, len(LABELS))
    with torch.no_grad():
        alone = model(**collate([short], pad_id=0)).logits
    assert torch.allclose(logits[0], alone[0], atol=1e-5)  # the prefix columns align with the mask
    logits.sum().backward()
    grads = [t.grad for n, t in model.named_parameters() if n.startswith("prompt_encoder.")]
    assert grads and all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
    with torch.no_grad():  # the same classifier without the prompts (peft's disable_adapter
        plain = model.get_base_model()(**collate([short], pad_id=0)).logits  # fails on these)
    assert not torch.allclose(plain, alone)  # the prompts change the prediction


def test_soft_prompts_that_leave_the_text_too_few_positions_are_refused(tiny):
    backbone, _ = tiny
    limit = AutoConfig.from_pretrained(backbone).max_position_embeddings
    p = params(max_len=limit - 4, prefix_tuning=PrefixTuningParams(num_virtual_tokens=8))
    with pytest.raises(ConfigError, match=r"finetune\.prefix_tuning\.num_virtual_tokens"):
        build_classifier(backbone, "prefix_tuning", LABELS, p)
    build_classifier(backbone, "prefix_tuning", LABELS, params(max_len=limit - 8))  # fits


@pytest.mark.parametrize(
    ("strategy", "extra"),
    [
        ("p_tuning", {"p_tuning": PTuningParams(encoder="lstm", encoder_hidden_size=8)}),
        ("prefix_tuning", {"prefix_tuning": PrefixTuningParams(projection=True)}),
    ],
)
def test_encoder_variants_reload_with_the_same_logits(tiny, tmp_path, strategy, extra):
    """peft saves the encoders' output vectors, not the encoders: the reload must still agree."""
    backbone, _ = tiny
    p = params(pooling="mean", **extra)
    model = build_classifier(backbone, strategy, LABELS, p).eval()
    save_classifier(model, load_tokenizer(backbone), strategy, tmp_path, p, backbone, LABELS)
    reloaded, tok, meta = load_classifier(tmp_path)
    assert meta["strategy"] == strategy
    enc = tok(["高血压患者", "年龄大于十八岁"], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(model(**enc).logits, reloaded(**enc).logits, atol=1e-5)
