"""Validate: great-expectations suites over corpora and labeled task splits; fails closed."""
