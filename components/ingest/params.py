"""Typed parameters of the ingest stage (params.yaml section ``ingest``): how raw inputs are
normalised. *Which* inputs is the ``domain`` section's business (components/domain.py)."""

from __future__ import annotations

from dataclasses import dataclass

from components.config import param


@dataclass
class IngestParams:
    normalize: str = param("NFKC", help="Unicode normal form; empty string keeps text as is")
    unescape_html: bool = param(True, help="decode &gt; and friends (cMedTC has them)")
    min_chars: int = param(1, ge=1, help="drop documents shorter than this after normalisation")
    max_docs_per_source: int = param(0, ge=0, help="0 = all; profiles cap it for speed")
    dedup: bool = param(True, help="drop exact duplicates within each output")
    drop_leaked: bool = param(True, help="drop dev/test rows whose text is also in train")
