"""Fine-tuning strategies (full, head, frozen, bitfit, lora, prompt_tuning, p_tuning,
prefix_tuning, pet) on the labeled task."""
