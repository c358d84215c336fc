"""``dapt params``: validate params.yaml in every profile, print the resolved sections, switch
the active profile (profile.yaml: untracked by git, tracked by DVC; components/config.py), or
write the JSON schema of params.yaml for an editor (``--schema``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from components.config import PROFILES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--file", default="params.yaml")
    p.add_argument("--profile", choices=PROFILES, help="resolve with this profile instead")
    p.add_argument(
        "--set-profile", choices=PROFILES, help="make this profile the active one (profile.yaml)"
    )
    p.add_argument(
        "--schema",
        metavar="FILE",
        help="write the JSON schema of params.yaml to FILE (- for stdout) for an editor, and exit",
    )
    p.add_argument(
        "--init-profile",
        action="store_true",
        help="write profile.yaml with params.yaml's default profile unless it exists",
    )


def run(args: argparse.Namespace) -> int:
    from components.profiles import params_command

    return params_command(
        Path(args.file),
        profile=args.profile,
        set_profile=args.set_profile,
        init_profile=args.init_profile,
        schema=args.schema,
    )
