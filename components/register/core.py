"""The gate's inputs and decisions: the chosen classifier (or, without a task, the chosen
encoder) against the current champion or the baseline, and against the compute-matched control.

Test predictions are read here for the first time in the pipeline's decisions: this is the one
use of the test set. Pure functions; the stage (stage.py) does the files and the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from components.compare.core import Combo, combos
from components.evaluate.gate import Comparison, Decision, Scores, decide
from components.evaluate.params import GateParams
from components.evaluate.perplexity import TextNLL, paired_gain
from components.evaluate.recommend import Budget, Point, paired_point
from components.finetune.core import RunResult
from components.finetune.matrix import Unit


def scores_of(c: Combo | None) -> Scores | None:
    if c is None:
        return None
    return Scores(c.key, [u.seed for u, _ in c.runs], [r.predictions for _, r in c.runs])


@dataclass
class ClassifierGate:
    chosen: Combo
    baseline: Scores
    control: Scores | None


def classifier_inputs(
    results: dict[Unit, RunResult], choice: dict, baseline: str, control: str
) -> ClassifierGate:
    by = {
        (c.candidate, c.strategy): c
        for c in combos(results)
        if c.strategy != "pet" and c.budget is None  # label-budget points: the curve's own gate
    }
    chosen = by[(choice["candidate"], choice["strategy"])]
    base = scores_of(by.get((baseline, chosen.strategy)))
    if base is None:
        raise ValueError(f"no {baseline}/{chosen.strategy} runs to compare {chosen.key} with")
    ctrl = scores_of(by.get((control, chosen.strategy))) if control else None
    return ClassifierGate(chosen, base, ctrl)


def encoder_decision(
    cand: str,
    ppl: dict[str, dict],
    reference: tuple[str, dict],
    control: str,
    p: GateParams,
    note: str = "",
) -> Decision:
    """Without a task: domain character perplexity must improve by more than ``margin``
    (relative, interval over held-out documents) against the reference and the control, and
    general perplexity may not rise more than ``max_general_ppl_increase`` over the base."""

    def nll(row: dict, key: str) -> TextNLL:
        docs = row[f"{key}_docs"]
        return TextNLL(np.asarray(docs["nll"]), np.asarray(docs["chars"]))

    comps = []
    refs = [reference]
    if control and control in ppl and control != cand:
        refs.append((control, ppl[control]))
    for name, row in refs:
        gain, low, high = paired_gain(
            nll(ppl[cand], "domain"), nll(row, "domain"), p.bootstrap_samples, p.confidence
        )
        passed = low > p.margin
        text = (
            f"vs {name}: domain character perplexity {ppl[cand]['domain']:.2f} vs "
            f"{row['domain']:.2f}, reduction {gain:+.1%} ({p.confidence:.0%} CI "
            f"[{low:+.1%}, {high:+.1%}] over held-out documents); lower bound "
            f"{'above' if passed else 'not above'} the margin {p.margin:.1%}: "
            f"{'pass' if passed else 'fail'}"
        )
        comps.append(Comparison(name, gain, low, high, 1, passed, text))
    required = comps if p.require_beat_control else comps[:1]
    promote = all(c.passed for c in required)
    parts = [note] if note else []
    parts += [c.text for c in comps]
    base = ppl.get("base", {}).get("general")
    general = ppl[cand].get("general")
    if base and general:
        rise = general / base - 1
        ok = rise <= p.max_general_ppl_increase
        parts.append(
            f"general character perplexity {rise:+.1%} vs base (bound "
            f"+{p.max_general_ppl_increase:.0%}): {'within' if ok else 'REFUSED, forgetting'}"
        )
        promote = promote and ok
    alias = "champion" if promote else "challenger"
    return Decision(promote, alias, f"{alias}: " + "; ".join(parts), comps)


def classifier_decision(
    g: ClassifierGate, reference: Scores | None, y: np.ndarray, p: GateParams, note: str
) -> Decision:
    return decide(scores_of(g.chosen), reference or g.baseline, g.control, y, p, note)


def intervals(decision: Decision) -> list[dict]:
    return [
        {
            "reference": c.reference,
            "delta": round(c.delta, 6),
            "low": round(c.low, 6),
            "high": round(c.high, 6),
            "paired_seeds": c.seeds,
            "passed": c.passed,
        }
        for c in decision.comparisons
    ]


def budget_points(
    results: dict[Unit, RunResult],
    strategy: str,
    budgets: list[int],
    y: np.ndarray,
    p: GateParams,
    base: str,
    control: str,
) -> list[Point]:
    """The label-budget curve's paired comparisons, fewest labels first, the full train set
    (the strategy's own runs) last."""
    by: dict[Budget, dict[str, Scores]] = {}
    for c in combos(results):
        if c.strategy == strategy and (c.budget is None or c.budget in budgets):
            by.setdefault(c.budget, {})[c.candidate] = scores_of(c)  # type: ignore[assignment]
    order: list[Budget] = [*sorted(b for b in by if b is not None), None]
    return [paired_point(b, by[b], y, p, base, control) for b in order if b in by]
