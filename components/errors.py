"""Errors a user can act on: each names the file, where in it, what is wrong and the fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class InputError(Exception):
    """Bad input. Rendered as one readable paragraph by the CLI (exit code 1)."""

    path: str
    problem: str
    fix: str = ""
    line: int | None = None
    byte_offset: int | None = None
    field: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f", line {self.line}"
        if self.byte_offset is not None:
            where += f" (byte offset {self.byte_offset})"
        if self.field is not None:
            where += f", field {self.field!r}"
        msg = f"{where}: {self.problem}"
        if self.fix:
            msg += f"\n  fix: {self.fix}"
        return msg


class ConfigError(ValueError):
    """A parameter is unknown, of the wrong type or out of range; the message names the key."""


class UsageError(ValueError):
    """The command line is inconsistent (exit code 2)."""


# What a command that fails without raising (a data gate that found bad rows: exit 1 after its
# report) said about it: the stage's OpenLineage FAIL event carries it (components/cli.py).
FAILURES: list[str] = []


def failed(message: str, code: int = 1) -> int:
    FAILURES.append(message)
    return code
