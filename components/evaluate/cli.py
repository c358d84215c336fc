"""``dapt evaluate``: fine-tune every candidate x strategy x seed, compare, gate, register.

Outputs: ``--report`` (reports/evaluation.md), ``--plot`` (confusion matrix), ``--out-dir`` (per-class,
results.json, gate.json), ``--metrics`` (DVC metrics), ``--model-out`` (the best classifier).
With MLflow on, one parent run (the stage) holds a child run per fine-tuning run, and the best
candidate is registered with lineage tags and alias ``champion`` or ``challenger``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

from components.config import active_profile, load_section, read_params_file
from components.data.text import file_digest
from components.data.writers import atomic_dir, atomic_open, write_json
from components.errors import InputError, UsageError
from components.evaluate.params import EvaluateParams
from components.finetune.cli import add_task_arguments, load_task
from components.finetune.params import FinetuneParams


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--candidate", action="append", default=[], metavar="NAME=DIR",
        help="backbone folder (repeatable); replaces evaluate.candidates from params.yaml",
    )  # fmt: skip
    p.add_argument("--report", default="reports/evaluation.md")
    p.add_argument("--out-dir", default="reports/evaluation")
    p.add_argument("--plot", default="plots/evaluate_confusion.png", help="confusion matrix")
    p.add_argument("--metrics", default="metrics/evaluate.json")
    p.add_argument("--model-out", default="models/classifier", help="best fine-tuned model")
    p.add_argument("--stage", default="evaluate", help="dvc.yaml stage whose lineage is recorded")
    add_task_arguments(p)


def _candidates(args, ev: EvaluateParams) -> tuple[EvaluateParams, frozenset[str]]:
    if args.candidate:
        pairs = [c.split("=", 1) for c in args.candidate]
        if any(len(x) != 2 for x in pairs):
            raise UsageError("--candidate takes NAME=DIR")
        ev = dataclasses.replace(ev, candidates=dict(pairs))
        problems = ev.check()
        if problems:
            raise UsageError(f"evaluate.{problems[0]}")
    missing = {n for n, d in ev.candidates.items() if not (Path(d) / "config.json").exists()}
    for name in sorted(missing):
        msg = f"candidate {name!r}: {ev.candidates[name]} is not a checkpoint folder"
        if not ev.skip_missing or name == ev.baseline:
            raise InputError(ev.candidates[name], msg, "run the stage producing it or fix params")
        print(f"[evaluate] skipped {msg}", file=sys.stderr)
    return ev, frozenset(missing)


def run(args: argparse.Namespace) -> int:
    from components.evaluate import core

    ft: FinetuneParams = load_section("finetune", args.params)
    ev: EvaluateParams = load_section("evaluate", args.params)
    profile = active_profile(read_params_file(args.params))
    ev, skip = _candidates(args, ev)
    labels, train, dev, test = load_task(args)
    out_dir, model_out = Path(args.out_dir), Path(args.model_out)
    test_md5 = file_digest(args.test)
    meta = {
        "test": args.test, "test_rows": len(test), "test_md5": test_md5, "seeds": ev.seeds,
        "train_rows": min(len(train), ft.max_train_rows or len(train)), "profile": profile,
        "confusion": os.path.relpath(args.plot, Path(args.report).parent),
    }  # fmt: skip
    params = {"finetune": dataclasses.asdict(ft), "evaluate": dataclasses.asdict(ev)}
    inputs = [args.train, args.dev, args.test, args.labels]

    with _maybe_run(args, params, inputs, profile) as parent:
        with atomic_dir(model_out) as work:
            combos, best = core.run_matrix(
                ev, ft, labels, train, dev, test, work, _child_logger(parent), skip
            )
            if best is None:
                raise UsageError(
                    "evaluate: no classifier was evaluated on a candidate other than the control "
                    f"({ev.control!r}); add a candidate or a non-PET strategy"
                )
            best_tmp = work / "best"
            for item in best_tmp.iterdir():
                shutil.move(str(item), work / item.name)
            best_tmp.rmdir()
        pred = best.best_run.predictions
        report = core.per_class(test, pred, labels)
        core.confusion_plot(
            test, pred, labels, Path(args.plot),
            f"{best.key} seed {best.best_run.seed}: macro-F1 {best.best_run.macro_f1:.3f}",
        )  # fmt: skip
        results = {
            key: {"seed_macro_f1": [r.macro_f1 for r in c.runs], "seed_accuracy": [r.accuracy for r in c.runs]}
            for key, c in ((c.key, c) for c in combos)
        }  # fmt: skip
        write_json(out_dir / "per_class.json", report)
        write_json(out_dir / "results.json", {"meta": meta, "results": results})
        gate = _gate(args, ev, combos, best, test, test_md5, params, inputs, parent, model_out)
        write_json(out_dir / "gate.json", gate)
        with atomic_open(args.report) as f:
            f.write(core.report_markdown(combos, best, gate["reason"], report, meta))
        metrics = core.metrics_dict(combos, best)
        metrics["gate"] = {"promoted": gate["promote"], "alias": gate["alias"]}
        write_json(args.metrics, metrics)
        if parent is not None:
            import mlflow

            mlflow.log_metrics({f"{c.key}.macro_f1_mean": c.stat("macro_f1")[0] for c in combos})
            mlflow.log_artifact(args.report)
            mlflow.log_artifacts(str(out_dir), "evaluation")
            mlflow.log_artifact(args.plot, "evaluation")
    print(f"[evaluate] best {best.key}; {gate['reason']}")
    print(f"[evaluate] report: {args.report}")
    return 0


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _maybe_run(args, params, inputs, profile):
    if args.no_mlflow:
        return _Null()
    from components.tracking import stage_run

    return stage_run("evaluate", params, inputs=inputs, profile=profile)


def _child_logger(parent):
    if parent is None:
        return lambda combo, result: None
    import mlflow

    def log(combo, result) -> None:
        with mlflow.start_run(run_name=f"{combo.key}/seed{result.seed}", nested=True):
            mlflow.set_tags({"stage": "finetune", "candidate": combo.candidate, "strategy": combo.strategy})  # fmt: skip
            mlflow.log_params({"seed": result.seed, "shots": combo.shots, "best_step": result.best_step})  # fmt: skip
            mlflow.log_metrics(
                {"test_macro_f1": result.macro_f1, "test_accuracy": result.accuracy,
                 "dev_macro_f1": result.dev_macro_f1, "seconds": result.seconds}
            )  # fmt: skip
            for h in result.history:
                mlflow.log_metrics({"dev_macro_f1_curve": h["dev_macro_f1"], "train_loss": h["loss"]}, step=int(h["step"]))  # fmt: skip

    return log


def _gate(args, ev, combos, best, test, test_md5, params, inputs, parent, model_out) -> dict:
    from components.evaluate.gate import Scores, decide

    by = {(c.candidate, c.strategy): c for c in combos}

    def scores(c):
        return None if c is None else Scores(c.key, [r.macro_f1 for r in c.runs], [r.predictions for r in c.runs])  # fmt: skip

    cand = scores(best)
    baseline = scores(by.get((ev.baseline, best.strategy)))
    control = scores(by.get((ev.control, best.strategy))) if ev.control else None
    reference, note = baseline, "first run: compared with the baseline"
    if parent is not None:
        from mlflow import MlflowClient

        from components.evaluate import registry

        mv = registry.champion(MlflowClient(), ev.gate.registered_model)
        if mv is not None:
            champ, note = registry.champion_scores(MlflowClient(), mv, test_md5)
            reference = champ or baseline
            if champ is not None:
                note = f"current champion v{mv.version}"
    decision = decide(cand, reference, control, ev.gate, test.labels, note)
    out = {"candidate": best.key, **dataclasses.asdict(decision), "registered": False}
    if parent is not None:
        tags = _lineage_tags(args, ev, best, cand, test_md5, params, inputs)
        version = registry.register(
            model_out, ev.gate.registered_model, tags, decision,
            {"predictions": cand.predictions, "test_md5": test_md5},
        )  # fmt: skip
        out.update(registered=True, version=version, model=ev.gate.registered_model)
        print(f"[evaluate] registered {ev.gate.registered_model} v{version} as {decision.alias}")
    return out


def _lineage_tags(args, ev, best, cand, test_md5, params, inputs) -> dict:
    import mlflow

    from components.evaluate.lineage import flatten, stage_lineage
    from components.tracking import git_commit, project_root

    root = project_root()
    extra = [*inputs, ev.candidates[best.candidate], ev.candidates[ev.baseline]]
    tree = stage_lineage(root, args.stage, extra)
    mlflow.log_dict(tree, "lineage/lineage.json")
    mlflow.log_dict(params, "lineage/params.json")
    commit, dirty = git_commit(root)
    summary = Path("reports/validation/summary.json")
    tags = {
        "candidate": best.candidate,
        "strategy": best.strategy,
        "seed": best.best_run.seed,
        "git_commit": commit,
        "git_dirty": str(dirty).lower(),
        "base_model": ev.base_model_id or ev.candidates[ev.baseline],
        "backbone": ev.candidates[best.candidate],
        "validation_report": "reports/validation/index.html",
        "validation_summary_md5": file_digest(str(summary)) if summary.exists() else "",
        "params.finetune": json.dumps(params["finetune"], ensure_ascii=False, sort_keys=True),
        "params.evaluate": json.dumps(params["evaluate"], ensure_ascii=False, sort_keys=True),
        "gate.test_md5": test_md5,
        "gate.seed_macro_f1": json.dumps(cand.macro_f1),
        "gate.mean_macro_f1": f"{cand.mean:.4f}",
        "lineage.stage": args.stage,
    }
    tags.update({f"dvc:{path}": md5 for path, md5 in flatten(tree).items()})
    return tags
