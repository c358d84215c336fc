"""``dapt push``: send DVC-tracked outputs to the remote; ``DAPT_DVC_REMOTE`` overrides it, loudly."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

OVERRIDE = "dapt-env-override"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", help="stages or paths (default: everything)")


def push_command(targets: list[str]) -> list[str]:
    """The `dvc push` command line; registers the override remote in .dvc/config.local if set."""
    url = os.environ.get("DAPT_DVC_REMOTE")
    if not url:
        return ["dvc", "push", *targets]
    print(f"[push] DAPT_DVC_REMOTE={url} overrides the default DVC remote", file=sys.stderr)
    subprocess.run(
        ["dvc", "remote", "add", "--local", "-f", OVERRIDE, url], check=True, capture_output=True
    )
    return ["dvc", "push", "-r", OVERRIDE, *targets]


def run(args: argparse.Namespace) -> int:
    return subprocess.run(push_command(args.targets)).returncode
