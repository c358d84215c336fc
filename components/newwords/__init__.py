"""New-word discovery: domain terms for vocabulary extension and whole-word masking."""
