"""Compare: tables, plots, perplexities and the choice on dev (stage ``compare``)."""
