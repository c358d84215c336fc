"""The vocabulary-only candidate: the extended model as is (the exact starting point of DAPT),
skipped when no word was added. (Its MLflow run is components.tracking.stage_run's, tested there;
a fresh MLflow store here would cost 15 s.)"""

from __future__ import annotations

import argparse
import json

from components.data.skip import skipped_reason
from components.modeling.backbone import load_masked_lm
from components.tokenizer import cli, vocab_only


def _run(module, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))


def _extend(base, lexicon, out, top_k: str) -> None:
    argv = ["extend", "--base", str(base), "--lexicon", str(lexicon), "--top-k", top_k]
    assert _run(cli, [*argv, "--out", str(out), "--no-mlflow"]) == 0


def test_vocab_only_is_the_extended_model_and_skips_without_new_words(tiny_tokenizer_dir, tmp_path):
    import torch

    lex = tmp_path / "lexicon.tsv"
    lex.write_text("word\tscore\n糖尿病\t0.9\n高血压\t0.8\n", encoding="utf-8")
    _extend(tiny_tokenizer_dir, lex, tmp_path / "extended", "2")
    out, metrics = tmp_path / "vocab_only", tmp_path / "vocab_only.json"
    argv = ["--extended", str(tmp_path / "extended"), "--out", str(out)]
    assert _run(vocab_only, [*argv, "--metrics", str(metrics), "--no-mlflow"]) == 0

    model, tok = load_masked_lm(str(out))
    ext, _ = load_masked_lm(str(tmp_path / "extended"))
    assert tok.convert_ids_to_tokens(tok("高血压")["input_ids"])[1:-1] == ["高血压"]
    for k, v in ext.state_dict().items():  # no training: DAPT's starting point, bit for bit
        assert torch.equal(model.state_dict()[k], v), k
    assert json.loads(metrics.read_text())["added_words"] == 2

    # A lexicon giving no word: the candidate would be the base again, so it is skipped.
    _extend(tiny_tokenizer_dir, lex, tmp_path / "none", "0")
    argv = ["--extended", str(tmp_path / "none"), "--out", str(out), "--no-mlflow"]
    assert _run(vocab_only, [*argv, "--metrics", str(metrics)]) == 0
    assert "no new words" in skipped_reason(out)
    assert not (out / "config.json").exists()
    assert json.loads(metrics.read_text())["skipped"] is True
