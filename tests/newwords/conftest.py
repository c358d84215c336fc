"""Tiny synthetic corpora: planted domain terms inside random filler, so the right answer is known."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

# Bundled English text: ACL-ARC citation contexts ("Don't Stop Pretraining" task) and WikiText-2.
ACL_ARC = Path(__file__).resolve().parents[2] / "examples" / "acl-arc" / "data"
ACL_TRAIN = ACL_ARC / "task" / "citation_intent_train.jsonl"
ACL_DEV = ACL_ARC / "task" / "citation_intent_dev.jsonl"
WIKITEXT = ACL_ARC / "general" / "wikitext2.txt"
EN_VOCAB = ACL_ARC.parents[2] / "models" / "base-en-tiny" / "tokenizer.json"


def wikitext(n: int) -> list[str]:
    """The first ``n`` WikiText-2 paragraphs (one a line)."""
    with open(WIKITEXT, encoding="utf-8") as f:
        return [line.strip() for line, _ in zip(f, range(n), strict=False) if line.strip()]


# Drug names that jieba's general dictionary does not hold (the default ranking drops its words).
TERMS = ["蒙脱石散", "赛庚啶", "幽门螺杆菌", "氨溴索"]
FILLER = "天地人和春夏秋冬山水云风花月江河湖海东西南北上下左右前后大小多少高低长短"


def synthetic_docs(n_docs: int, seed: int, terms: list[str] = TERMS) -> list[str]:
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        parts = []
        for _ in range(rng.randint(3, 6)):
            sent = "".join(rng.choice(FILLER) for _ in range(rng.randint(2, 5)))
            if terms and rng.random() < 0.7:
                sent += rng.choice(terms) + "".join(rng.choice(FILLER) for _ in range(2))
            parts.append(sent)
        docs.append("，".join(parts) + "。")
    return docs


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text(
        "".join(
            json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n"
            for i, t in enumerate(texts)
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def corpora(tmp_path: Path) -> dict[str, Path]:
    domain = write_jsonl(tmp_path / "domain.jsonl", synthetic_docs(300, seed=1))
    general = write_jsonl(tmp_path / "general.jsonl", synthetic_docs(300, seed=2, terms=[]))
    ref = tmp_path / "reference.txt"
    ref.write_text("".join(f"{t}\t10\n" for t in TERMS) + "天地\n", encoding="utf-8")
    return {"domain": domain, "general": general, "reference": ref}
