"""The decontamination stage behind ``dapt decontaminate`` (components/decontaminate/cli.py
parses): gate the inputs, run the local or Ray driver, write the cleaned texts and the report
together, log the MLflow run."""

from __future__ import annotations

import argparse
from pathlib import Path

from components.config import load_section, with_derived
from components.data.gate import require_validated
from components.data.outputs import OutputSet
from components.data.writers import write_json
from components.decontaminate import driver
from components.domain import domain_lang
from components.execution import load_execution
from components.stagerun import check_inputs, stage_tracking


def run(args: argparse.Namespace) -> int:
    p = with_derived(load_section("decontaminate", args.params), lang=domain_lang(args.params))
    ing = Path(args.ingested)
    sources = {
        "domain": str(ing / "domain.jsonl"),
        "mined": args.mined,
        "general": str(ing / "general.jsonl"),
        "tapt": str(ing / "task/train.jsonl"),
    }
    evals = {s: str(ing / f"task/{s}.jsonl") for s in p.splits}
    engine, ex = load_execution(args.params)
    batch = ex.ray_batch_docs
    checked = [sources["domain"], sources["general"], sources["tapt"], *evals.values()]
    check_inputs(args, checked, require_validated)
    with OutputSet() as outs:
        if engine == "ray":
            from components.decontaminate import ray_driver

            out, final = outs.dir(args.out), Path(args.out)
            report = ray_driver.run(sources, evals, out, final, p, batch, ex.shards)
        else:
            report = driver.run(sources, evals, outs.dir(args.out), Path(args.out), p)
        write_json(outs.file(args.metrics), report)
    for name, c in report["sources"].items():
        print(
            f"[decontaminate] {name}: {c.get('docs', 0)} documents, {c.get('matched_docs', 0)} "
            f"matched ({c.get('cut_docs', 0)} cut, {c.get('dropped_docs', 0)} dropped)"
        )
    for split, e in report["eval_texts"].items():
        print(
            f"[decontaminate] {split}: {e['found_in_pretraining_text']} of {e['checked']} texts "
            f"found in pretraining text ({e['too_short_to_check']} too short to check)"
        )
    inputs = [*sources.values(), *evals.values()]
    with stage_tracking("decontaminate", p, args, inputs) as t:
        t.metrics(report)
        t.artifact(Path(args.out) / "audit.jsonl")
    return 0
