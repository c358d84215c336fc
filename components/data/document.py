"""The record every stage passes around."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


# The metadata key a reader adds: the line the row was read from. It says where the document
# was, not what it is, so outputs leave it out: they do not depend on how their input was laid
# out (one file, or a folder of shards whose lines each reader may count differently).
POSITION = "line"


@dataclass(slots=True)
class Document:
    id: str
    text: str
    label: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def stored_metadata(self) -> dict[str, Any]:
        """The metadata an output keeps: all but the reader's ``POSITION``."""
        return {k: v for k, v in self.metadata.items() if k != POSITION}

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"id": self.id, "text": self.text}
        if self.label is not None:
            row["label"] = self.label
        meta = self.stored_metadata()
        if meta:
            row["metadata"] = meta
        return row
