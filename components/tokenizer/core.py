"""Tokenizer work: train a character-level WordPiece vocabulary, load one, extend it with words.

Pure functions: nothing here writes files except ``save_extended`` when asked to.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

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
