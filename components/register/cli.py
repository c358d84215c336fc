"""``dapt register``: gate the choice of ``compare`` on the test set (paired intervals), copy
the chosen model to ``--out`` and register it in MLflow with its lineage and alias."""

from __future__ import annotations

import argparse
from pathlib import Path

from components.config import active_profile, load_section, read_params_file
from components.data.outputs import OutputSet
from components.data.writers import write_json
from components.register.stage import Paths, run_stage
from components.tracking import tracked


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", default="models/finetune")
    p.add_argument("--evaluation", default="reports/evaluation", help="compare's output folder")
    p.add_argument("--task", default="data/ingested/task")
    p.add_argument("--decontamination", default="metrics/decontaminate.json")
    p.add_argument("--out", default="models/classifier", help="the chosen model (replaced)")
    p.add_argument("--gate", default="reports/gate.json", help="the decision, as JSON")
    p.add_argument("--stage", default="register", help="dvc.yaml stage whose lineage is recorded")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--no-mlflow", action="store_true", help="decide, but register nothing")


def run(args: argparse.Namespace) -> int:
    domain = load_section("domain", args.params)
    ev = load_section("evaluate", args.params)
    profile = active_profile(read_params_file(args.params))
    track = not args.no_mlflow
    with (
        tracked("register", ev.gate, inputs=[args.gate], profile=profile, enabled=track) as t,
        OutputSet() as outs,  # the model and the decision change together
    ):
        paths = Paths(
            Path(args.runs), Path(args.evaluation), Path(args.task), outs.dir(args.out),
            Path(args.decontamination),
        )  # fmt: skip
        gate = run_stage(domain, ev, paths, track, args.stage)
        t.metrics({"promoted": float(gate.get("promote", False))})
        write_json(outs.file(args.gate), gate)
    print(f"[register] {gate.get('reason')}")
    return 0
