"""The ``distill`` stage: pick the teacher the gate left, distil it, gate the student against it,
register the student as ``<classifier>-small`` with its teacher's version in its tags.

Which teacher: the model ``register`` promoted this run; when it promoted nothing, the current
champion (from the registry); when there is no champion (nothing ever promoted, or MLflow off),
the dev-chosen candidate that ``register`` copied to models/classifier. A student of a teacher
that is not the champion can be registered as ``challenger`` at most: a small model is never
served ahead of its own teacher. A student that loses more than ``max_loss`` macro-F1 against its
teacher on test is not registered at all.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from components.config import load_section
from components.data.outputs import OutputSet
from components.data.shards import read_documents
from components.data.skip import is_empty, mark_skipped, skipped_reason
from components.data.text import file_digest
from components.data.writers import write_json
from components.distill import core
from components.distill.params import DistillParams
from components.domain import DomainParams
from components.finetune.data import read_split, stratified_sample
from components.finetune.params import FinetuneParams
from components.stagerun import stage_tracking


@dataclass
class Paths:
    gate: Path  # reports/gate.json
    classifier: Path  # models/classifier: the model register decided on
    task: Path
    unlabeled: list[Path]
    out: Path  # the student (a fresh folder)


@dataclass
class Teacher:
    folder: Path
    model: str
    version: str | None
    role: str  # champion | challenger | unregistered
    note: str


def choose_teacher(gate: dict, classifier: Path, champion: tuple[str, Path] | None) -> Teacher:
    """The policy of the module docstring; ``champion`` is (version, folder) of the registry's
    current champion, or None."""
    name = gate.get("model", "")
    if gate.get("promote") and gate.get("registered"):
        return Teacher(
            classifier, name, str(gate["version"]), "champion",
            f"{gate['candidate']} v{gate['version']}, promoted to champion this run",
        )  # fmt: skip
    if champion is not None:
        return Teacher(
            champion[1], name, champion[0], "champion",
            f"this run's {gate.get('candidate')} was not promoted: the current champion "
            f"v{champion[0]} is distilled",
        )  # fmt: skip
    role = "challenger" if gate.get("registered") else "unregistered"
    version = str(gate["version"]) if gate.get("registered") else None
    return Teacher(
        classifier, name, version, role,
        f"no champion: the dev-chosen candidate {gate.get('candidate')} ({role}) is distilled; "
        "its student can be a challenger at most",
    )  # fmt: skip


def decide(teacher_f1: float, student_f1: list[float], max_loss: float, teacher_role: str):
    """(register, alias, reason): within ``max_loss`` macro-F1 of the teacher (mean over the
    student's seeds, the teacher's registered checkpoint on the same test set) or nothing."""
    from components.evaluate.gate import Decision

    mean = float(np.mean(student_f1))
    loss = teacher_f1 - mean
    within = loss <= max_loss
    alias = "champion" if within and teacher_role == "champion" else "challenger"
    text = (
        f"student macro-F1 {mean * 100:.2f} (mean of {len(student_f1)} seeds) vs teacher "
        f"{teacher_f1 * 100:.2f}: loss {loss * 100:+.2f} points, allowed {max_loss * 100:.2f}"
    )
    if not within:
        return Decision(False, "-", f"not registered: {text}")
    why = "" if teacher_role == "champion" else f" (its teacher is {teacher_role})"
    return Decision(alias == "champion", alias, f"{alias}{why}: {text}")


def _champion(client, name: str, dest: Path) -> tuple[str, Path] | None:
    """(version, fine-tuned folder) of the registry's champion, downloaded into ``dest``."""
    if client is None:
        return None
    import mlflow
    import yaml

    from components.evaluate import registry

    mv = registry.champion(client, name)
    if mv is None:
        return None
    uri = f"models:/{name}/{mv.version}"
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest)))
    spec = yaml.safe_load((local / "MLmodel").read_text(encoding="utf-8"))
    rel = spec["flavors"]["python_function"]["artifacts"]["model_dir"]["path"]
    return str(mv.version), local / rel


def _texts(paths: list[Path], n: int) -> list[str]:
    out: list[str] = []
    for path in paths:
        if n <= len(out) or not path.exists() or is_empty(path):
            continue
        for doc in read_documents(path):
            out.append(doc.text)
            if len(out) >= n:
                break
    return out


def _speed(model, tok, texts: list[str], max_len: int) -> dict[str, float]:
    core.latency(model, tok, texts[:2], max_len, 1)  # warm-up
    t = core.latency(model, tok, texts, max_len, 1) * 1000
    return {"latency_ms_p50": float(np.percentile(t, 50)), "latency_ms_p95": float(np.percentile(t, 95))}  # fmt: skip


def skip(out: Path, reason: str) -> dict[str, Any]:
    mark_skipped(out, "distill", reason)
    return {"skipped": True, "registered": False, "reason": reason}


def run_stage(
    domain: DomainParams, ft: FinetuneParams, seeds: int, p: DistillParams, paths: Paths,
    client, stage: str = "distill",
) -> dict[str, Any]:  # fmt: skip
    if domain.task is None:
        return skip(paths.out, "no labeled task: there is no classifier to distil")
    if not p.enabled:
        return skip(paths.out, "distill.enabled is false")
    gate = json.loads(paths.gate.read_text(encoding="utf-8"))
    if "candidate" not in gate or skipped_reason(paths.classifier):
        return skip(paths.out, f"register chose no classifier: {gate.get('reason', '?')}")
    with tempfile.TemporaryDirectory() as tmp:
        champion = None
        if not gate.get("promote"):
            champion = _champion(client, domain.model_name, Path(tmp))
        teacher = choose_teacher(gate, paths.classifier, champion)
        return _distil(domain, ft, seeds, p, paths, client, stage, teacher)


def _distil(domain, ft, seeds, p, paths, client, stage, teacher: Teacher) -> dict[str, Any]:
    import torch

    from components.finetune.core import quiet_transformers, save_classifier
    from components.serving.loader import load_classifier

    quiet_transformers()
    if p.threads:
        torch.set_num_threads(p.threads)
    model, tok, meta = load_classifier(teacher.folder)
    labels = meta["labels"]
    # The teacher's own reading of text: its max_len and pooling, not this run's params.
    ft = dataclasses.replace(ft, max_len=meta["max_len"], pooling=meta.get("pooling", "cls"))
    split = {s: read_split(paths.task / f"{s}.jsonl", labels) for s in ("train", "dev", "test")}
    stop_dev = stratified_sample(split["dev"], ft.max_dev_rows, seed=0)
    unlabeled = _texts(paths.unlabeled, p.unlabeled_rows) if p.unlabeled_rows else []
    acc, f1, _ = core.evaluate(model, tok, split["test"], ft.max_len, len(labels))
    layers = core.student_layers(core.plain_state(model)[0].config.num_hidden_layers, p.layers)
    runs, best = [], None
    for seed in range(seeds):
        student, run = core.train_student(
            model, tok, layers, split["train"], unlabeled, stop_dev, split["test"], ft, p, seed
        )
        runs.append(run)
        print(f"[distill] seed {seed}: test macro-F1 {run.macro_f1:.4f} ({run.seconds:.0f} s)")
        if best is None or run.dev_macro_f1 > best[1].dev_macro_f1:  # kept on dev, never test
            best = (student, run)
    save_classifier(best[0], tok, "distill", paths.out, ft, teacher.folder, labels)
    texts = list(split["test"].texts)[: p.latency_texts]
    model.cpu(), best[0].cpu()
    t_row = {"macro_f1": f1, "accuracy": acc, **core.size(model, teacher.folder)}
    s_row = {
        "macro_f1": float(np.mean([r.macro_f1 for r in runs])),
        "accuracy": float(np.mean([r.accuracy for r in runs])),
        **core.size(best[0], paths.out),
    }
    t_row.update(_speed(model, tok, texts, ft.max_len))
    s_row.update(_speed(best[0], tok, texts, ft.max_len))
    decision = decide(f1, [r.macro_f1 for r in runs], p.max_loss, teacher.role)
    test_md5 = file_digest(str(paths.task / "test.jsonl"))
    report = {
        "teacher": {
            "model": teacher.model, "version": teacher.version, "role": teacher.role,
            "note": teacher.note, **t_row,
        },
        "student": {
            "layers_from_teacher": layers, "seed_macro_f1": [r.macro_f1 for r in runs],
            "seed_kept": best[1].seed, "steps": [r.steps for r in runs],
            "seconds": [round(r.seconds, 2) for r in runs], **s_row,
        },
        "max_loss": p.max_loss,
        "loss": f1 - s_row["macro_f1"],
        "test_md5": test_md5,
        "alias": decision.alias,
        "promote": decision.promote,
        "reason": decision.reason,
        "registered": False,
    }  # fmt: skip
    if decision.alias != "-" and client is not None:
        name = domain.student_model_name
        version = _register(paths, teacher, report, decision, stage, name, best[1])
        report.update(registered=True, model=name, version=version)
        print(f"[distill] registered {name} v{version} as {decision.alias}")
    return report


def _register(paths, teacher: Teacher, report, decision, stage, name, kept) -> str:
    from components.evaluate import registry
    from components.evaluate.lineage import flatten, stage_lineage
    from components.register.stage import _examples
    from components.tracking import dataset_name, git_commit, project_root

    root = project_root()
    tree = stage_lineage(root, stage, [(paths.task / "test.jsonl").as_posix()])
    commit, dirty = git_commit(root)
    tags = {
        "teacher.model": teacher.model,
        "teacher.version": teacher.version or "",
        "teacher.role": teacher.role,
        "teacher.macro_f1": report["teacher"]["macro_f1"],
        "teacher.note": teacher.note,
        "strategy": "distill",
        "seed": kept.seed,
        "distill.layers_from_teacher": json.dumps(report["student"]["layers_from_teacher"]),
        "gate.test_md5": report["test_md5"],
        "gate.seed_macro_f1": json.dumps(report["student"]["seed_macro_f1"]),
        "gate.max_loss": report["max_loss"],
        "git_commit": commit,
        "git_dirty": str(dirty).lower(),
        "lineage.stage": stage,
        **{f"dvc:{k}": v for k, v in flatten(tree).items()},
    }
    f1 = report["student"]["seed_macro_f1"]
    measured = registry.Measured(
        {"test.macro_f1_mean": float(np.mean(f1)), "test.macro_f1_min": float(np.min(f1)),
         "teacher.macro_f1": float(report["teacher"]["macro_f1"])},
        dataset_name(paths.task / "test.jsonl", root), report["test_md5"],
    )  # fmt: skip
    return registry.register(
        lambda: registry.log_classifier(paths.out, _examples(paths.task / "dev.jsonl")),
        name,
        tags,
        decision,
        {"distill/report.json": report},
        measured,
    )


def run(args: argparse.Namespace) -> int:
    domain = load_section("domain", args.params)
    ft = load_section("finetune", args.params)
    ev = load_section("evaluate", args.params)
    p = load_section("distill", args.params)
    track = not args.no_mlflow and domain.task is not None and p.enabled
    with (
        stage_tracking("distill", p, args, [args.gate], enabled=track) as t,
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
