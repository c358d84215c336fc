"""Ingest: normalise raw inputs (any supported format/encoding) into canonical JSONL."""
