"""The mining stage behind ``dapt mine`` (components/mine/cli.py parses): resolve the params
with the command-line budget, skip when the project has no seed corpus, mine, write the
selection, audit, metrics and plot together, log the MLflow run."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from components.config import load_section, with_derived
from components.domain import domain_lang, project_shape
from components.errors import UsageError
from components.mine.params import MineParams
from components.stagerun import check_inputs, stage_tracking


def resolve_params(args: argparse.Namespace) -> MineParams:
    params: MineParams = load_section("mine", args.params)
    params = with_derived(params, lang=domain_lang(args.params, args.lang))
    changes: dict = {}
    if args.method:
        changes["method"] = args.method
    if args.workers is not None:
        if args.workers < 0:
            raise UsageError("--workers must be >= 0")
        changes["workers"] = args.workers
    if args.top_n is not None or args.fraction is not None or args.threshold is not None:
        if args.top_n is not None and args.top_n < 1:
            raise UsageError("--top-n must be >= 1")
        if args.fraction is not None and not 0 < args.fraction <= 1:
            raise UsageError("--fraction must be in (0, 1]")
        changes.update(top_n=args.top_n or 0, fraction=args.fraction or 0.0)
        changes["threshold"] = args.threshold
    params = dataclasses.replace(params, **changes)
    for problem in params.check():
        raise UsageError(f"mine.{problem}")
    return params


def run(args: argparse.Namespace) -> int:
    from components.data.outputs import OutputSet
    from components.data.writers import write_json
    from components.mine.core import mine

    params = resolve_params(args)
    check_inputs(args, [*args.seed, *args.pool])
    from components.data.skip import is_empty

    shape = project_shape(args.params)
    if shape is not None and not shape.corpus and all(is_empty(p) for p in args.seed):
        return skip(args, "no domain corpus in this project (domain.corpus is empty): no seed")
    for p in (*args.seed, *args.pool):
        if Path(p).resolve() == Path(args.out).resolve():
            raise UsageError(f"--out {args.out} is an input")
    from components.execution import load_execution

    engine, ex = load_execution(args.params)
    with OutputSet() as outs:  # selection, audit, metrics and plot change together
        metrics = mine(
            args.seed,
            args.pool,
            outs.dir(args.out),
            params,
            plot=outs.file(args.plot) if args.plot else None,
            progress=not args.no_progress,
            engine=engine,
            batch_docs=ex.ray_batch_docs,
            shards=ex.shards,
        )
        write_json(outs.file(args.metrics), metrics)
    d = {k: v for k, v in metrics["dropped"].items() if v}
    print(
        f"[mine] {params.method}: selected {metrics['selected_docs']} of {metrics['pool_docs']} "
        f"pool documents ({metrics['clean_docs']} clean; dropped {d or 'none'}); "
        f"score pass {metrics['throughput_mb_s']['score_pass']} MB/s -> {args.out}"
    )
    with stage_tracking("mine", params, args, [*args.seed, *args.pool]) as t:
        flat = {
            "pool_docs": metrics["pool_docs"],
            "clean_docs": metrics["clean_docs"],
            "selected_docs": metrics["selected_docs"],
            "selected_bytes": metrics["selected_bytes"],
            "peak_rss_mb": metrics["peak_rss_mb"],
            "dropped": metrics["dropped"],
            "mb_s": metrics["throughput_mb_s"],
        }
        t.metrics(flat)
        t.artifact(args.metrics)
        if args.plot:
            t.artifact(args.plot)
    return 0


def skip(args: argparse.Namespace, reason: str) -> int:
    """Empty outputs that say why (a task-only project mines nothing)."""
    from components.data.outputs import OutputSet
    from components.data.skip import mark_skipped, placeholder_plot
    from components.data.writers import write_json

    with OutputSet() as outs:
        tmp = outs.dir(args.out)
        for name in ("selected.jsonl", "scores.jsonl"):
            (tmp / name).write_bytes(b"")
        mark_skipped(tmp, "mine", reason)
        write_json(outs.file(args.metrics), {"skipped": True, "reason": reason})
        if args.plot:
            placeholder_plot(outs.file(args.plot), f"mining skipped: {reason}")
    print(f"[mine] skipped: {reason}")
    return 0
