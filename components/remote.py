"""The DVC remote an environment names: ``DAPT_DVC_REMOTE`` (a URL) overrides the project's.

One place for the override, used by ``dapt push``, the orchestration runner (push and pull in
tasks) and pods: the URL is registered as a named remote in ``.dvc/config.local`` (never in the
tracked config) and that name is what DVC is given; DVC's ``remote=`` takes names, not URLs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ENV = "DAPT_DVC_REMOTE"
OVERRIDE = "dapt-env-override"


def env_remote(
    root: str | Path = ".", *, default: bool = False, announce: bool = False
) -> str | None:
    """The name to pass to DVC when ``DAPT_DVC_REMOTE`` is set (registered first), else None
    (DVC uses the project's default remote). ``default``: also make it the local default, for
    DVC commands that take no remote argument."""
    url = os.environ.get(ENV)
    if not url:
        return None
    if announce:
        print(f"[push] {ENV}={url} overrides the default DVC remote", file=sys.stderr)
    args = ["dvc", "remote", "add", "--local", "--force", *(["--default"] if default else [])]
    subprocess.run([*args, OVERRIDE, url], cwd=root, check=True, capture_output=True)
    return OVERRIDE
