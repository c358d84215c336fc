"""``dapt <command>``: a thin dispatcher; each stage's CLI lives in ``components/<stage>/cli.py``.

A stage module provides ``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen
command's module is imported, so ``dapt validate`` never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from components.errors import FAILURES, ConfigError, InputError, UsageError

UNEXPECTED = 3  # exit code of an unexpected error (1: bad input, 2: bad parameters or usage)

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "params": ("components.params_cli", "check params.yaml, show resolved values, switch profile"),
    "push": ("components.push_cli", "push DVC outputs to the remote (DAPT_DVC_REMOTE overrides)"),
    "ingest": ("components.ingest.cli", "normalise bundled/raw inputs into canonical JSONL"),
    "validate": ("components.validate.cli", "run the data-quality suites (exit 0 pass, 1 fail)"),
    "decontaminate": (
        "components.decontaminate.cli",
        "remove the task's dev/test texts from every pretraining text",
    ),
    "tokenizer": ("components.tokenizer.cli", "train a WordPiece tokenizer or extend a vocabulary"),
    "vocab-only": (
        "components.tokenizer.vocab_only",
        "the vocabulary-only candidate: extended tokenizer, no pretraining",
    ),
    "pretrain": ("components.pretrain.cli", "masked-LM continued pretraining (general/DAPT/TAPT)"),
    "mine": ("components.mine.cli", "select in-domain documents from a general pool (auditable)"),
    "newwords": (
        "components.newwords.cli",
        "discover domain terms (PMI + neighbour entropy + log-odds)",
    ),
    "finetune": ("components.finetune.cli", "fine-tune every candidate x strategy x seed"),
    "compare": ("components.compare.cli", "tables, perplexities and the choice on dev"),
    "register": ("components.register.cli", "gate on test (paired intervals), MLflow registry"),
    "distill": ("components.distill.cli", "distil the gated classifier into a smaller student"),
    "lineage": ("components.evaluate.lineage_cli", "show a registered model's input chain"),
    "report": ("components.report.cli", "write the static run report reports/index.html"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: dapt <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "dapt <command> --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"dapt: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    parser = argparse.ArgumentParser(prog=f"dapt {command}", description=COMMANDS[command][1])
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    from components.lineage.emit import StageRun

    lineage = StageRun.for_command(command, rest)  # None unless DVC runs this as a stage
    if lineage:
        lineage.start()
    code, error = _dispatch(module, args)
    if lineage:
        lineage.end(code, error)
    return code


def _dispatch(module, args: argparse.Namespace) -> tuple[int, str | None]:
    """(exit code, the error message shown) of one command."""
    try:
        code = int(module.run(args) or 0)
        return code, (FAILURES[-1] if code and FAILURES else None)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1, str(exc)
    except (ConfigError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, str(exc)
    except OSError as exc:
        # Writers map their own failures (components/data/outputs.py); this catches the rest
        # that a user can fix: a full disk, a read-only or unreadable path.
        err = _os_error(exc)
        if err is None:
            traceback.print_exc()
            return UNEXPECTED, f"{type(exc).__name__}: {exc}"
        print(f"error: {err}", file=sys.stderr)
        return 1, str(err)
    except Exception as exc:
        # Not the user's input (a bug, or a transient fault: network, disk): exit 3, not Python's
        # 1, so orchestrators retry this and never retry exits 1 and 2 (components/orchestration/
        # runner.py).
        traceback.print_exc()
        return UNEXPECTED, f"{type(exc).__name__}: {exc}"


def _os_error(exc: OSError) -> InputError | None:
    import errno

    from components.data.outputs import NO_SPACE, shown, write_error

    if exc.errno in NO_SPACE:
        return write_error(exc, exc.filename or ".")
    if exc.filename is None or exc.errno not in {errno.EACCES, errno.EPERM, errno.EROFS}:
        return None
    path = shown(exc.filename)
    return InputError(
        path,
        f"{exc.strerror}: this user cannot access it (or the filesystem is read-only)",
        f"give this user access (ls -ld {path}; chmod u+rw {path}, or the folder holding it), "
        "then run again",
    )


if __name__ == "__main__":
    sys.exit(main())
