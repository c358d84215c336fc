"""Seed-aware promotion gate: the candidate must beat a reference by ``margin`` in mean macro-F1
and the seed-level test must be significant. Pure functions; the registry side is registry.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import f1_score

from components.evaluate.params import GateParams


@dataclass
class Scores:
    """One (backbone, strategy) evaluated over seeds on one test set."""

    name: str
    macro_f1: list[float]
    predictions: list[list[int]] | None = None  # per seed, for the paired bootstrap

    @property
    def mean(self) -> float:
        return float(np.mean(self.macro_f1))


@dataclass
class Comparison:
    reference: str
    delta: float
    p_value: float
    passed: bool
    text: str


@dataclass
class Decision:
    promote: bool
    alias: str
    reason: str
    comparisons: list[Comparison] = field(default_factory=list)


def welch_p(a: list[float], b: list[float], margin: float) -> float:
    """One-sided Welch t-test of mean(a) - margin > mean(b)."""
    from scipy import stats

    a_, b_ = np.asarray(a) - margin, np.asarray(b)
    if len(a_) < 2 or len(b_) < 2:
        return float("nan")
    if a_.std() == 0 and b_.std() == 0:  # deterministic scores: the sign decides
        return 0.0 if a_.mean() > b_.mean() else 1.0
    return float(stats.ttest_ind(a_, b_, equal_var=False, alternative="greater").pvalue)


def bootstrap_p(
    cand: list[list[int]], ref: list[list[int]], y: np.ndarray, margin: float, n: int, seed: int = 0
) -> float:
    """Paired bootstrap over test examples: share of resamples where the seed-mean macro-F1 of the
    candidate does not beat the reference's by ``margin``."""
    rng = np.random.default_rng(seed)
    labels = np.unique(y)
    c, r = np.asarray(cand), np.asarray(ref)
    worse = 0
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))

        def f1(p, idx=idx):
            return f1_score(y[idx], p[idx], labels=labels, average="macro", zero_division=0)

        diff = np.mean([f1(p) for p in c]) - np.mean([f1(p) for p in r])
        worse += diff <= margin
    return (worse + 1) / (n + 1)


def compare(cand: Scores, ref: Scores, p: GateParams, y: np.ndarray | None = None) -> Comparison:
    delta = cand.mean - ref.mean
    if p.test == "bootstrap" and cand.predictions and ref.predictions and y is not None:
        pv, test = bootstrap_p(cand.predictions, ref.predictions, y, p.margin, p.bootstrap_samples), "bootstrap"  # fmt: skip
    else:
        pv, test = welch_p(cand.macro_f1, ref.macro_f1, p.margin), "Welch"
    passed = bool(delta > p.margin and pv == pv and pv < p.alpha)
    if pv != pv:
        why = "needs >= 2 seeds on each side for the Welch test"
    elif delta <= p.margin:
        why = f"gain {delta:+.4f} is not above the margin {p.margin}"
    elif pv >= p.alpha:
        why = f"not significant ({test} p={pv:.3g} >= {p.alpha})"
    else:
        why = f"{test} p={pv:.3g} < {p.alpha}"
    text = (
        f"vs {ref.name}: {cand.mean:.4f} vs {ref.mean:.4f} (delta {delta:+.4f}, "
        f"margin {p.margin}): {'pass' if passed else 'fail'}, {why}"
    )
    return Comparison(ref.name, delta, pv, passed, text)


def decide(
    cand: Scores,
    reference: Scores,
    control: Scores | None,
    p: GateParams,
    y: np.ndarray | None = None,
    note: str = "",
) -> Decision:
    """``reference`` is the current champion (same test set) or, on a first run, the baseline."""
    comps = [compare(cand, reference, p, y)]
    if control is not None and control.name not in (cand.name, reference.name):
        comps.append(compare(cand, control, p, y))
    required = comps if p.require_beat_control else comps[:1]
    promote = all(c.passed for c in required)
    if cand.name == reference.name:
        promote = False
        comps[0].text = f"candidate is the reference itself ({reference.name}): nothing to promote"
    parts = [note] if note else []
    parts += [c.text for c in comps]
    if control is None:
        parts.append("no control candidate to compare with")
    elif len(comps) > 1 and not p.require_beat_control:
        parts.append("(control comparison reported, not required)")
    alias = "champion" if promote else "challenger"
    return Decision(promote, alias, f"{alias}: " + "; ".join(parts), comps)
