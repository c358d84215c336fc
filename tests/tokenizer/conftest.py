"""A tiny synthetic Chinese+English corpus, a tokenizer trained on it and a tiny BERT."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

WORDS = ["高血压", "糖尿病", "医生", "患者", "治疗", "建议", "检查", "今天", "天气", "我们", "吃饭"]
CHARS = "的了是在有和不人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府"


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(8, 20)):
            r = rng.random()
            if r < 0.4:
                parts.append(rng.choice(WORDS))
            elif r < 0.5:
                parts.append(rng.choice([" hypertension ", " insulin ", " doctor "]))
            else:
                parts.append("".join(rng.choice(CHARS) for _ in range(rng.randint(1, 3))))
        out.append("".join(parts) + "。")
    return out


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    from components.modeling.vocabulary import init_config
    from components.tokenizer.core import train_char_wordpiece
    from components.tokenizer.params import InitModelParams

    folder = tmp_path_factory.mktemp("tiny_tok")
    tok = train_char_wordpiece(synthetic_texts(400), vocab_size=300, min_frequency=1)
    tok.save_pretrained(folder)
    shape = InitModelParams(
        num_layers=2, hidden_size=32, num_heads=2, intermediate_size=64, max_position=64
    )
    init_config(tok, shape).save_pretrained(folder)
    return folder


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    path = tmp_path / "corpus.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(synthetic_texts(300, seed=1)):
            f.write(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n")
    return path
