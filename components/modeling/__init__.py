"""Models and tokenizers (loading, checks, vocabulary extension, precision): the layer every
training, evaluation and serving stage imports; it imports nothing above components.errors
and components.data."""
