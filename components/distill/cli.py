"""``dapt distill``: distil the classifier the gate left into a shallower student, gate the
student against its teacher on test, register it as ``<classifier>-small`` (docs/distill.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from components.config import active_profile, load_section, read_params_file
from components.data.outputs import OutputSet
from components.data.writers import write_json
from components.distill.stage import Paths, run_stage
from components.tracking import tracked


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gate", default="reports/gate.json", help="register's decision")
    p.add_argument("--classifier", default="models/classifier", help="register's chosen model")
    p.add_argument("--task", default="data/ingested/task")
    p.add_argument("--unlabeled", nargs="*", default=[], help="JSONL texts for soft targets only")
    p.add_argument("--out", default="models/student", help="the student (replaced)")
    p.add_argument("--report", default="reports/distill.json", help="teacher vs student, as JSON")
    p.add_argument("--stage", default="distill", help="dvc.yaml stage whose lineage is recorded")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--no-mlflow", action="store_true", help="distil and gate, register nothing")


def run(args: argparse.Namespace) -> int:
    domain = load_section("domain", args.params)
    ft = load_section("finetune", args.params)
    ev = load_section("evaluate", args.params)
    p = load_section("distill", args.params)
    profile = active_profile(read_params_file(args.params))
    track = not args.no_mlflow and domain.task is not None and p.enabled
    with (
        tracked("distill", p, inputs=[args.gate], profile=profile, enabled=track) as t,
        OutputSet() as outs,  # the student and its report change together
    ):
        paths = Paths(
            Path(args.gate), Path(args.classifier), Path(args.task),
            [Path(u) for u in args.unlabeled], outs.dir(args.out),
        )  # fmt: skip
        client = None
        if track:
            from mlflow import MlflowClient

            client = MlflowClient()
        report = run_stage(domain, ft, p.seeds or ev.seeds, p, paths, client, args.stage)
        if "student" in report:
            t.metrics({
                "student.macro_f1": report["student"]["macro_f1"],
                "teacher.macro_f1": report["teacher"]["macro_f1"],
                "registered": float(report["registered"]),
            })  # fmt: skip
        write_json(outs.file(args.report), report)
    print(f"[distill] {report['reason']}")
    return 0
