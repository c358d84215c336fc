"""The active profile: ``profile.yaml`` beside params.yaml, untracked by git and tracked by DVC as
a params file (components/config.py reads it). Written by ``dapt params --set-profile`` and by the
orchestration before a stage runs."""

from __future__ import annotations

import os
from pathlib import Path

from components.config import PROFILES, active_profile, profile_file, read_params_file
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
