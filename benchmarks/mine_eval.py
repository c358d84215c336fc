"""Mining with known truth: recover held-out medical documents hidden in general text.

The medical corpus (cMedQA questions and answers + CMDD dialogues; exact duplicates and texts
under 10 characters removed) is shuffled and split: ``--holdout`` of it is hidden in a pool with
general text (CLUECorpusSmall sample + the 35 MB Xinwen Lianbo news corpus), the rest is the seed.
Every method selects at budget = the number of hidden medical documents; precision, recall and
F1 are measured against them. Baseline: random selection at the same budget (its expected F1 is
the medical share of the pool); each method's F1 is printed as a ratio over it.

Then the default method runs on pools with 25 % / 100 % / 400 % of the general text (beyond
100 %: new documents recombined from random sentences of the originals), to show that peak
memory (PSS of the stage's whole process tree, sampled every 50 ms) is flat in pool size up to
the dedup index, and bounded once ``hygiene.dedup_max_docs`` is reached (last run).

    .venv/bin/python benchmarks/mine_eval.py [--data /work/shared/data] [--methods dsir ...]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.data.shards import read_documents  # noqa: E402
from components.data.text import normalize, split_sentences  # noqa: E402
from components.mine.params import METHODS  # noqa: E402


def medical_docs(data: Path) -> list[str]:
    texts = []
    for name in ("cmedqa_dev.tsv", "cmedqa_test.tsv"):
        texts += [
            d.text
            for d in read_documents(
                data / "medical" / name,
                columns=["label", "question", "answer"],
                text_field=["question", "answer"],
            )
        ]
    texts += [d.text for d in read_documents(data / "medical" / "cmdd_dialogues.jsonl")]
    return _clean(texts)


def general_docs(data: Path) -> list[tuple[str, str]]:
    clue = _clean(d.text for d in read_documents(data / "general/clue_corpus_small_sample.txt"))
    news = _clean(d.text for d in read_documents(data / "bench/xinwen_lianbo_news.jsonl"))
    return [("clue", t) for t in clue] + [("news", t) for t in news]


def _clean(texts) -> list[str]:
    seen, out = set(), []
    for t in texts:
        t = normalize(t, unescape_html=True)
        if len(t) >= 10 and t not in seen:
            seen.add(t)
            out.append(t)
    return out


def synthetic(general: list[tuple[str, str]], n: int, rng: random.Random):
    """``n`` new general documents: random sentences of random documents (unique, not near
    duplicates of any original), each as long as a randomly drawn original."""
    sentences = [x for _, t in general for x in split_sentences(t)]
    out = []
    for _ in range(n):
        src, text = rng.choice(general)
        parts, size = [], 0
        while size < len(text):
            parts.append(rng.choice(sentences))
            size += len(parts[-1])
        out.append((f"synthetic_{src}", "".join(parts)))
    return out


def write(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def run_mine(
    work: Path, seed: Path, pool: Path, method: str, top_n: int, workers: int, cap: int = 0
) -> dict:
    """One ``dapt mine`` process; peak memory of its process tree is sampled every 50 ms."""
    out = work / f"out_{method}_{pool.stem}{f'_cap{cap}' if cap else ''}"
    params = ROOT / "params.yaml"
    if cap:  # the project's params with a smaller dedup memory cap
        import yaml

        data = yaml.safe_load(params.read_text(encoding="utf-8"))
        data["mine"]["hygiene"]["dedup_max_docs"] = cap
        params = work / f"params_cap{cap}.yaml"
        params.write_text(yaml.safe_dump(data), encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "components.cli",
        "mine",
        "--seed",
        str(seed),
        "--pool",
        str(pool),
        "--out",
        str(out),
        "--method",
        method,
        "--top-n",
        str(top_n),
        "--workers",
        str(workers),
        "--metrics",
        str(out) + ".metrics.json",
        "--plot",
        str(out) + ".png",
        "--params",
        str(params),
        "--no-progress",
        "--no-mlflow",
        "--no-validated-check",
    ]
    start = time.perf_counter()
    cpu0 = _children_cpu()
    proc = psutil.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [proc, *proc.children(recursive=True)]
            # PSS: pages shared by the forked workers are counted once, not once per process.
            peak = max(peak, sum(p.memory_full_info().pss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    _, stderr = proc.communicate()
    cpu = _children_cpu() - cpu0
    if proc.returncode:
        raise SystemExit(f"{method} failed:\n{stderr.decode()[-3000:]}")
    metrics = json.loads(Path(str(out) + ".metrics.json").read_text())
    with open(out / "scores.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return {
        "metrics": metrics,
        "rows": rows,
        "peak_tree_mb": peak / 2**20,
        "wall": wall,
        "cpu": cpu,
    }


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def prf(rows: list[dict], truth: set[str]) -> dict:
    kept = {r["id"] for r in rows if r["kept"]}
    tp = len(kept & truth)
    p = tp / len(kept) if kept else 0.0
    r = tp / len(truth) if truth else 0.0
    missed = Counter(
        r["reason"] or "kept" for r in rows if r["id"] in truth and r["id"] not in kept
    )
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "missed": missed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--holdout", type=float, default=0.3)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--memory-method", default="dsir", choices=METHODS)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mine_eval."))
    work.mkdir(parents=True, exist_ok=True)

    rng = random.Random(0)
    med = medical_docs(args.data)
    rng.shuffle(med)
    n_hold = int(len(med) * args.holdout)
    hidden, seed = med[:n_hold], med[n_hold:]
    general = general_docs(args.data)
    rng.shuffle(general)
    write(work / "seed.jsonl", [{"id": f"seed:{i}", "text": t} for i, t in enumerate(seed)])
    hidden_rows = [{"id": f"med:{i}", "text": t} for i, t in enumerate(hidden)]
    truth = {r["id"] for r in hidden_rows}

    def pool_file(share: float) -> Path:
        gen = (
            general[: int(len(general) * share)]
            if share <= 1
            else general + synthetic(general, int(len(general) * (share - 1)), random.Random(2))
        )
        rows = hidden_rows + [{"id": f"{src}:{i}", "text": t} for i, (src, t) in enumerate(gen)]
        random.Random(1).shuffle(rows)
        path = work / f"pool_{int(share * 100)}.jsonl"
        write(path, rows)
        return path

    pool = pool_file(1.0)
    mb = os.path.getsize(pool) / 1e6
    print(
        f"seed {len(seed)} medical docs; pool {mb:.1f} MB: {len(hidden)} hidden medical + "
        f"{len(general)} general (CLUE + news) docs; budget = {len(hidden)}"
    )
    share = len(hidden) / (len(hidden) + len(general))
    print(f"baseline random selection: expected precision = recall = F1 = {share:.3f}\n")
    header = (
        "| method | precision | recall | F1 | F1 / random | score pass MB/s (wall) | "
        "score pass MB per CPU-s | scorer alone MB per CPU-s | end-to-end MB/s | "
        "peak memory (tree PSS) MB | hidden docs missed, by reason |"
    )
    print(header)
    print("|" + "---|" * 11)
    results = {}
    for method in args.methods:
        res = run_mine(work, work / "seed.jsonl", pool, method, len(hidden), args.workers)
        q = prf(res["rows"], truth)
        m = res["metrics"]
        t = m["throughput_mb_s"]
        results[method] = q["f1"]
        print(
            f"| {method} | {q['precision']:.3f} | {q['recall']:.3f} | {q['f1']:.3f} | "
            f"{q['f1'] / share:.1f}x | {t['score_pass']:.1f} | "
            f"{t['score_pass_per_cpu_second']:.1f} | {t['scorer_only_per_cpu_second']:.1f} | "
            f"{t['end_to_end']:.1f} | {res['peak_tree_mb']:.0f} | "
            f"{dict(q['missed'].most_common())} |",
            flush=True,
        )
    print(f"\nbest F1: {max(results, key=results.get)}\n")

    print(f"memory vs pool size ({args.memory_method}):\n")
    print(
        "| general share | pool MB | pool docs | peak memory (tree PSS) MB | "
        "score pass MB/s (wall) | score pass MB per CPU-s |"
    )
    print("|---|---|---|---|---|---|")
    peaks = []
    for s in (0.25, 1.0, 4.0):
        p = pool if s == 1.0 else pool_file(s)
        res = run_mine(work, work / "seed.jsonl", p, args.memory_method, len(hidden), args.workers)
        peaks.append(res["peak_tree_mb"])
        m = res["metrics"]
        print(
            f"| {s:.0%} | {os.path.getsize(p) / 1e6:.1f} | {m['pool_docs']} | "
            f"{res['peak_tree_mb']:.0f} | {m['throughput_mb_s']['score_pass']:.1f} | "
            f"{m['throughput_mb_s']['score_pass_per_cpu_second']:.1f} |",
            flush=True,
        )
    print(f"\npeak memory, largest / smallest pool: {peaks[-1] / peaks[0]:.2f}")
    cap = 5000
    res = run_mine(
        work, work / "seed.jsonl", p, args.memory_method, len(hidden), args.workers, cap=cap
    )
    m = res["metrics"]
    print(
        f"400% pool with hygiene.dedup_max_docs={cap}: peak memory {res['peak_tree_mb']:.0f} MB, "
        f"{m['dedup_unindexed_docs']} clean documents checked but not remembered"
    )
    print(f"load average during the run: {os.getloadavg()}")
    print(f"scratch: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
