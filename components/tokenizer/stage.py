"""The tokenizer stage behind ``dapt tokenizer`` (components/tokenizer/cli.py parses): train a
character-level WordPiece tokenizer or extend a model's vocabulary, write the folder and its
metrics together, log the MLflow run."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from components.config import load_section
from components.data.outputs import OutputSet
from components.data.writers import write_json
from components.stagerun import check_inputs, stage_tracking
from components.tokenizer.params import TokenizerParams


def _texts(paths: list[str], max_docs: int):
    from components.data import read_documents

    n = 0
    for p in paths:
        for doc in read_documents(p):
            yield doc.text
            n += 1
            if max_docs and n >= max_docs:
                return


def do_train(params: TokenizerParams, corpus: list[str], out: Path) -> dict:
    from components.modeling.vocabulary import init_config
    from components.tokenizer.core import train_char_wordpiece

    tok = train_char_wordpiece(
        _texts(corpus, params.train.max_docs),
        vocab_size=params.train.vocab_size,
        min_frequency=params.train.min_frequency,
        lowercase=params.train.lowercase,
    )
    tok.save_pretrained(out)
    init_config(tok, params.init_model).save_pretrained(out)
    return {"vocab_size": len(tok)}


def do_extend(
    params: TokenizerParams, base: str, lexicon: str | None, top_k: int, out: Path
) -> dict:
    from components.data.lexicon import read_lexicon
    from components.modeling.backbone import load_masked_lm
    from components.modeling.vocabulary import extend_vocabulary, write_added_words

    model, tok = load_masked_lm(base)
    old = len(tok)
    words = (
        read_lexicon(lexicon, top_k, params.min_word_chars, params.max_word_chars)
        if lexicon and top_k
        else []
    )
    added = extend_vocabulary(tok, model, words)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    write_added_words(out / "added_words.tsv", added)
    return {
        "base_vocab_size": old,
        "vocab_size": len(tok),
        "candidates": len(words),
        "added_words": len(added),
    }


def run(args: argparse.Namespace) -> int:
    params: TokenizerParams = load_section("tokenizer", args.params)
    top_k = params.top_k if args.top_k is None else args.top_k
    inputs = list(args.corpus) + [x for x in (args.lexicon,) if x]
    check_inputs(args, list(args.corpus))
    start = time.perf_counter()
    out = Path(args.out)
    with OutputSet() as outs:  # the model folder and its metrics change together
        tmp = outs.dir(out)
        if args.action == "train":
            if not args.corpus:
                from components.errors import UsageError

                raise UsageError("tokenizer train needs at least one --corpus")
            report = do_train(params, args.corpus, tmp)
        else:
            base = args.base or load_section("domain", args.params).base_model
            report = do_extend(params, base, args.lexicon, top_k, tmp)
        report["seconds"] = round(time.perf_counter() - start, 3)
        if args.metrics:
            write_json(outs.file(args.metrics), report)
    print(f"[tokenizer] {args.action}: {report} -> {out}")
    stage = "tokenizer" if args.action == "extend" else "tokenizer_train"
    with stage_tracking(stage, params, args, inputs) as t:
        t.metrics(report)
        t.artifact(out / "added_words.tsv")
    return 0
