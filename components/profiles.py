"""The active profile: ``profile.yaml`` beside params.yaml, untracked by git and tracked by DVC as
a params file (components/config.py reads it). Written by ``dapt params --set-profile`` and by the
orchestration before a stage runs. ``params_command`` is ``dapt params`` (components/params_cli.py
parses)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import yaml

from components.config import PROFILES, active_profile, load_all, profile_file, read_params_file
from components.data.writers import atomic_open
from components.errors import ConfigError


def write_profile(params_path: str | os.PathLike, profile: str) -> Path:
    """Make ``profile`` the active one: profile.yaml beside ``params_path``. params.yaml is not
    touched, so git stays clean and a run's ``git_dirty`` tag means changed code or params."""
    if profile not in PROFILES:
        raise ConfigError(f"profile: {profile!r} is not one of {', '.join(PROFILES)}")
    path = profile_file(params_path)
    with atomic_open(path) as f:
        f.write(
            "# The active profile (dapt params --set-profile NAME). Untracked by git, tracked by\n"
            "# DVC as a params file: switching it re-runs the stages whose values change.\n"
            f"profile: {profile}\n"
        )
    return path


def ensure_profile_file(params_path: str | os.PathLike) -> str | None:
    """Write profile.yaml with params.yaml's default profile when it is missing (DVC refuses to
    run a stage whose params file does not exist); returns the profile written, else None."""
    if profile_file(params_path).exists():
        return None
    profile = active_profile(read_params_file(params_path))
    write_profile(params_path, profile)
    return profile


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


def params_command(
    path: Path,
    *,
    profile: str | None,
    set_profile: str | None,
    init_profile: bool,
    schema: str | None = None,
) -> int:
    """Check params.yaml in every profile and print the resolved sections (``profile``: resolve
    with this one instead of the active one), switch or initialise the active profile, or write
    the JSON schema of params.yaml to ``schema`` (``-``: stdout)."""
    if schema:
        write_schema(schema)
        return 0
    if init_profile:
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
    if set_profile:
        where = write_profile(path, set_profile)
        print(f"profile: {set_profile} ({where})")
        return 0
    resolved = load_all(path, profile=profile)
    print(
        yaml.safe_dump(
            {k: dataclasses.asdict(v) for k, v in resolved.items()},
            allow_unicode=True,
            sort_keys=False,
        )
    )
    return 0


def write_schema(target: str) -> None:
    """The JSON schema of params.yaml (components/params_schema.py) to a file or stdout."""
    import json
    import sys

    from components.params_schema import params_schema

    text = json.dumps(params_schema(), indent=2, ensure_ascii=False) + "\n"
    if target == "-":
        sys.stdout.write(text)
        return
    with atomic_open(target) as f:
        f.write(text)
    print(f"schema: {target}", file=sys.stderr)
