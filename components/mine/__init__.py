"""Domain-corpus mining: hygiene, target-conditioned scoring and budgeted selection of a pool."""
