"""``dapt report``: write the static offline run report (default reports/index.html)."""

from __future__ import annotations

import argparse
from pathlib import Path

from components.data.writers import atomic_open


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="reports/index.html")
    p.add_argument("--root", default=".", help="project root whose outputs are summarised")


def run(args: argparse.Namespace) -> int:
    from components.report.core import build

    images: dict[str, bytes] = {}
    page, skipped = build(Path(args.root), images)
    for name, png in images.items():  # beside the page: linkable, and kept by DVC as an out
        with atomic_open(Path(args.out).parent / name, "wb") as f:
            f.write(png)
    with atomic_open(args.out) as f:
        f.write(page)
    print(f"[report] {args.out}" + (f" (no data for: {', '.join(skipped)})" if skipped else ""))
    return 0
