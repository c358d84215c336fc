"""``dapt params``: validate params.yaml, print resolved sections, or switch the active profile."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import yaml

from components.config import PROFILES, load_all, read_params_file
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


def missing_tracked_keys(params: dict, dvc_yaml: Path) -> list[str]:
    """Keys dvc.yaml tracks as stage parameters that params.yaml does not hold (DVC would stop
    on them at `dvc repro`; here the user learns it before any stage runs)."""
    if not dvc_yaml.exists():
        return []
    stages = (yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages") or {}
    missing = []
    for stage in stages.values():
        for entry in (stage or {}).get("params") or []:
            for key in [entry] if isinstance(entry, str) else []:
                node = params
                for part in key.split("."):
                    node = node.get(part, ...) if isinstance(node, dict) else ...
                if node is ... and key not in missing:
                    missing.append(key)
    return missing


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if args.set_profile:
        set_profile(path, args.set_profile)
    missing = missing_tracked_keys(read_params_file(path), path.parent / "dvc.yaml")
    if missing:
        raise ConfigError(
            f"{missing[0]}: missing from {path}, but dvc.yaml tracks it as a stage parameter "
            f"(all missing: {', '.join(missing)}); write it out, e.g. with its default from "
            "`dapt params --file` of the project's own params.yaml"
        )
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
