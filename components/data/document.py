"""The record every stage passes around."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Document:
    id: str
    text: str
    label: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"id": self.id, "text": self.text}
        if self.label is not None:
            row["label"] = self.label
        if self.metadata:
            row["metadata"] = self.metadata
        return row
