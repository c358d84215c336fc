"""``dapt compare``: tables and plots of the fine-tuning runs, held-out perplexity of every
candidate, and the combination to register, chosen on dev (``--out-dir``/choice.json)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from components.compare.stage import Inputs, run_stage
from components.config import active_profile, load_section, read_params_file
from components.data.outputs import OutputSet
from components.data.writers import write_json
from components.tracking import tracked


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", default="models/finetune", help="the finetune stage's output")
    p.add_argument("--task", default="data/ingested/task")
    p.add_argument("--shape", default="data/ingested/shape.json")
    p.add_argument("--domain-text", action="append", default=[], help="held-out domain text")
    p.add_argument("--general-text", action="append", default=[], help="held-out general text")
    p.add_argument("--lexicon", help="whole-word units for the perplexity masks (zh)")
    p.add_argument("--report", default="reports/evaluation.md")
    p.add_argument("--out-dir", default="reports/evaluation")
    p.add_argument("--plot", default="plots/evaluate_confusion.png")
    p.add_argument("--metrics", default="metrics/evaluate.json")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--no-mlflow", action="store_true")


def run(args: argparse.Namespace) -> int:
    domain = load_section("domain", args.params)
    ev = load_section("evaluate", args.params)
    pre = load_section("pretrain", args.params)
    profile = active_profile(read_params_file(args.params))
    shape_file = Path(args.shape)
    shape = (
        json.loads(shape_file.read_text("utf-8"))
        if shape_file.is_file()
        else {"shape": domain.shape.name, "corpus": domain.shape.corpus, "task": domain.shape.task}
    )
    with OutputSet() as outs:  # tables, report, plot and metrics change together
        inp = Inputs(
            Path(args.runs), Path(args.task), shape,
            args.domain_text, args.general_text, args.lexicon,
            min(pre.dapt.eval_fraction, pre.tapt.eval_fraction), outs.dir(args.out_dir),
            outs.file(args.report), outs.file(args.plot), profile,
        )  # fmt: skip
        metrics = run_stage(domain, ev.candidates, ev.control, inp)
        write_json(outs.file(args.metrics), metrics)
    print(f"[compare] chosen on dev: {json.dumps(metrics['choice'])}")
    print(f"[compare] report: {args.report}")
    with tracked("compare", ev, inputs=[], profile=profile, enabled=not args.no_mlflow) as t:
        t.metrics({k: v for k, v in metrics.items() if k != "choice"})
        t.artifact(Path(args.report))
        t.artifact(Path(args.out_dir), "evaluation")
    return 0
