"""Tiny offline fixtures: a 2-layer BERT masked LM with a locally trained tokenizer, and a
3-class labeled task whose classes are separable by their characters."""

from __future__ import annotations

import json
import random
from pathlib import Path

LABELS = ["Disease", "Age", "Pregnancy"]
KEYS = {
    "Disease": ["高血压", "糖尿病", "心脏病", "肝炎"],
    "Age": ["年龄", "岁以上", "周岁", "年满"],
    "Pregnancy": ["孕妇", "哺乳期", "妊娠", "怀孕"],
}
WORDS = {"Disease": "疾病", "Age": "年龄", "Pregnancy": "妊娠"}
FILLER = "患者的者有或及等无其他情况需要进行检查"


def texts(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = LABELS[i % len(LABELS)]
        noise = "".join(rng.choice(FILLER) for _ in range(rng.randint(2, 8)))
        rows.append((label, noise[:3] + rng.choice(KEYS[label]) + noise[3:]))
    return rows


def write_task(folder: Path, n_train: int = 90, n_eval: int = 30) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, n, seed in (("train", n_train, 1), ("dev", n_eval, 2), ("test", n_eval, 3)):
        p = folder / f"{split}.jsonl"
        with open(p, "w", encoding="utf-8") as f:
            for i, (label, text) in enumerate(texts(n, seed)):
                f.write(json.dumps({"id": f"{split}:{i}", "text": text, "label": label}, ensure_ascii=False) + "\n")  # fmt: skip
        paths[split] = str(p)
    (folder / "labels.txt").write_text("".join(x + "\n" for x in LABELS), encoding="utf-8")
    paths["labels"] = str(folder / "labels.txt")
    return paths


def build_backbone(folder: Path, seed: int = 0) -> Path:
    """A random-init tiny BERT masked LM + char WordPiece tokenizer, save_pretrained layout."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    corpus = [t for _, t in texts(300, 9)] + list(WORDS.values()) + ["类别"]
    tok.train_from_iterator(
        corpus,
        trainers.WordPieceTrainer(vocab_size=300, special_tokens=special, show_progress=False),
    )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )  # fmt: skip
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]",
    )  # fmt: skip
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=len(fast), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )  # fmt: skip
    BertForMaskedLM(cfg).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
