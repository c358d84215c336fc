"""Fine-tuning strategies (full, head, frozen, lora, prompt_tuning, pet) on the labeled task."""
