"""``dapt validate``: run the suites on given files; exit 0 pass, 1 fail, 2 usage error.

Fails closed: on failure nothing is written to the manifest, so downstream stages refuse to run,
and the previous manifest (the last good validation) is kept.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ingested",
        metavar="DIR",
        help="validate the ingest layout in DIR (every part this project's shape has)",
    )
    p.add_argument(
        "--corpus",
        action="append",
        default=[],
        metavar="FILE",
        help="unlabeled corpus (repeatable)",
    )
    p.add_argument("--task-train", metavar="FILE")
    p.add_argument("--task-dev", metavar="FILE")
    p.add_argument("--task-test", metavar="FILE")
    p.add_argument(
        "--labels", metavar="FILE", help="declared label set, one per line (default: train labels)"
    )
    p.add_argument("--lang", choices=["zh", "en"], help="script checked by the script-ratio check")
    p.add_argument(
        "--encoding", default="utf-8", help="input encoding, e.g. gb18030 (default utf-8)"
    )
    p.add_argument(
        "--format", choices=["jsonl", "txt", "tsv", "csv"], help="default: from the file name"
    )
    p.add_argument(
        "--text-field", default="text", help="text field/column (comma-separated for several)"
    )
    p.add_argument("--label-field", default="label")
    p.add_argument(
        "--report", default="reports/validation", help="folder for summary + HTML + Data Docs"
    )
    p.add_argument(
        "--failed-report",
        metavar="DIR",
        help="on failure, write the report here and leave --report, --metrics and --manifest "
        "as they were (the last good validation; the DVC stage sets this)",
    )
    p.add_argument("--manifest", help="on success, record validated files and digests here")
    p.add_argument("--metrics", help="small JSON of headline numbers (DVC metrics)")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--no-docs", action="store_true", help="skip GX Data Docs (faster)")
    p.add_argument("--no-mlflow", action="store_true")


def run(args: argparse.Namespace) -> int:
    from components.validate.stage import run as run_stage

    return run_stage(args)
