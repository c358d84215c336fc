from __future__ import annotations

import pytest
import torch

from components.errors import InputError
from components.modeling.backbone import load_masked_lm, load_tokenizer
from components.modeling.vocabulary import extend_vocabulary


def test_trained_tokenizer_is_char_level_and_reloads(tiny_tokenizer_dir):
    tok = load_tokenizer(str(tiny_tokenizer_dir))
    pieces = tok.convert_ids_to_tokens(tok("高血压 hypertension")["input_ids"])
    assert pieces[:4] == ["[CLS]", "高", "血", "压"]
    assert pieces[-1] == "[SEP]"
    with pytest.raises(InputError, match="cannot load a tokenizer"):
        load_tokenizer(str(tiny_tokenizer_dir / "nope"))
    # Fine-tuning asks for a checkpoint folder: tokenizer files alone are a stage not run.
    bare = tiny_tokenizer_dir.parent / "tokenizer-only"
    bare.mkdir(exist_ok=True)
    for f in tiny_tokenizer_dir.iterdir():
        if f.name != "config.json" and f.is_file():
            (bare / f.name).write_bytes(f.read_bytes())
    assert load_tokenizer(bare).is_fast
    with pytest.raises(InputError, match=r"no config\.json"):
        load_tokenizer(bare, checkpoint=True)
    assert load_tokenizer(tiny_tokenizer_dir, checkpoint=True).mask_token == "[MASK]"


def test_extension_keeps_outputs_and_inits_mean_of_pieces(tiny_tokenizer_dir):
    torch.manual_seed(0)
    model, tok = load_masked_lm(str(tiny_tokenizer_dir))
    model.eval()
    old_vocab = len(tok)
    text = "今天医生建议患者检查 doctor。"  # none of the words below
    before_ids = tok(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        before = model(input_ids=before_ids).logits
    old_rows = model.get_input_embeddings().weight.detach().clone()
    pieces = tok("糖尿病", add_special_tokens=False)["input_ids"]

    added = extend_vocabulary(tok, model, ["糖尿病", "高血压", "医"])  # 医: already one token
    assert [a.word for a in added] == ["糖尿病", "高血压"]
    assert len(tok) == old_vocab + 2
    assert tok("糖尿病", add_special_tokens=False)["input_ids"] == [added[0].token_id]

    after_ids = tok(text, return_tensors="pt")["input_ids"]
    assert torch.equal(before_ids, after_ids)
    with torch.no_grad():
        after = model(input_ids=after_ids).logits
    assert after.shape[-1] == old_vocab + 2
    torch.testing.assert_close(after[..., :old_vocab], before, rtol=0, atol=1e-6)
    emb = model.get_input_embeddings().weight.detach()
    torch.testing.assert_close(emb[:old_vocab], old_rows, rtol=0, atol=0)
    torch.testing.assert_close(emb[added[0].token_id], old_rows[pieces].mean(0))
    bias = model.cls.predictions.bias.detach()
    torch.testing.assert_close(bias[added[0].token_id], bias[pieces].mean(0))


def test_extension_with_english_words_matches_any_case_and_whole_words_only(tmp_path):
    """A lowercasing tokenizer: an added Latin word must match "Treebank" in running text (the
    normalised text), and not the inside of "treebanks" (which keeps its pieces)."""
    from components.modeling.vocabulary import init_config
    from components.tokenizer.core import train_char_wordpiece
    from components.tokenizer.params import InitModelParams

    texts = ["the tree bank of the parser was built by hand"] * 20 + [
        "abcdefghijklmnopqrstuvwxyz, ."
    ]
    tok = train_char_wordpiece(texts, vocab_size=80, min_frequency=1)
    tok.save_pretrained(tmp_path)
    shape = InitModelParams(num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32)
    init_config(tok, shape).save_pretrained(tmp_path)
    torch.manual_seed(0)
    model, tok = load_masked_lm(str(tmp_path))
    plural = tok.tokenize("treebanks")
    added = extend_vocabulary(tok, model, ["Treebank", "treebank"])  # one token, lowercased
    assert [a.word for a in added] == ["treebank"] and len(added[0].pieces) > 1
    assert tok.tokenize("The Penn TREEBANK, a treebank.") == [
        "the", "p", "##e", "##n", "##n", "treebank", ",", "a", "treebank", ".",
    ]  # fmt: skip
    assert tok.tokenize("treebanks") == plural
    tok.save_pretrained(tmp_path / "ext")
    assert load_tokenizer(str(tmp_path / "ext")).tokenize("Treebank") == ["treebank"]


def test_extend_cli_writes_loadable_model_and_added_words(tiny_tokenizer_dir, tmp_path):
    import argparse

    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from components.tokenizer import cli

    lex = tmp_path / "lexicon.tsv"
    lex.write_text("word\tscore\n糖尿病\t0.9\n高血压\t0.8\n吃饭\t0.1\n", encoding="utf-8")
    out = tmp_path / "extended"
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(
        [
            "extend",
            "--base",
            str(tiny_tokenizer_dir),
            "--lexicon",
            str(lex),
            "--top-k",
            "2",
            "--out",
            str(out),
            "--no-mlflow",
        ]
    )
    assert cli.run(args) == 0
    rows = (out / "added_words.tsv").read_text(encoding="utf-8").splitlines()
    assert [r.split("\t")[0] for r in rows] == ["word", "糖尿病", "高血压"]
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForMaskedLM.from_pretrained(out)
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    assert tok.convert_ids_to_tokens(tok("吃饭高血压")["input_ids"])[1:-1] == ["吃", "饭", "高血压"]
