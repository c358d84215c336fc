"""The ``register`` stage: decide, copy the chosen model, register it with its lineage."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from components.config import load_section
from components.data.outputs import OutputSet
from components.data.skip import mark_skipped
from components.data.text import file_digest
from components.data.writers import write_json
from components.domain import DomainParams
from components.evaluate.gate import refuse_harmful
from components.evaluate.params import EvaluateParams
from components.finetune import matrix
from components.finetune.data import read_split
from components.register import core
from components.stagerun import stage_tracking


@dataclasses.dataclass
class Paths:
    runs: Path
    evaluation: Path
    task: Path
    out: Path  # the chosen model is copied here (a fresh folder)
    decontamination: Path
    pretrain_metrics: Path = Path("metrics")  # <stage>.json: what each candidate's pretraining cost


def _client(track: bool):
    if not track:
        return None
    from mlflow import MlflowClient

    return MlflowClient()


def run_stage(
    domain: DomainParams, ev: EvaluateParams, paths: Paths, track: bool, stage: str
) -> dict[str, Any]:
    choice = json.loads((paths.evaluation / "choice.json").read_text(encoding="utf-8"))
    client = _client(track)
    name = domain.model_name
    if choice.get("kind") == "classifier":
        gate, artifacts, model_dir = _classifier(domain, ev, paths, choice, client, name)
    elif choice.get("kind") == "mlm":
        gate, artifacts, model_dir = _encoder(domain, ev, paths, choice, client, name)
    else:
        mark_skipped(paths.out, "register", choice.get("reason", "nothing to register"))
        return {"registered": False, "promote": False, "alias": "-", "reason": choice.get("reason")}
    shutil.copytree(model_dir, paths.out, dirs_exist_ok=True)
    decision = gate.pop("_decision")
    gate["registered"] = False
    if client is not None:
        from components.evaluate import registry

        tags = lineage_tags(domain, ev, paths, gate, decision, stage)
        log_model = (
            (lambda: registry.log_classifier(paths.out, _examples(paths.task / "dev.jsonl")))
            if choice["kind"] == "classifier"
            else (lambda: registry.log_encoder(paths.out))
        )
        version = registry.register(
            log_model,
            name,
            tags,
            decision,
            artifacts,
            _measured(gate, paths),
            _producers(gate, tags),
        )
        gate.update(registered=True, version=version, model=name)
        _lineage_event(stage, name, version, gate)
        print(f"[register] registered {name} v{version} as {decision.alias}")
    return gate


def _measured(gate: dict[str, Any], paths: Paths):
    """The classifier's test numbers for its MLflow LoggedModel, tied to the test split by its
    DVC md5; None for an encoder (its held-out text is no single DVC-tracked file)."""
    if "test_md5" not in gate:
        return None
    from components.evaluate.registry import Measured
    from components.tracking import dataset_name, project_root

    f1 = gate["seed_macro_f1"]
    metrics = {"test.macro_f1_mean": float(np.mean(f1)), "test.macro_f1_min": float(np.min(f1))}
    for c in gate.get("comparisons", []):
        ref = re.sub(
            r"[^\w./-]+", "_", c["reference"]
        )  # "champion v1 (dapt/full)": no ( ) in names
        for k in ("delta", "low", "high"):
            metrics[f"gate.{ref}.{k}"] = float(c[k])
    test = dataset_name(paths.task / "test.jsonl", project_root())
    return Measured(metrics, test, gate["test_md5"])


def _producers(gate: dict[str, Any], tags: dict[str, Any]):
    """The runs to link the LoggedModel to, from the ``lineage.mlflow_runs.*`` tags (exact
    versions, see producing_runs); None when no event named them."""
    from components.evaluate.registry import Producers

    def ids(job: str) -> list[str]:
        return [r for r in str(tags.get(f"lineage.mlflow_runs.{job}", "")).split(",") if r]

    if not (ids("finetune") or ids("compare")):
        return None
    unit = f"{gate['candidate']}/seed{gate['seed_kept']}" if "seed_kept" in gate else None
    return Producers(trained_by=ids("finetune"), chosen_by=ids("compare"), unit=unit)


def _lineage_event(stage: str, name: str, version: str, gate: dict[str, Any]) -> None:
    import mlflow

    from components.lineage.emit import registration
    from components.tracking import project_root

    registration(project_root(), stage, name, version, gate, mlflow.get_tracking_uri())


def _examples(dev: Path, n: int = 2) -> list[str]:
    """The registered model's input example: a few dev texts (never test texts)."""
    texts = []
    if dev.exists():
        with open(dev, encoding="utf-8") as f:
            for line in f:
                if len(texts) == n:
                    break
                if line.strip():
                    texts.append(json.loads(line)["text"])
    return texts


def _classifier(domain, ev, paths, choice, client, name):
    results = matrix.load(paths.runs)
    plan = json.loads((paths.runs / "plan.json").read_text(encoding="utf-8"))
    g = core.classifier_inputs(results, choice, ev.baseline, ev.control)
    test = paths.task / "test.jsonl"
    test_md5 = file_digest(str(test))
    y = np.asarray(read_split(test, plan["labels"]).labels)
    reference, note = None, "first run: compared with the baseline"
    if client is not None:
        from components.evaluate import registry

        mv = registry.champion(client, name)
        if mv is not None:
            reference, note = registry.champion_scores(client, mv, test_md5)
    review = harm_review(paths, ev)
    recommendation = None
    if plan.get("label_budgets"):
        review, recommendation = label_budget(results, plan, y, ev, review, paths)
    decision = core.classifier_decision(g, reference, y, ev.gate, note)
    decision = refuse_harmful(decision, choice["candidate"], review)
    unit, _ = g.chosen.kept
    cand = core.scores_of(g.chosen)
    gate = {
        "candidate": g.chosen.key,
        "seed_kept": unit.seed,
        "promote": decision.promote,
        "alias": decision.alias,
        "reason": decision.reason,
        "comparisons": core.intervals(decision),
        "test_md5": test_md5,
        "seed_macro_f1": [r.macro_f1 for _, r in g.chosen.runs],
        "harm_review": review,
        "_decision": decision,
    }
    if recommendation is not None:
        gate["recommendation"] = recommendation
    artifacts = {
        "gate/predictions.json": {
            "seeds": cand.seeds,
            "predictions": cand.predictions,
            "test_md5": test_md5,
        }
    }
    return gate, artifacts, unit.folder(paths.runs) / "model"


def _encoder(domain, ev, paths, choice, client, name):
    ppl = json.loads((paths.evaluation / "perplexity.json").read_text(encoding="utf-8"))
    cand = choice["candidate"]
    docs = ppl[cand]["domain_docs"]
    heldout_md5 = hashlib.md5(json.dumps(docs["chars"]).encode()).hexdigest()
    reference: tuple[str, dict] = (ev.baseline, ppl[ev.baseline])
    note = "first run: compared with the baseline"
    if client is not None:
        from components.evaluate import registry

        mv = registry.champion(client, name)
        if mv is not None:
            stored, note = registry.champion_heldout(client, mv, heldout_md5)
            if stored is not None:
                reference = (f"champion v{mv.version}", stored)
    review = harm_review(paths, ev)
    decision = core.encoder_decision(cand, ppl, reference, ev.control, ev.gate, note)
    decision = refuse_harmful(decision, cand, review)
    gate = {
        "candidate": cand,
        "promote": decision.promote,
        "alias": decision.alias,
        "reason": decision.reason,
        "comparisons": core.intervals(decision),
        "heldout_md5": heldout_md5,
        "harm_review": review,
        "_decision": decision,
    }
    artifacts = {"gate/heldout.json": {k: v for k, v in ppl[cand].items() if k != "folder"}}
    return gate, artifacts, Path(domain.candidate_dir(cand))


def label_budget(results, plan: dict, y, ev: EvaluateParams, review: dict, paths: Paths):
    """(the harm review with the label-budget refusal, the recommendation): the paired gain of
    every candidate over the base at each budget, and the cheapest significant one."""
    from components.evaluate import recommend as rec

    points = core.budget_points(
        results, plan["budget_strategy"], plan["label_budgets"], y, ev.gate, ev.baseline,
        ev.control,
    )  # fmt: skip
    review = rec.extend_review(review, rec.losing_everywhere(points, ev.baseline))
    metrics = {}
    for name in ev.candidates:
        path = paths.pretrain_metrics / f"{name}.json"
        metrics[name] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    costs = rec.pretrain_costs(metrics, ev.candidates)
    user = ev.user_budget or None
    found = rec.recommend(
        points, costs, ev.candidates, review, ev.gate, ev.baseline, ev.control, user
    )
    print(f"[register] recommendation: {found['headline']}")
    return review, found


def harm_review(paths: Paths, ev: EvaluateParams) -> dict[str, dict]:
    """compare's perplexity table judged against the base: every pretrained candidate's domain
    and general perplexity change, and whether it may be recommended at all."""
    from components.evaluate.gate import harm_review as review

    path = paths.evaluation / "perplexity.json"
    ppl = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return review(ppl, ev.gate)


def lineage_tags(domain, ev, paths, gate, decision, stage: str) -> dict[str, Any]:
    import mlflow

    from components.evaluate.lineage import flatten, stage_lineage
    from components.tracking import git_commit, project_root

    root = project_root()
    files = ("train.jsonl", "dev.jsonl", "test.jsonl", "labels.txt")
    tree = stage_lineage(root, stage, [(paths.task / f).as_posix() for f in files])
    mlflow.log_dict(tree, "lineage/lineage.json")
    commit, dirty = git_commit(root)
    decon = json.loads(paths.decontamination.read_text(encoding="utf-8"))
    summary = Path("reports/validation/summary.json")
    tags = {
        "candidate": gate["candidate"].split("/")[0],
        "strategy": gate["candidate"].split("/")[1] if "/" in gate["candidate"] else "mlm",
        "seed": gate.get("seed_kept", ""),
        "domain": domain.name,
        "git_commit": commit,
        "git_dirty": str(dirty).lower(),
        "base_model": domain.base_model,
        "validation_report": "reports/validation/index.html",
        "validation_summary_md5": file_digest(str(summary)) if summary.exists() else "",
        "params.evaluate": json.dumps(dataclasses.asdict(ev), ensure_ascii=False, sort_keys=True),
        "gate.intervals": json.dumps(core.intervals(decision)),
        "decontamination": json.dumps(
            {s: c.get("matched_docs", 0) for s, c in decon.get("sources", {}).items()}
        ),
        "decontamination.eval_found": json.dumps(
            {s: e["found_in_pretraining_text"] for s, e in decon.get("eval_texts", {}).items()}
        ),
        "lineage.stage": stage,
        "recommended": str(
            gate.get("harm_review", {}).get(_name(gate), {}).get("recommended", "-")
        ),
    }
    if "recommendation" in gate:  # the label-budget headline, computed (evaluate/recommend.py)
        tags["recommendation"] = gate["recommendation"]["headline"]
    if "test_md5" in gate:
        tags["gate.test_md5"] = gate["test_md5"]
        tags["gate.seed_macro_f1"] = json.dumps(gate["seed_macro_f1"])
    if "heldout_md5" in gate:
        tags["gate.heldout_md5"] = gate["heldout_md5"]
    tags.update({f"dvc:{path}": md5 for path, md5 in flatten(tree).items()})
    tags.update(producing_runs(root, stage))
    return tags


def producing_runs(root: Path, stage: str) -> dict[str, str]:
    """``lineage.mlflow_runs.<job>``: the MLflow runs that trained (``finetune``) and chose
    (``compare``) this model: those of the stage runs whose COMPLETE events wrote exactly the
    versions of ``models/finetune`` and ``reports/evaluation`` this register run reads (not merely
    the latest runs). The LoggedModel's own source run is this register run (it measured test)."""
    from components.lineage import emit, events
    from components.lineage import openlineage as ol
    from components.orchestration.lineage_names import project_namespace

    try:
        evs = events.read(root)
    except (OSError, ValueError):  # an unreadable event file costs these tags, not the version
        return {}
    if not evs:
        return {}
    data_ns = ol.data_namespace(project_namespace(root))  # as the stage events name it
    try:
        read_now = emit.consumed(root, stage)
    except Exception as exc:  # lineage never blocks registration
        print(f"[register] inputs not hashed for lineage: {exc}")
        return {}
    runs = events.producing_runs(evs, {(data_ns, p): v for p, v in read_now.items()})
    return {
        f"lineage.mlflow_runs.{job}": ",".join(ids)
        for job, ids in runs.items()
        if job in ("finetune", "compare") and ids
    }


def run(args: argparse.Namespace) -> int:
    domain = load_section("domain", args.params)
    ev = load_section("evaluate", args.params)
    track = not args.no_mlflow
    with (
        stage_tracking("register", ev.gate, args, [args.gate]) as t,
        OutputSet() as outs,  # the model and the decision change together
    ):
        paths = Paths(
            Path(args.runs), Path(args.evaluation), Path(args.task), outs.dir(args.out),
            Path(args.decontamination), Path(args.pretrain_metrics),
        )  # fmt: skip
        gate = run_stage(domain, ev, paths, track, args.stage)
        t.metrics({"promoted": float(gate.get("promote", False))})
        write_json(outs.file(args.gate), gate)
    print(f"[register] {gate.get('reason')}")
    return 0


def _name(gate: dict[str, Any]) -> str:
    return gate["candidate"].split("/")[0]
