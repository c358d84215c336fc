"""``dapt report``: write the static offline run report (default reports/index.html)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="reports/index.html")
    p.add_argument("--root", default=".", help="project root whose outputs are summarised")


def run(args: argparse.Namespace) -> int:
    from components.report.core import write_report

    return write_report(Path(args.root), Path(args.out))
