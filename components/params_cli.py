"""``dapt params``: validate params.yaml in every profile, print the resolved sections, or switch
the active profile (profile.yaml: untracked by git, tracked by DVC; components/config.py)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import yaml

from components.config import PROFILES, load_all, profile_file, read_params_file
from components.errors import ConfigError
from components.profiles import ensure_profile_file, write_profile


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--file", default="params.yaml")
    p.add_argument("--profile", choices=PROFILES, help="resolve with this profile instead")
    p.add_argument(
        "--set-profile", choices=PROFILES, help="make this profile the active one (profile.yaml)"
    )
    p.add_argument(
        "--init-profile",
        action="store_true",
        help="write profile.yaml with params.yaml's default profile unless it exists",
    )


def validate_every_profile(path: Path) -> None:
    """Each profile's overrides are checked, not only the active one's: a typo under ``full``
    must fail on the laptop that runs ``smoke``, not on the GPU node."""
    problems = []
    for profile in PROFILES:
        try:
            load_all(path, profile=profile)
        except ConfigError as exc:
            problems.append(f"[profile {profile}] {exc}")
    if problems:
        raise ConfigError("\n".join(problems))


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
    if args.init_profile:
        written = ensure_profile_file(path)
        where = profile_file(path)
        print(f"profile: {written} ({where}, new)" if written else f"{where} exists: kept")
        return 0
    missing = missing_tracked_keys(read_params_file(path), path.parent / "dvc.yaml")
    if missing:
        raise ConfigError(
            f"{missing[0]}: missing from {path}, but dvc.yaml tracks it as a stage parameter "
            f"(all missing: {', '.join(missing)}); write it out, e.g. with its default from "
            "`dapt params --file` of the project's own params.yaml"
        )
    validate_every_profile(path)
    if args.set_profile:
        where = write_profile(path, args.set_profile)
        print(f"profile: {args.set_profile} ({where})")
        return 0
    resolved = load_all(path, profile=args.profile)
    print(
        yaml.safe_dump(
            {k: dataclasses.asdict(v) for k, v in resolved.items()},
            allow_unicode=True,
            sort_keys=False,
        )
    )
    return 0
