"""Stages whose input is absent in this project's shape still write their outputs: a folder
holding only ``SKIPPED.json`` with the reason, so the stage graph is the same for every project
and every later stage (and the run summary) can say why something is missing."""

from __future__ import annotations

import json
import os
from pathlib import Path

from components.data.shards import is_empty  # noqa: F401 - re-exported: stages check here
from components.data.writers import write_json

MARKER = "SKIPPED.json"


def mark_skipped(folder: str | os.PathLike, stage: str, reason: str) -> None:
    write_json(Path(folder) / MARKER, {"stage": stage, "skipped": True, "reason": reason})


def skipped_reason(folder: str | os.PathLike) -> str | None:
    """The reason a folder was left empty by a skipped stage, or None when it is a real output."""
    marker = Path(folder) / MARKER
    if not marker.is_file():
        return None
    return str(json.loads(marker.read_text(encoding="utf-8")).get("reason", "skipped"))


def placeholder_plot(path: str | os.PathLike, text: str) -> None:
    """A plot output DVC expects, saying why there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, wrap=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
