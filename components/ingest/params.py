"""Typed parameters of the ingest stage (params.yaml section ``ingest``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from components.config import param


@dataclass
class SourceSpec:
    """One raw input file and how to read it."""

    path: str
    format: str | None = None
    encoding: str = "utf-8"
    text_fields: list[str] = field(default_factory=lambda: ["text"])
    label_field: str | None = None
    id_field: str = "id"
    columns: list[str] | None = None


@dataclass
class TaskSources:
    train: SourceSpec
    test: SourceSpec
    dev: SourceSpec | None = None
    label_set: str | None = None  # one label per line; None = labels seen in train


@dataclass
class IngestParams:
    general: list[SourceSpec]
    domain: list[SourceSpec]
    task: TaskSources
    lexicons: dict[str, str] = param({}, help="name -> word list (word<TAB>... per line)")
    normalize: str = param("NFKC", help="Unicode normal form; empty string keeps text as is")
    unescape_html: bool = param(True, help="decode &gt; and friends (cMedTC has them)")
    min_chars: int = param(1, ge=1, help="drop documents shorter than this after normalisation")
    max_docs_per_source: int = param(0, ge=0, help="0 = all; profiles cap it for speed")
    dedup: bool = param(True, help="drop exact duplicates within each output")
    drop_leaked: bool = param(True, help="drop dev/test rows whose text is also in train")

    def check(self) -> list[str]:
        if not self.general:
            return ["general: at least one general-text source is required"]
        if not self.domain:
            return ["domain: at least one domain source is required"]
        return []
