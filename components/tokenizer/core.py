"""Tokenizer work: train a character-level WordPiece vocabulary, load one, extend it with words.

Pure functions: nothing here writes files except ``save_extended`` when asked to.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.errors import InputError

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_HEADER_WORDS = {"word", "words", "term", "token"}


def train_char_wordpiece(
    texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2, lowercase: bool = True
):
    """A bert-base-chinese-style tokenizer: every CJK character is its own word; WordPiece for
    the rest (Latin words, digits). Returned as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.BertProcessing(("[SEP]", sep_id), ("[CLS]", cls_id))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def load_tokenizer(path_or_id: str):
    """A tokenizer from a local folder or a hub id (the real ``from_pretrained`` path)."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path_or_id)
    except (OSError, ValueError) as exc:
        raise InputError(
            path_or_id,
            f"cannot load a tokenizer: {exc}".splitlines()[0],
            "pass a folder with tokenizer files (tokenizer.json) or a reachable hub id",
        ) from None
    if not tok.is_fast:
        raise InputError(path_or_id, "only fast tokenizers are supported (offsets are needed)")
    if tok.mask_token is None:
        raise InputError(path_or_id, "the tokenizer has no mask token", "use a masked-LM tokenizer")
    return tok


def read_lexicon(
    path: str | os.PathLike, top_k: int = 0, min_chars: int = 1, max_chars: int = 64
) -> list[str]:
    """Words of a lexicon file in file order (best first), de-duplicated.

    Accepts the new-word stage's TSV (header ``word freq ... score``), THUOCL ``word<TAB>freq``
    files and plain word lists: the first column is the word. ``top_k`` 0 = all.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            str(path), "lexicon file does not exist", "run the newwords stage or fix the path"
        )
    words: list[str] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8-sig", newline="") as f:
        for lineno, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row:
                continue
            word = row[0].strip()
            if lineno == 1 and word.lower() in _HEADER_WORDS:
                continue
            if not word or word.startswith("#") or word in seen:
                continue
            if not (min_chars <= len(word) <= max_chars) or any(c.isspace() for c in word):
                continue
            seen.add(word)
            words.append(word)
            if top_k and len(words) >= top_k:
                break
    return words


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
