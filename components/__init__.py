"""Domain-adaptive pretraining pipeline: one package, one sub-package per stage."""

__version__ = "0.1.0"
