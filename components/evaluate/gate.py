"""The promotion gate: paired confidence intervals, pure functions (the registry side is
registry.py).

Both sides of a comparison ran with the same seeds (same data order) and are scored on the same
test rows, so the gain is measured *paired*: each bootstrap resample draws test rows and seeds
with replacement, the same draw for both sides, and takes the mean over the drawn seeds of the
per-seed macro-F1 difference. The interval therefore carries both sources of noise (which rows
the test set happened to hold, which seeds training happened to use). Promotion needs the
interval's lower bound above ``margin``. Macro-F1 is computed for all resamples at once from
per-class counts (``macro_f1_many``), not in a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from components.evaluate.params import GateParams


@dataclass
class Scores:
    """One (backbone, strategy) over seeds on one test set: per-seed test predictions."""

    name: str
    seeds: list[int]
    predictions: list[list[int]]


@dataclass
class Comparison:
    reference: str
    delta: float  # mean over paired seeds of the per-seed difference, on the full test set
    low: float
    high: float
    seeds: int  # paired seeds used
    passed: bool
    text: str


@dataclass
class Decision:
    promote: bool
    alias: str
    reason: str
    comparisons: list[Comparison] = field(default_factory=list)


def macro_f1_many(y: np.ndarray, pred: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Macro-F1 of ``pred`` (S, n) against ``y`` (n,) on each row-resample ``idx`` (B, m):
    returns (B, S). The classes are those present in ``y`` (a class absent from a resample
    scores 0, as scikit-learn's ``zero_division=0`` does)."""
    classes, ymap = np.unique(y, return_inverse=True)
    c = len(classes)
    table = np.full(int(max(pred.max(initial=0), y.max(initial=0))) + 1, c)  # c: not in y
    table[classes] = np.arange(c)
    pmap = table[pred]
    b = idx.shape[0]
    off = (np.arange(b) * (c + 1))[:, None]
    yt = ymap[idx] + off  # (B, m)
    true = np.bincount(yt.ravel(), minlength=b * (c + 1)).reshape(b, c + 1)[:, :c]
    out = np.empty((b, pred.shape[0]))
    for s in range(pred.shape[0]):
        pt = pmap[s][idx] + off
        made = np.bincount(pt.ravel(), minlength=b * (c + 1)).reshape(b, c + 1)[:, :c]
        hit = yt[pt == yt]
        tp = np.bincount(hit, minlength=b * (c + 1)).reshape(b, c + 1)[:, :c]
        denom = true + made
        f1 = np.divide(2.0 * tp, denom, out=np.zeros(denom.shape), where=denom > 0)
        out[:, s] = f1.mean(1)
    return out


def paired_interval(
    y: np.ndarray,
    cand: np.ndarray,
    ref: np.ndarray,
    *,
    samples: int,
    confidence: float,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(delta, low, high) of mean macro-F1(cand) - macro-F1(ref); rows = paired seeds."""
    n, s = len(y), cand.shape[0]
    full = np.arange(n)[None, :]
    delta = float((macro_f1_many(y, cand, full) - macro_f1_many(y, ref, full)).mean())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (samples, n))
    per_seed = macro_f1_many(y, cand, idx) - macro_f1_many(y, ref, idx)  # (B, S)
    pick = rng.integers(0, s, (samples, s))
    boot = np.take_along_axis(per_seed, pick, axis=1).mean(1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail])
    return delta, float(low), float(high)


def _paired(cand: Scores, ref: Scores) -> tuple[np.ndarray, np.ndarray, list[int]]:
    common = [s for s in cand.seeds if s in ref.seeds]
    a = np.asarray([cand.predictions[cand.seeds.index(s)] for s in common])
    b = np.asarray([ref.predictions[ref.seeds.index(s)] for s in common])
    return a, b, common


def compare(cand: Scores, ref: Scores, y: np.ndarray, p: GateParams) -> Comparison:
    a, b, common = _paired(cand, ref)
    if not common:
        text = f"vs {ref.name}: no seed in common with {cand.name}, cannot pair: fail"
        return Comparison(ref.name, float("nan"), float("nan"), float("nan"), 0, False, text)
    delta, low, high = paired_interval(
        y, a, b, samples=p.bootstrap_samples, confidence=p.confidence
    )
    passed = low > p.margin
    ci = f"{p.confidence:.0%} CI [{low * 100:+.2f}, {high * 100:+.2f}]"
    why = "lower bound above" if passed else "lower bound not above"
    text = (
        f"vs {ref.name}: macro-F1 gain {delta * 100:+.2f} points, {ci} over {len(common)} "
        f"paired seed(s) x test rows; {why} the margin {p.margin * 100:.2f}: "
        f"{'pass' if passed else 'fail'}"
    )
    return Comparison(ref.name, delta, low, high, len(common), passed, text)


def decide(
    cand: Scores,
    reference: Scores,
    control: Scores | None,
    y: np.ndarray,
    p: GateParams,
    note: str = "",
) -> Decision:
    """``reference`` is the current champion (same test set) or, on a first run, the baseline."""
    comps = [compare(cand, reference, y, p)]
    if control is not None and control.name not in (cand.name, reference.name):
        comps.append(compare(cand, control, y, p))
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


def harm_review(ppl: dict[str, dict], p: GateParams, base: str = "base") -> dict[str, dict]:
    """Every pretrained candidate against the base on held-out text (compare's perplexity table):
    not recommended when its domain perplexity does not improve, or its general perplexity rises
    more than ``max_general_ppl_increase`` (forgetting). The base itself is the reference; without
    its row nothing can be judged and the result is empty."""
    ref = ppl.get(base)
    if ref is None:
        return {}
    out = {}
    for name, row in ppl.items():
        if name == base:
            continue
        why, entry = [], {}
        d, d0 = row.get("domain"), ref.get("domain")
        if d is not None and d0 is not None:
            entry["domain_change"] = d / d0 - 1
            if not d < d0:
                why.append(f"domain perplexity {d:.2f} does not improve on the base's {d0:.2f}")
        g, g0 = row.get("general"), ref.get("general")
        if g is not None and g0:
            rise = entry["general_change"] = g / g0 - 1
            if rise > p.max_general_ppl_increase:
                why.append(
                    f"general perplexity {rise:+.1%} over the base, past the bound "
                    f"+{p.max_general_ppl_increase:.0%} (forgetting)"
                )
        entry["recommended"] = not why
        entry["reason"] = "; ".join(why) if why else "domain perplexity improves, general within"
        out[name] = entry
    return out


def refuse_harmful(decision: Decision, candidate: str, review: dict[str, dict]) -> Decision:
    """A candidate the harm review marks not recommended is never promoted, whatever its gains."""
    entry = review.get(candidate)
    if entry is None or entry["recommended"]:
        return decision
    rest = decision.reason.split(": ", 1)[-1]
    reason = f"challenger: NOT RECOMMENDED ({candidate}: {entry['reason']}); {rest}"
    return Decision(False, "challenger", reason, decision.comparisons)
