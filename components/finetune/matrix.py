"""The fine-tuning matrix: every candidate x strategy x seed (and PET x shots), one folder per run.

Layout of the output folder (what ``compare`` and ``register`` read)::

    <candidate>/<strategy>/seed<k>/result.json     scores, dev and test predictions, curve
    <candidate>/<strategy>/seed<k>/model/          checkpoint: only the dev-best seed keeps one
    <candidate>/<strategy>-<n>pc/seed<k>/          label-budget run: n train labels per class
    skipped.json                                   candidates left out, with the reason
    plan.json                                      the resolved settings (max_len, seeds, ...)

Runs are independent, so they go to spawned processes with one torch thread each (a tiny model
gains little from a second thread; two runs at once nearly double the throughput on 2 cores).
Same seed = same data order on every backbone, which is what makes the gate's comparison paired.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from components.data.writers import write_json
from components.finetune.core import RunResult
from components.finetune.data import Split, budget_subset
from components.finetune.params import FinetuneParams
from components.finetune.run import finetune

RESULT = "result.json"


@dataclass(frozen=True)
class Unit:
    candidate: str
    strategy: str
    seed: int
    shots: int | None = None
    budget: int | None = None  # train labels per class (the label-budget curve); None = all

    @property
    def combo(self) -> str:
        """``<candidate>/<strategy>``; PET adds its shots: ``dapt/pet-32shot``; a label budget
        its labels per class: ``dapt/full-8pc``."""
        if self.strategy == "pet":
            return f"{self.candidate}/pet-{self.shots}shot"
        if self.budget is not None:
            return f"{self.candidate}/{self.strategy}-{self.budget}pc"
        return f"{self.candidate}/{self.strategy}"

    def folder(self, root: Path) -> Path:
        return root / self.combo / f"seed{self.seed}"


def plan(
    candidates: list[str],
    strategies: list[str],
    seeds: int,
    pet_backbones: list[str],
    pet_shots: list[int],
    extra: dict[str, list[str]] | None = None,
    budgets: list[int] | None = None,
    budget_strategy: str = "full",
) -> list[Unit]:
    """Every candidate x strategy x seed, the ``extra`` strategies on their own candidates only,
    PET, and the label-budget curve (every candidate x budget x seed with ``budget_strategy``;
    its full-data point is that strategy's own run, planned here when not already)."""
    units = [Unit(c, s, k) for c in candidates for s in strategies for k in range(seeds)]
    for s, names in (extra or {}).items():
        if s not in strategies:
            units += [Unit(c, s, k) for c in names if c in candidates for k in range(seeds)]
    for c in pet_backbones:
        if c not in candidates:
            continue
        for shots in pet_shots:
            # zero-shot PET has no randomness: one run is the whole distribution
            for k in range(1 if shots == 0 else seeds):
                units.append(Unit(c, "pet", k, shots))
    if budgets:
        planned = set(units)
        units += [
            u for c in candidates for k in range(seeds)
            if (u := Unit(c, budget_strategy, k)) not in planned
        ]  # fmt: skip
        for n in sorted(set(budgets)):
            units += [
                Unit(c, budget_strategy, k, budget=n) for c in candidates for k in range(seeds)
            ]
    return units


def _job(args: tuple) -> RunResult:
    backbone, unit, labels, train, dev, test, ft, out = args
    if unit.budget is not None:  # seed = the run's seed: same rows for every backbone
        train = budget_subset(train, unit.budget, unit.seed)
    return finetune(
        backbone, unit.strategy, labels, train, dev, test, ft, unit.seed, out, unit.shots
    )


def _results(jobs: list[tuple], workers: int) -> Iterator[tuple[int, RunResult]]:
    """(index, result) as runs finish (spawn: forking a process whose torch already started
    OpenMP threads can hang)."""
    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            yield i, _job(job)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_job, job): i for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def run_params(ft: FinetuneParams, workers: int) -> FinetuneParams:
    """The recipe each run gets: one torch thread when runs share the machine. A run's result
    depends on its thread count (reduction order), so a fanned-out unit uses the same rule."""
    workers = workers or os.cpu_count() or 1
    return dataclasses.replace(ft, threads=1) if workers > 1 else ft


def run(
    units: list[Unit],
    folders: dict[str, str],
    labels: list[str],
    splits: tuple[Split, Split, Split],
    ft: FinetuneParams,
    out: Path,
    workers: int,
    on_run: Callable[[Unit, RunResult], None] = lambda u, r: None,
    keep_best: bool = True,
) -> dict[Unit, RunResult]:
    """Run every unit into ``out``; keep the checkpoint of each combination's dev-best seed
    (``keep_best=False``: keep every checkpoint, for a gather that sees all seeds later)."""
    train, dev, test = splits
    run_ft = run_params(ft, workers)
    workers = workers or os.cpu_count() or 1
    jobs = [
        (folders[u.candidate], u, labels, train, dev, test, run_ft,
         None if u.strategy == "pet" else u.folder(out) / "model")
        for u in units
    ]  # fmt: skip
    if jobs:
        print(f"[finetune] {len(jobs)} fine-tuning runs on {min(workers, len(jobs))} process(es)")
    results: dict[Unit, RunResult] = {}
    for i, result in _results(jobs, workers):
        unit = units[i]
        results[unit] = result
        write_json(unit.folder(out) / RESULT, dataclasses.asdict(result))
        on_run(unit, result)
        print(
            f"[finetune] {unit.combo} seed {unit.seed}: dev macro-F1 {result.dev_macro_f1:.4f}, "
            f"test {result.macro_f1:.4f} ({result.seconds:.0f}s, best step {result.best_step})",
            flush=True,
        )
    if keep_best:
        prune(results, out)
    return results


def prune(results: dict[Unit, RunResult], out: Path) -> None:
    """Delete every checkpoint but each combination's dev-best seed."""
    for runs in by_combo(results).values():
        keep = best_seed(runs)
        for unit, _ in runs:
            if unit.seed != keep.seed:
                shutil.rmtree(unit.folder(out) / "model", ignore_errors=True)


def by_combo(results: dict[Unit, RunResult]) -> dict[str, list[tuple[Unit, RunResult]]]:
    out: dict[str, list[tuple[Unit, RunResult]]] = {}
    for unit, result in sorted(results.items(), key=lambda x: (x[0].combo, x[0].seed)):
        out.setdefault(unit.combo, []).append((unit, result))
    return out


def best_seed(runs: list[tuple[Unit, RunResult]]) -> Unit:
    """The seed kept as the deployable model: chosen on dev, never on test."""
    return max(runs, key=lambda x: (x[1].dev_macro_f1, -x[0].seed))[0]


def load(root: Path) -> dict[Unit, RunResult]:
    """The results a finetune stage wrote (what compare and register read)."""
    results: dict[Unit, RunResult] = {}
    for path in sorted(root.glob(f"*/*/seed*/{RESULT}")):
        unit = from_path(*path.parts[-4:-1])
        results[unit] = RunResult(**json.loads(path.read_text(encoding="utf-8")))
    return results


def from_path(candidate: str, key: str, seed: str) -> Unit:
    """The unit of a folder ``<candidate>/<key>/seed<k>`` (``Unit.folder``'s inverse)."""
    if not seed.startswith("seed") or not seed[4:].isdigit():
        raise ValueError(f"not a seed folder: {seed!r}")
    shots = int(key[4:-4]) if key.startswith("pet-") and key.endswith("shot") else None
    if shots is not None:
        return Unit(candidate, "pet", int(seed[4:]), shots)
    strategy, _, budget = key.rpartition("-")
    if strategy and budget.endswith("pc") and budget[:-2].isdigit():
        return Unit(candidate, strategy, int(seed[4:]), budget=int(budget[:-2]))
    return Unit(candidate, key, int(seed[4:]))
