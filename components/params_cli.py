"""``dapt params``: validate params.yaml, print resolved sections, or switch the active profile."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import yaml

from components.config import PROFILES, load_all
from components.data.writers import atomic_open
from components.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--file", default="params.yaml")
    p.add_argument("--profile", choices=PROFILES, help="resolve with this profile instead")
    p.add_argument("--set-profile", choices=PROFILES, help="write this profile into params.yaml")


def set_profile(path: Path, profile: str) -> None:
    """Rewrite only the ``profile:`` line so comments and layout survive."""
    text = path.read_text(encoding="utf-8")
    new, n = re.subn(r"(?m)^profile:.*$", f"profile: {profile}", text, count=1)
    if n == 0:
        raise ConfigError(f"{path}: no top-level 'profile:' line to switch")
    with atomic_open(path) as f:
        f.write(new)


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if args.set_profile:
        set_profile(path, args.set_profile)
    resolved = load_all(path, profile=args.profile)
    if not args.set_profile:
        print(
            yaml.safe_dump(
                {k: dataclasses.asdict(v) for k, v in resolved.items()},
                allow_unicode=True,
                sort_keys=False,
            )
        )
    else:
        print(f"profile: {args.set_profile} ({path})")
    return 0
