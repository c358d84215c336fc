"""Vocabulary extension: new words as whole tokens, their embedding rows initialised from the
pieces they replace; a fresh config sized for a tokenizer."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def init_config(tokenizer, shape: Any):
    """A BertConfig sized for ``tokenizer`` with the shape of ``InitModelParams``."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        intermediate_size=shape.intermediate_size,
        max_position_embeddings=shape.max_position,
        hidden_dropout_prob=shape.dropout,
        attention_probs_dropout_prob=shape.dropout,
        pad_token_id=tokenizer.pad_token_id,
    )


@dataclass
class AddedWord:
    word: str
    token_id: int
    pieces: list[str]


def extend_vocabulary(tokenizer, model, words: Iterable[str]) -> list[AddedWord]:
    """Add ``words`` as whole tokens; each new embedding row (and output bias) is the mean of the
    rows of the pieces the old tokenizer produced for the word, not random.

    Words that are already a single token are skipped. The old rows are untouched, so text without
    the new words is encoded, and scored over the old vocabulary, exactly as before.
    """
    import torch
    from tokenizers import AddedToken

    norm = tokenizer.backend_tokenizer.normalizer

    def as_added(w: str) -> AddedToken:
        n = norm.normalize_str(w) if norm is not None else w
        if " " in n.strip() and " " not in w:
            # The Chinese normaliser puts spaces between characters, so a normalised added token
            # would never match the running text: match the raw text instead.
            return AddedToken(w, normalized=False)
        # A Latin word: match the normalised (e.g. lowercased) text, so "Treebank" finds
        # "treebank", and only as a whole word, so "treebanks" keeps its WordPiece pieces.
        return AddedToken(n, normalized=True, single_word=True)

    plan: list[tuple[AddedToken, list[int]]] = []
    seen: set[str] = set()
    for w in words:
        ids = tokenizer(w, add_special_tokens=False)["input_ids"]
        if len(ids) <= 1 or tokenizer.unk_token_id in ids:
            continue  # nothing to gain, or no sensible initialisation from unknown pieces
        token = as_added(w)
        if token.content not in seen:
            seen.add(token.content)
            plan.append((token, ids))
    if not plan:
        return []
    old_size = len(tokenizer)
    tokenizer.add_tokens([t for t, _ in plan])
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    emb = model.get_input_embeddings().weight
    out = model.get_output_embeddings()
    bias = getattr(out, "bias", None) if out is not None else None
    tied = out is not None and out.weight.data_ptr() == emb.data_ptr()
    added: list[AddedWord] = []
    with torch.no_grad():
        for token, ids in plan:
            w = token.content
            new_id = tokenizer.convert_tokens_to_ids(w)
            if new_id < old_size:
                continue
            emb[new_id] = emb[ids].mean(0)
            if out is not None and not tied:
                out.weight[new_id] = out.weight[ids].mean(0)
            if bias is not None:
                bias[new_id] = bias[ids].mean(0)
            added.append(AddedWord(w, new_id, tokenizer.convert_ids_to_tokens(ids)))
    return added


def write_added_words(path: str | os.PathLike, added: list[AddedWord]) -> None:
    from components.data.writers import atomic_open

    with atomic_open(path) as f:
        f.write("word\ttoken_id\tinit_pieces\n")
        for a in added:
            f.write(f"{a.word}\t{a.token_id}\t{' '.join(a.pieces)}\n")
