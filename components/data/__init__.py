"""Shared data layer: the Document record, streaming readers, text utilities, atomic writers."""

from components.data.document import Document
from components.data.readers import DocumentReader, detect_format
from components.data.shards import open_documents, read_documents
from components.data.text import content_hash, file_digest, normalize, split_sentences
from components.data.writers import atomic_dir, atomic_open, write_json, write_jsonl

__all__ = [
    "Document",
    "DocumentReader",
    "atomic_dir",
    "atomic_open",
    "content_hash",
    "detect_format",
    "file_digest",
    "normalize",
    "open_documents",
    "read_documents",
    "split_sentences",
    "write_json",
    "write_jsonl",
]

from components.data.gate import (
    require_decontaminated,
    require_inputs,
    require_validated,
)

__all__ += ["require_decontaminated", "require_inputs", "require_validated"]
