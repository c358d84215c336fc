from __future__ import annotations

import numpy as np
import torch

from components.modeling.backbone import load_tokenizer
from components.pretrain.data import WordMatcher, encode_stream, mask_batch, pack, word_starts

LEXICON = ["高血压", "高血", "糖尿病"]


def test_longest_match_and_jieba_fallback():
    m = WordMatcher(LEXICON)
    assert m.spans("患高血压和糖尿病") == [(1, 4), (5, 8)]
    assert m.spans("高血") == [(0, 2)]
    assert m.spans("没有词") == []
    j = WordMatcher(LEXICON, jieba_fallback=True)
    spans = j.spans("我们今天高血压")
    assert (4, 7) in spans and (0, 2) in spans  # 我们 from jieba, 高血压 from the lexicon


def test_word_starts_groups_wordpiece_pieces_and_lexicon_chars(tiny_tokenizer_dir):
    tok = load_tokenizer(str(tiny_tokenizer_dir))
    text = "高血压 hypertension 医生"
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    flags = word_starts(text, enc["offset_mapping"], WordMatcher(LEXICON).spans(text))
    toks = enc.tokens()
    groups, cur = [], []
    for t, f in zip(toks, flags, strict=True):
        if f and cur:
            groups.append("".join(cur).replace("##", ""))
            cur = []
        cur.append(t)
    groups.append("".join(cur).replace("##", ""))
    assert groups == ["高血压", "hypertension", "医", "生"]


def _masks(tiny_tokenizer_dir, texts, rate, draws):
    tok = load_tokenizer(str(tiny_tokenizer_dir))
    ids, starts = encode_stream(texts, tok, WordMatcher(LEXICON))
    blocks = pack(ids, starts, 32, tok.cls_token_id, tok.sep_token_id)
    t = torch.from_numpy(blocks.ids.astype(np.int64))
    s = torch.from_numpy(blocks.starts)
    special = torch.isin(t, torch.tensor(tok.all_special_ids))
    gen = torch.Generator().manual_seed(0)
    for _ in range(draws):
        inputs, labels = mask_batch(
            t, s, special, mask_id=tok.mask_token_id, vocab_size=len(tok), rate=rate,
            mask_ratio=0.8, random_ratio=0.1, generator=gen,
        )  # fmt: skip
        yield tok, t, inputs, labels


def test_lexicon_word_is_always_masked_whole(tiny_tokenizer_dir):
    from tests.tokenizer.conftest import synthetic_texts

    texts = synthetic_texts(60, seed=3)
    whole = partial = 0
    for tok, t, _, labels in _masks(tiny_tokenizer_dir, texts, 0.3, 200):
        a, b, c = (tok.convert_tokens_to_ids(x) for x in "糖尿病")
        seq_ok = (t[:, :-2] == a) & (t[:, 1:-1] == b) & (t[:, 2:] == c)
        rows, cols = seq_ok.nonzero(as_tuple=True)
        assert len(rows) > 20  # the word really occurs (not split by block edges everywhere)
        picked = torch.stack([labels[rows, cols + k] != -100 for k in range(3)], 1)
        n = picked.sum(1)
        partial += int(((n > 0) & (n < 3)).sum())
        whole += int((n == 3).sum())
    # A word cut by a block boundary cannot be whole; every occurrence inside a block is.
    assert partial == 0
    assert whole > 0


def test_rate_and_replacement_split(tiny_tokenizer_dir):
    from tests.tokenizer.conftest import synthetic_texts

    texts = synthetic_texts(60, seed=4)
    picked = total = masked = kept = 0
    for tok, t, inputs, labels in _masks(tiny_tokenizer_dir, texts, 0.15, 100):
        special = torch.isin(t, torch.tensor(tok.all_special_ids))
        sel = labels != -100
        assert not (sel & special).any()
        assert torch.equal(labels[sel], t[sel])
        assert torch.equal(inputs[~sel], t[~sel])
        picked += int(sel.sum())
        total += int((~special).sum())
        masked += int((inputs[sel] == tok.mask_token_id).sum())
        kept += int((inputs[sel] == t[sel]).sum())
    assert abs(picked / total - 0.15) < 0.015
    assert abs(masked / picked - 0.8) < 0.02
    assert abs(kept / picked - 0.1) < 0.03  # ~0.1 kept, plus random draws of the same token


def test_pack_has_no_padding_and_crosses_documents(tiny_tokenizer_dir):
    tok = load_tokenizer(str(tiny_tokenizer_dir))
    ids, starts = encode_stream(["高血压。", "医生建议检查。"] * 10, tok, None)
    blocks = pack(ids, starts, 16, tok.cls_token_id, tok.sep_token_id)
    assert len(blocks) == len(ids) // 14
    assert (blocks.ids != tok.pad_token_id).all()
    assert (blocks.ids[:, 0] == tok.cls_token_id).all() and (
        blocks.ids[:, -1] == tok.sep_token_id
    ).all()
