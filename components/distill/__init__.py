"""Distillation of the gated classifier into a smaller student (docs/distill.md)."""
