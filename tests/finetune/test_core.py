from pathlib import Path

import numpy as np
import pytest
import torch

from components.config import build
from components.data.labels import read_label_file
from components.errors import ConfigError
from components.finetune.core import (
    EarlyStopper,
    batches,
    build_classifier,
    class_weights,
    param_groups,
)
from components.finetune.data import Split, few_shot, read_split, stratified_sample
from components.finetune.params import FinetuneParams, PetParams
from components.finetune.pet import Verbalizer
from components.finetune.run import finetune
from components.serving.loader import load_classifier
from tests.finetune.tiny import LABELS, WORDS

LR = {"full": 3e-3, "head": 3e-2, "frozen": 1e-2, "bitfit": 3e-2, "lora": 1e-2,
      "prompt_tuning": 1e-1, "p_tuning": 3e-2, "prefix_tuning": 3e-2, "pet": 3e-3}  # fmt: skip


def params(**kw) -> FinetuneParams:
    # 90 training rows fit in one length-grouping window: grouped batches would be the same every
    # epoch, so these learning tests use plain shuffled batches (grouping is tested on its own).
    base = dict(threads=1, epochs=15.0, evals_per_epoch=1, patience=10, batch_size=16, lr=LR)
    base["max_len"] = 64
    base["group_by_length"] = False
    base["pet"] = PetParams(label_words=WORDS, shots=8, epochs=3)
    return FinetuneParams(**{**base, **kw})


def load(task):
    labels = read_label_file(task["labels"])
    return labels, *(read_split(task[s], labels) for s in ("train", "dev", "test"))


def reload_predict(folder, texts):
    model, tok, _ = load_classifier(folder)
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        return model(**enc).logits.argmax(-1).tolist()


def test_length_grouped_batches_cover_every_row_once_and_pad_less():
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(5, 60, (1000,), generator=gen).tolist()
    grouped = list(batches(1000, 8, torch.Generator().manual_seed(1), lengths))
    plain = list(batches(1000, 8, torch.Generator().manual_seed(1)))
    assert sorted(i for b in grouped for i in b) == list(range(1000))

    def padded(bs):
        return sum(max(lengths[i] for i in b) * len(b) for b in bs)

    assert padded(grouped) < 0.8 * padded(plain)
    # the batch order is shuffled, not sorted by length
    firsts = [lengths[b[0]] for b in grouped]
    assert firsts != sorted(firsts)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_full_learns_separable_task_and_saved_checkpoint_reproduces_predictions(
    tiny, tmp_path, precision
):
    backbone, task = tiny
    labels, train, dev, test = load(task)
    p = params(precision=precision, class_weight="inverse_sqrt", head_lr_scale=3.0)
    r = finetune(backbone, "full", labels, train, dev, test, p, 0, tmp_path / "full")
    assert r.macro_f1 >= 0.8 and r.accuracy >= 0.8
    assert 0 < r.best_step <= r.steps and r.history
    assert reload_predict(tmp_path / "full", test.texts) == r.predictions


def test_lora_saves_adapter_and_merged_model_with_same_predictions(tiny, tmp_path):
    backbone, task = tiny
    labels, train, dev, test = load(task)
    out = tmp_path / "lora"
    r = finetune(backbone, "lora", labels, train, dev, test, params(), 0, out)
    assert (out / "adapter" / "adapter_config.json").exists()
    assert (out / "model.safetensors").exists()  # merged
    assert r.macro_f1 > 0.5  # chance is about 0.17-0.33
    assert reload_predict(out, test.texts) == r.predictions


def test_prompt_tuning_adapter_round_trip(tiny, tmp_path):
    backbone, task = tiny
    labels, train, dev, test = load(task)
    out = tmp_path / "pt"
    r = finetune(backbone, "prompt_tuning", labels, train, dev, test, params(epochs=2.0), 0, out)
    assert (out / "adapter" / "adapter_config.json").exists()
    assert reload_predict(out, test.texts) == r.predictions


def test_head_and_frozen_train_only_their_parameters(tiny):
    backbone, _ = tiny
    head = build_classifier(backbone, "head", LABELS, params())
    trainable = {n for n, t in head.named_parameters() if t.requires_grad}
    assert trainable and all(n.startswith("classifier") for n in trainable)
    frozen = build_classifier(backbone, "frozen", LABELS, params())
    trainable = {n for n, t in frozen.named_parameters() if t.requires_grad}
    assert any("LayerNorm" in n for n in trainable)
    assert any("position_embeddings" in n for n in trainable)
    assert any(n.startswith("classifier") for n in trainable)
    assert not any("word_embeddings" in n or "attention.self" in n for n in trainable)


def test_early_stopper_restores_best_weights_and_stops_after_patience():
    model = torch.nn.Linear(2, 2)
    stopper = EarlyStopper(model, patience=2)
    assert not stopper.update(0.5, 1)
    best = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not stopper.update(0.4, 2)
    assert stopper.update(0.3, 3)  # second evaluation without improvement
    stopper.restore()
    assert torch.equal(model.weight, best) and stopper.best_step == 1


def test_pet_zero_shot_is_deterministic_and_few_shot_trains(tiny):
    backbone, task = tiny
    labels, train, dev, test = load(task)
    p = params()
    a = finetune(backbone, "pet", labels, train, dev, test, p, 0, shots=0)
    b = finetune(backbone, "pet", labels, train, dev, test, p, 1, shots=0)
    assert a.predictions == b.predictions and a.steps == 0
    few = finetune(backbone, "pet", labels, train, dev, test, p, 0, shots=8)
    assert few.steps > 0 and few.history


def test_pet_verbalizer_handles_words_of_different_lengths_and_rejects_missing(tiny):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    backbone, _ = tiny
    tok = AutoTokenizer.from_pretrained(backbone)
    words = {"Disease": "疾病", "Age": "年", "Pregnancy": "妊娠"}
    p = params(pet=PetParams(label_words=words))
    verb = Verbalizer(tok, LABELS, p)
    assert verb.lengths == [1, 2]
    ids, slot = verb.build(tok("高血压患者", add_special_tokens=False)["input_ids"], 2)
    assert [ids[i] for i in slot] == [tok.mask_token_id] * 2 and ids[0] == tok.cls_token_id
    model = AutoModelForMaskedLM.from_pretrained(backbone)
    scores = verb.label_scores(model, [ids[1:3], ids[1:4]])
    assert scores.shape == (2, 3) and torch.isfinite(scores).all()
    with pytest.raises(ConfigError, match="Pregnancy"):
        Verbalizer(tok, LABELS, params(pet=PetParams(label_words={"Disease": "疾病", "Age": "年"})))


def test_stratified_sample_and_few_shot_keep_every_class():
    labels = np.array([0] * 80 + [1] * 15 + [2] * 5)
    split = Split([str(i) for i in range(100)], labels)
    sub = stratified_sample(split, 20, seed=0)
    assert 18 <= len(sub) <= 22 and set(sub.labels) == {0, 1, 2}
    assert (sub.labels == 0).sum() > (sub.labels == 1).sum() > 0
    few = few_shot(split, 8, seed=0)
    counts = np.bincount(few.labels)
    assert counts.tolist() == [8, 8, 5]


def test_cli_refuses_unvalidated_data(tiny, tmp_path, monkeypatch):
    import yaml

    from components.cli import main
    from tests.conftest import domain_section

    backbone, task = tiny
    monkeypatch.chdir(tmp_path)
    section = domain_section(
        task={"train": {"path": "raw/t.jsonl"}, "test": {"path": "raw/t.jsonl"}}
    )
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"profile": "smoke", "domain": section}))
    args = ["finetune", "--candidate", f"base={backbone}", "--no-mlflow", "--out", "ft"]
    args += ["--task", str(Path(task["train"]).parent)]
    assert main(args) == 1  # no validation manifest
    assert not (tmp_path / "ft").exists()


def test_class_weights_favour_rare_classes_and_keep_the_mean_example_weight_at_one():
    labels = [0] * 90 + [1] * 10  # class 2 absent
    assert class_weights(labels, 3, "none") is None
    for kind, ratio in (("inverse_sqrt", 3.0), ("inverse", 9.0)):
        w = class_weights(labels, 3, kind)
        assert w[2] == 0 and w[1] / w[0] == pytest.approx(ratio)
        assert (w[torch.tensor(labels)]).mean().item() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match=r"finetune\.class_weight: 'balanced' is not one of"):
        build(FinetuneParams, {"class_weight": "balanced"}, "finetune")


def test_param_groups_scale_only_the_new_classifier_and_pooler(tiny):
    backbone, task = tiny
    labels = read_label_file(task["labels"])
    model = build_classifier(backbone, "full", labels, params())
    groups = param_groups(model, 1e-3, 10.0)
    names = {id(t): n for n, t in model.named_parameters()}
    new = [names[id(t)] for t in groups[1]["params"]]
    assert groups[0]["lr"] == 1e-3 and groups[1]["lr"] == pytest.approx(1e-2)
    assert new and all("classifier" in n or "pooler" in n for n in new)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    lora = build_classifier(backbone, "lora", labels, params())
    lora_new = [n for n, t in lora.named_parameters() if t.requires_grad and "classifier" in n]
    assert lora_new and len(param_groups(lora, 1e-3, 10.0)) == 2


def test_pet_scores_only_the_slot_but_match_the_full_vocabulary_projection(tiny):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from components.finetune.core import collate

    backbone, _ = tiny
    tok = AutoTokenizer.from_pretrained(backbone)
    verb = Verbalizer(tok, LABELS, params())
    model = AutoModelForMaskedLM.from_pretrained(backbone).eval()
    texts = [
        tok(t, add_special_tokens=False)["input_ids"] for t in ("高血压患者", "年龄大于十八岁")
    ]
    with torch.no_grad():
        sparse = verb.label_scores(model, texts)
        for n in verb.lengths:  # reference: the whole logits tensor, as transformers computes it
            built = [verb.build(t, n) for t in texts]
            logits = model(**collate([b[0] for b in built], tok.pad_token_id)).logits
            for j, word in enumerate(verb.words):
                if len(word) == n:
                    for r, (_, slot) in enumerate(built):
                        logp = torch.log_softmax(logits[r, slot], -1)
                        ref = logp[torch.arange(n), torch.tensor(word)].mean()
                        assert sparse[r, j].item() == pytest.approx(ref.item(), abs=1e-5)
