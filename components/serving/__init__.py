"""What a registered classifier needs at inference time, and nothing else.

This package is copied into every registered model (MLflow ``code_paths``, as the top-level
package ``dapt_serving``), so it imports only the standard library, torch, transformers, peft and
MLflow, and its modules import each other relatively: a server that loads the model needs the
model's pinned requirements, not this project.
"""
