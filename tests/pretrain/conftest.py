"""The tiny corpus, tokenizer and BERT shape of tests/tokenizer, shared here."""

import os

import pytest

from tests.tokenizer.conftest import corpus_file, synthetic_texts, tiny_tokenizer_dir

__all__ = ["corpus_file", "synthetic_texts", "tiny_tokenizer_dir"]


@pytest.fixture(autouse=True, scope="session")
def _matmul_peak_cache(tmp_path_factory):
    """The CPU matmul-peak cache of test runs (and their subprocesses) stays out of ~/.cache."""
    os.environ["DAPT_CACHE_DIR"] = str(tmp_path_factory.mktemp("dapt-cache"))
