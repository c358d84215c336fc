import pytest
import torch
from transformers import BertModel, RobertaConfig

from components.errors import InputError
from components.finetune.core import build_classifier, collate
from components.finetune.pooling import BertMeanPoolForSequenceClassification
from components.finetune.run import finetune
from tests.finetune.test_core import load, params, reload_predict


def test_mean_pooling_is_the_masked_mean_of_the_encoder_states_and_ignores_padding(tiny):
    backbone, task = tiny
    labels, *_ = load(task)
    model = build_classifier(backbone, "full", labels, params(pooling="mean")).eval()
    assert isinstance(model, BertMeanPoolForSequenceClassification)
    assert not any("pooler" in n for n, _ in model.named_parameters())
    short, long = [5, 6, 7], [5, 6, 7, 8, 9, 10, 11]
    with torch.no_grad():
        batch = collate([short, long], pad_id=0)
        logits = model(**batch).logits
        alone = model(**collate([short], pad_id=0)).logits
        # reference: the same encoder weights through plain transformers, averaged by hand
        encoder = BertModel.from_pretrained(backbone, add_pooling_layer=False).eval()
        hidden = encoder(**batch).last_hidden_state
        mean = hidden[1].mean(0)
    assert torch.allclose(logits[0], alone[0], atol=1e-5)  # padding does not move the mean
    assert torch.allclose(logits[1], model.classifier(mean), atol=1e-5)


@pytest.mark.parametrize("strategy", ["full", "lora", "prompt_tuning"])
def test_mean_pooled_classifier_learns_and_its_checkpoint_reloads_as_mean_pooled(
    tiny, tmp_path, strategy
):
    backbone, task = tiny
    labels, train, dev, test = load(task)
    out = tmp_path / strategy
    p = params(pooling="mean", epochs=2.0 if strategy == "prompt_tuning" else 15.0)
    r = finetune(backbone, strategy, labels, train, dev, test, p, 0, out)
    # chance is about 0.17-0.33; soft prompts: round trip only (as in test_core)
    floor = {"full": 0.8, "lora": 0.5, "prompt_tuning": 0.0}[strategy]
    assert r.macro_f1 > floor
    # a [CLS]-pooled reload would give other predictions: the folder must say how it pools
    assert reload_predict(out, test.texts) == r.predictions


def test_mean_pooling_refuses_a_non_bert_checkpoint_with_the_fix(tmp_path):
    RobertaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=32).save_pretrained(tmp_path)  # fmt: skip
    with pytest.raises(InputError, match=r"finetune\.pooling: cls"):
        build_classifier(tmp_path, "full", ["a", "b"], params(pooling="mean"))


def test_mean_pooled_head_starts_at_the_pytorch_linear_scale_not_berts(tiny):
    backbone, task = tiny
    labels, *_ = load(task)
    model = build_classifier(backbone, "full", labels, params(pooling="mean"))
    w, h = model.classifier.weight, model.config.hidden_size
    bound = h**-0.5  # nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std bound/sqrt(3)
    assert w.abs().max() <= bound
    assert w.std().item() == pytest.approx(bound / 3**0.5, rel=0.2)
    assert w.std().item() > 2 * model.config.initializer_range  # BERT's N(0, 0.02) would fail
    # the encoder is the checkpoint's, untouched by the head's initialisation
    cls = build_classifier(backbone, "full", labels, params(pooling="cls"))
    assert torch.equal(model.bert.encoder.layer[0].output.dense.weight, cls.bert.encoder.layer[0].output.dense.weight)  # fmt: skip
