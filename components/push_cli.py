"""``dapt push``: send DVC-tracked outputs to the remote; ``DAPT_DVC_REMOTE`` overrides it, loudly."""

from __future__ import annotations

import argparse
import subprocess

from components.remote import env_remote


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", help="stages or paths (default: everything)")


def push_command(targets: list[str]) -> list[str]:
    """The `dvc push` command line; registers the override remote in .dvc/config.local if set."""
    name = env_remote(announce=True)
    return ["dvc", "push", *(["-r", name] if name else []), *targets]


def run(args: argparse.Namespace) -> int:
    return subprocess.run(push_command(args.targets)).returncode
