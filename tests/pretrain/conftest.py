"""The tiny corpus, tokenizer and BERT shape of tests/tokenizer, shared here."""

from tests.tokenizer.conftest import corpus_file, synthetic_texts, tiny_tokenizer_dir

__all__ = ["corpus_file", "synthetic_texts", "tiny_tokenizer_dir"]
