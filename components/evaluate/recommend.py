"""The label-budget recommendation: at each labeled-set size, the cheapest candidate whose paired
gain over the base is significant. Pure functions over the gate's paired intervals
(``gate.compare``: test rows x seeds, the same bootstrap as promotion), so the sentence a run
prints is computed, never written by hand.

Cost is pretraining compute: the masked-LM tokens a candidate's stages trained on (the pretrain
stages' metrics, ``train_tokens``); the base and ``vocab_only`` train none. Picking the cheapest
of those whose interval clears the margin is what makes two candidates within noise of each
other resolve to the cheaper one: neither "wins" against the other, both win against the base.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from components.evaluate.gate import Comparison, Scores, compare
from components.evaluate.params import GateParams

# Stages that continue another candidate's checkpoint (dvc.yaml: dapt_tapt starts from
# models/dapt): their cost includes the one they start from.
STARTS_FROM = {"dapt_tapt": "dapt"}

Budget = int | None  # labels per class; None = the whole train set


def budget_label(budget: Budget) -> str:
    return "all labels" if budget is None else f"{budget} labels per class"


def pretrain_costs(metrics: dict[str, dict], candidates: list[str]) -> dict[str, float]:
    """Tokens of pretraining behind each candidate (0 when its stage trained none or was
    skipped)."""

    def own(name: str) -> float:
        return float((metrics.get(name) or {}).get("train_tokens", 0) or 0)

    out = {}
    for name in candidates:
        total, stage = 0.0, name
        while stage:
            total += own(stage)
            stage = STARTS_FROM.get(stage, "")
        out[name] = total
    return out


@dataclass
class Point:
    """One budget: every candidate's paired comparisons (reference name -> interval)."""

    budget: Budget
    rows: dict[str, dict[str, Comparison]]


def paired_point(
    budget: Budget,
    scores: dict[str, Scores],
    y: np.ndarray,
    p: GateParams,
    base: str,
    control: str,
) -> Point:
    """Every candidate at one budget against the base and (when it ran) the control."""
    rows: dict[str, dict[str, Comparison]] = {}
    ref = scores.get(base)
    for name, s in scores.items():
        if ref is None or name in (base, control):
            continue
        rows[name] = {base: compare(s, ref, y, p)}
        if control and control in scores:
            rows[name][control] = compare(s, scores[control], y, p)
    return Point(budget, rows)


def _wins(row: dict[str, Comparison], base: str, p: GateParams) -> bool:
    needed = row.values() if p.require_beat_control else [row[base]]
    return all(c.passed for c in needed)


def pick(
    point: Point,
    costs: dict[str, float],
    order: list[str],
    refused: set[str],
    p: GateParams,
    base: str,
) -> str | None:
    """The cheapest candidate (ties: the candidates list's order) that wins at this budget."""
    winners = [n for n, row in point.rows.items() if n not in refused and _wins(row, base, p)]
    rank = {n: i for i, n in enumerate(order)}
    return min(winners, key=lambda n: (costs.get(n, 0.0), rank.get(n, len(rank))), default=None)


def sentence(point: Point, chosen: str | None, base: str, control: str) -> str:
    where = f"with {budget_label(point.budget)}"
    if chosen is not None:
        c = point.rows[chosen][base]
        return (
            f"{where} {chosen} gains {c.delta * 100:+.1f} (CI {c.low * 100:.1f} to "
            f"{c.high * 100:.1f}) over {base}"
        )
    beat_base = any(row[base].passed for row in point.rows.values())
    if beat_base and control:
        return f"{where} no candidate beats the control: keep the {base}"
    return f"{where} no candidate beats the {base}: keep the {base}"


def losing_everywhere(points: list[Point], base: str) -> dict[str, str]:
    """Candidates whose interval against the base lies below zero at every budget: harm."""
    out = {}
    names = dict.fromkeys(n for pt in points for n in pt.rows)
    for name in names:
        comps = [(pt.budget, pt.rows[name][base]) for pt in points if name in pt.rows]
        if comps and all(c.high < 0 for _, c in comps):
            each = ", ".join(f"{budget_label(b)} {c.delta * 100:+.1f}" for b, c in comps)
            out[name] = f"loses to the {base} at every label budget ({each})"
    return out


def extend_review(review: dict[str, dict], losers: dict[str, str]) -> dict[str, dict]:
    """The harm review with the label-budget refusal added (a reason joins any earlier one)."""
    out = {k: dict(v) for k, v in review.items()}
    for name, why in losers.items():
        entry = out.setdefault(name, {})
        earlier = entry.get("reason") if entry.get("recommended") is False else None
        entry["recommended"] = False
        entry["reason"] = f"{earlier}; {why}" if earlier else why
    return out


def recommend(
    points: list[Point],
    costs: dict[str, float],
    order: list[str],
    review: dict[str, dict],
    p: GateParams,
    base: str,
    control: str,
    user_budget: Budget,
) -> dict:
    """Per budget the pick and its sentence, and the headline at the user's budget (the whole
    train set when that budget has no point)."""
    refused = {n for n, e in review.items() if e.get("recommended") is False}
    budgets = []
    for pt in points:
        chosen = pick(pt, costs, order, refused, p, base)
        budgets.append(
            {
                "labels_per_class": "all" if pt.budget is None else pt.budget,
                "recommended": chosen,
                "text": sentence(pt, chosen, base, control),
                "comparisons": {
                    n: {
                        ref: {"delta": c.delta, "low": c.low, "high": c.high, "passed": c.passed}
                        for ref, c in row.items()
                    }
                    for n, row in pt.rows.items()
                },
            }
        )
    at = {b["labels_per_class"]: b for b in budgets}
    user = at.get(user_budget if user_budget is not None else "all") or at.get("all")
    headline = user["text"] if user else "no label-budget point to recommend from"
    if user and user is not at.get("all") and "all" in at:
        headline += f"; {at['all']['text']}"  # what more labels would change
    return {
        "user_budget": "all" if user_budget is None else user_budget,
        "headline": headline,
        "recommended": user["recommended"] if user else None,
        "budgets": budgets,
        "costs": costs,
        "not_recommended": {n: review[n].get("reason", "") for n in sorted(refused)},
    }
