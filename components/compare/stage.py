"""The ``compare`` stage: tables, plots, the perplexity table, and the choice (on dev)."""

from __future__ import annotations

import argparse
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from components.compare import budget, core
from components.config import active_profile, load_section, read_params_file
from components.data.outputs import OutputSet, shown
from components.data.shards import open_documents
from components.data.skip import is_empty, placeholder_plot, skipped_reason
from components.data.text import file_digest
from components.data.writers import atomic_open, write_json
from components.domain import DomainParams
from components.finetune import matrix
from components.stagerun import stage_tracking

MAX_DOCS = 200  # held-out documents per text set: enough for a stable character perplexity


@dataclass
class Inputs:
    runs: Path
    task: Path
    shape: dict
    domain_text: list[str]
    general_text: list[str]
    lexicon: str | None
    heldout_fraction: float
    out_dir: Path
    report: Path
    plot: Path
    profile: str


def heldout_texts(paths: list[str], fraction: float) -> list[str]:
    """Texts no pretraining stage trained on: the content-hash split every stage holds out
    (components.pretrain.data.held_out), the same documents for every candidate."""
    limit = fraction * 10_000
    found = []
    for path in paths:
        if is_empty(path):
            continue
        for doc in open_documents(path):
            h = zlib.crc32(doc.text.encode("utf-8")) % 10_000
            if h < limit:
                found.append((h, doc.text))
    return [t for _, t in sorted(found)[:MAX_DOCS]]


def perplexities(folders: dict[str, str], inp: Inputs, lang: str) -> dict[str, dict]:
    from components.data.lexicon import read_lexicon
    from components.evaluate.perplexity import text_nll
    from components.modeling.backbone import load_masked_lm
    from components.pretrain.data import WordMatcher

    domain = heldout_texts(inp.domain_text, inp.heldout_fraction)
    general = heldout_texts(inp.general_text, inp.heldout_fraction)
    if not domain and not general:
        return {}
    matcher = None
    if lang == "zh":
        words = (
            read_lexicon(inp.lexicon, 0, 2, 16) if inp.lexicon and not is_empty(inp.lexicon) else []
        )
        for folder in folders.values():
            added = Path(folder) / "added_words.tsv"
            if added.exists():
                words += read_lexicon(str(added), 0, 2, 16)
        matcher = WordMatcher(words, jieba_fallback=True)
    out = {}
    for name, folder in folders.items():
        model, tok = load_masked_lm(folder)
        row: dict = {"folder": folder}
        for key, texts in (("domain", domain), ("general", general)):
            if texts:
                r = text_nll(model, tok, texts, matcher)
                row[key] = r.perplexity
                row[f"{key}_docs"] = {"nll": r.nll.tolist(), "chars": r.chars.tolist()}
        out[name] = row
        print(f"[compare] {name}: " + ", ".join(f"{k} char-ppl {row[k]:.2f}" for k in ("domain", "general") if k in row))  # fmt: skip
    return out


def run_stage(domain: DomainParams, candidates: list[str], control: str, inp: Inputs) -> dict:
    folders = {}
    skipped = {}
    for name in candidates:
        folder = domain.candidate_dir(name)
        why = skipped_reason(folder)
        if why:
            skipped[name] = why
        elif (Path(folder) / "config.json").is_file():
            folders[name] = folder
    ppl = perplexities(folders, inp, domain.lang)
    results = matrix.load(inp.runs)
    all_combos = core.combos(results)
    plan = inp.runs / "plan.json"
    plan_data = json.loads(plan.read_text(encoding="utf-8")) if plan.exists() else {}
    chosen = core.choose(all_combos, control, tuple(plan_data.get("extra_strategies", {})))
    os.makedirs(inp.out_dir, exist_ok=True)
    write_json(inp.out_dir / "perplexity.json", ppl)
    meta = {"shape": inp.shape["shape"], "profile": inp.profile, "skipped": skipped}
    if chosen is not None:
        import numpy as np

        from components.finetune.data import read_split

        test_path = inp.task / "test.jsonl"
        labels = plan_data["labels"]
        y = read_split(test_path, labels).labels
        unit, run = chosen.kept
        report = core.per_class(y, run.predictions, labels)
        core.confusion_plot(
            np.asarray(y), run.predictions, labels, inp.plot,
            f"{chosen.key} seed {unit.seed} (chosen on dev): test macro-F1 {run.macro_f1:.3f}",
        )  # fmt: skip
        meta |= {"test": str(test_path), "test_rows": len(y), "test_md5": file_digest(test_path)}
        choice = {
            "kind": "classifier",
            "combination": chosen.key,
            "candidate": chosen.candidate,
            "strategy": chosen.strategy,
            "seed": unit.seed,
            "dev_macro_f1_mean": chosen.stat("dev_macro_f1")[0],
        }
        write_json(inp.out_dir / "per_class.json", report)
    else:
        report = {}
        meta |= {"test": "-", "test_rows": 0, "test_md5": "-"}
        choice = choose_encoder(ppl, control)
        placeholder_plot(inp.plot, "no classifier in this project: no confusion matrix")
    meta |= {
        "dev_rows": plan_data.get("rows", {}).get("dev", 0),
        "seeds": plan_data.get("seeds", 0),
        "max_len": plan_data.get("max_len", "-"),
        # Written to staged paths (components/data/outputs.py): link the final ones.
        "confusion": os.path.relpath(shown(inp.plot), Path(shown(inp.report)).parent),
    }
    results_json = {
        c.key: {
            "seeds": [u.seed for u, _ in c.runs],
            "dev_macro_f1": [r.dev_macro_f1 for _, r in c.runs],
            "macro_f1": [r.macro_f1 for _, r in c.runs],
            "accuracy": [r.accuracy for _, r in c.runs],
        }
        for c in all_combos
    }
    write_json(inp.out_dir / "results.json", {"meta": meta, "results": results_json})
    write_json(inp.out_dir / "choice.json", choice)
    curve_md, curve = label_budget_curve(all_combos, plan_data, inp)
    with atomic_open(inp.report) as f:
        f.write(core.report_markdown(all_combos, chosen, report, meta, skipped, _plain(ppl)))
        f.write(curve_md)
    metrics = core.metrics_dict(all_combos, chosen)
    if curve:  # nested dicts, not lists: MLflow logs their numeric leaves
        metrics["label_budget"] = {
            cand: {str(p["labels_per_class"]): p for p in ps} for cand, ps in curve.items()
        }
    metrics["perplexity"] = _plain(ppl)
    metrics["choice"] = choice
    return metrics


def label_budget_curve(all_combos: list[core.Combo], plan: dict, inp: Inputs) -> tuple[str, dict]:
    """(the report's section, the curve) when the matrix ran label budgets: its table, its plot
    (``label_budget.png`` beside the tables) and ``label_budget.json``."""
    strategy = plan.get("budget_strategy", "full")
    curve = budget.curve(all_combos, strategy) if plan.get("label_budgets") else {}
    if not curve:
        return "", {}
    used = plan.get("train_rows_used", plan["rows"]["train"])
    per_class = used / max(len(plan["labels"]), 1)
    png = inp.out_dir / "label_budget.png"
    budget.plot(curve, max(per_class, *plan["label_budgets"]), png, strategy)
    write_json(inp.out_dir / "label_budget.json", {"strategy": strategy, "curve": curve})
    link = os.path.relpath(shown(png), Path(shown(inp.report)).parent)
    return "\n" + budget.markdown(curve, strategy, link) + "\n", curve


def _plain(ppl: dict[str, dict]) -> dict[str, dict]:
    return {n: {k: v for k, v in r.items() if k in ("domain", "general")} for n, r in ppl.items()}


def choose_encoder(ppl: dict[str, dict], control: str) -> dict:
    """Without a task: the adapted encoder with the lowest held-out domain perplexity."""
    eligible = {
        n: r for n, r in ppl.items() if n not in ("base", control) and r.get("domain") is not None
    }
    if not eligible:
        return {"kind": "none", "reason": "no adapted candidate to choose"}
    name = min(eligible, key=lambda n: eligible[n]["domain"])
    return {"kind": "mlm", "candidate": name, "domain_char_ppl": eligible[name]["domain"]}


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
    with stage_tracking("compare", ev, args, []) as t:
        t.metrics({k: v for k, v in metrics.items() if k != "choice"})
        t.artifact(Path(args.report))
        t.artifact(Path(args.out_dir), "evaluation")
    return 0
