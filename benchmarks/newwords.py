"""New-word discovery: ours vs SmoothNLP, JioNLP and a frequency-only baseline, in one run.

    bash benchmarks/setup_bench_env.sh            # once: the peers live in .venv-bench
    .venv/bin/python benchmarks/newwords.py       # ~10 min on 2 cores; prints markdown tables

Corpora (from ../shared/data, benchmarks only): medical = cMedQA dev+test questions and answers
+ CMDD dialogues (~9 MB); news = Xinwen Lianbo transcripts (~35 MB), also cut to 10 and 20 MB to
show how memory grows. Every tool reads the same text file, one document per line.

Protocol: a tool's ranked list minus single characters and words of jieba's dict.txt (known words
are not new), precision@K against THUOCL medical minus the same general words. Throughput is
corpus MB / seconds of the library call (ours: reading + counting + scoring, background included;
no interpreter start-up for anyone). Peak RSS is sampled over the whole process tree.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.data.lexicon import read_words  # noqa: E402
from components.newwords import core  # noqa: E402
from components.newwords.counting import count_sharded  # noqa: E402

KS = [100, 500, 1000]


def one_line(text: str) -> str:
    return " ".join(text.split())


def prepare(shared: Path, work: Path) -> dict[str, Path]:
    csv.field_size_limit(1 << 30)
    med = work / "medical.txt"
    with open(med, "w", encoding="utf-8") as out:
        for name in ("cmedqa_dev.tsv", "cmedqa_test.tsv"):
            with open(shared / "medical" / name, encoding="utf-8", newline="") as f:
                for row in csv.reader(f, delimiter="\t"):
                    out.writelines(one_line(t) + "\n" for t in row[1:3] if t.strip())
        with open(shared / "medical" / "cmdd_dialogues.jsonl", encoding="utf-8") as f:
            out.writelines(one_line(json.loads(line)["text"]) + "\n" for line in f)
    with open(shared / "bench" / "xinwen_lianbo_news.jsonl", encoding="utf-8") as f:
        news_lines = [one_line(json.loads(line)["text"]) + "\n" for line in f]
    paths = {"medical": med}
    for mb in (10, 20, None):
        name = f"news_{mb}mb" if mb else "news"
        paths[name] = work / f"{name}.txt"
        size = 0
        with open(paths[name], "w", encoding="utf-8") as out:
            for line in news_lines:
                if mb and size >= mb * 1e6:
                    break
                out.write(line)
                size += len(line.encode("utf-8"))
    paths["background"] = shared / "general" / "clue_corpus_small_sample.txt"
    return paths


def run_measured(cmd: list[str], timeout: float, max_rss_gb: float) -> dict:
    """Run ``cmd``; wall seconds, peak RSS of the process tree (sampled), and how it ended."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ps = psutil.Process(proc.pid)
    peak, status = 0, "ok"
    while proc.poll() is None:
        try:
            rss = sum(p.memory_info().rss for p in [ps, *ps.children(recursive=True)])
        except psutil.Error:
            rss = 0
        peak = max(peak, rss)
        if rss > max_rss_gb * 2**30 or time.perf_counter() - start > timeout:
            status = "killed: RSS over limit" if rss > max_rss_gb * 2**30 else "timeout"
            for p in [*ps.children(recursive=True), ps]:
                p.kill()
            break
        time.sleep(0.05)
    output = proc.communicate()[0].decode(errors="replace")
    if status == "ok" and proc.returncode != 0:
        status = f"failed (exit {proc.returncode}): {output.strip().splitlines()[-1:]}"
    return {"wall": time.perf_counter() - start, "peak_mb": peak / 2**20, "status": status}


def ours(corpus: Path, bg: Path, ref: Path, work: Path, args, max_entries: int = 0) -> dict:
    out = work / f"ours-{corpus.stem}-{max_entries}"
    cmd = [sys.executable, "-m", "components.cli", "newwords", "--corpus", str(corpus),
           "--background", str(bg), "--reference", str(ref), "--out", str(out),
           "--no-mlflow", "--no-validated-check", "--params", str(ROOT / "params.yaml")]  # fmt: skip
    if max_entries:
        cmd += ["--max-entries", str(max_entries)]
    res = run_measured(cmd, args.timeout, args.max_rss_gb)
    if res["status"] == "ok":
        metrics = json.loads((out / "metrics.json").read_text())
        with open(out / "lexicon.tsv", encoding="utf-8") as f:
            res["words"] = [line.split("\t", 1)[0] for line in list(f)[1:]]
        res["seconds"] = metrics["seconds"]
        res["exact"] = metrics["exact_counts"]
        res["prune_floor"] = metrics["prune_floor"]
    return res


def peer(tool: str, corpus: Path, work: Path, args) -> dict:
    py = ROOT / ".venv-bench" / "bin" / "python"
    if not py.exists():
        return {"status": "not installed (run benchmarks/setup_bench_env.sh)"}
    out = work / f"{tool}-{corpus.stem}.json"
    cmd = [str(py), str(ROOT / "benchmarks" / "newwords_peers.py"), "--tool", tool,
           "--corpus", str(corpus), "--out", str(out)]  # fmt: skip
    res = run_measured(cmd, args.timeout, args.max_rss_gb)
    if res["status"] == "ok":
        data = json.loads(out.read_text(encoding="utf-8"))
        res["words"], res["seconds"] = data["words"], data["seconds"]
    return res


def freq_only(corpus: Path, min_count: int = 5, max_len: int = 6) -> dict:
    """n-grams of 2..max_len Han characters ranked by frequency alone (same counter as ours)."""
    start = time.perf_counter()
    counts = count_sharded(core.iter_shards([str(corpus)], "domain", 700_000), max_len=max_len)
    rows = []
    for n in range(2, max_len + 1):
        t = counts.domain[n - 1]
        sel = t["counts"] >= min_count
        ids = [t["last"][sel]]
        keys = t["prefix"][sel]
        for j in range(n - 1, 0, -1):  # walk the prefix chain down to the first character
            from components.newwords.counting import lookup

            idx, _ = lookup(counts.domain[j - 1], keys)
            ids.append(counts.domain[j - 1]["last"][idx])
            keys = counts.domain[j - 1]["prefix"][idx]
        import numpy as np

        words = core.decode_ids(np.stack(ids[::-1], axis=1))
        rows += zip(t["counts"][sel].tolist(), words, strict=True)
    rows.sort(key=lambda r: -r[0])
    return {"words": [w for _, w in rows[:5000]], "seconds": time.perf_counter() - start,
            "status": "ok (in-process, RSS not sampled)", "peak_mb": float("nan")}  # fmt: skip


def precision(words: list[str], ref: set[str], general: set[str]) -> dict:
    ev = core.evaluate(words, ref, set(), KS, general=general)
    return {k: ev[f"precision_at_{k}"] for k in KS}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--work", help="scratch folder (default: a temporary one)")
    ap.add_argument("--peers", default="smoothnlp,jionlp")
    ap.add_argument("--timeout", type=float, default=1200)
    ap.add_argument("--max-rss-gb", type=float, default=12.0)
    ap.add_argument("--skip-news-peers", action="store_true", help="peers on medical only")
    ap.add_argument(
        "--small-cap", type=int, default=4_000_000, help="row cap of the 2nd growth run"
    )
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="newwords-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    shared = Path(args.shared)
    paths = prepare(shared, work)
    ref_path = shared / "lexicons" / "THUOCL_medical.txt"
    ref = set(read_words(str(ref_path)))
    general = core.general_dictionary()
    peers = [p for p in args.peers.split(",") if p]
    table = []
    for corpus_name in ("medical", "news"):
        corpus = paths[corpus_name]
        mb = corpus.stat().st_size / 1e6
        results = {"ours": ours(corpus, paths["background"], ref_path, work, args)}
        if corpus_name == "medical" or not args.skip_news_peers:
            for tool in peers:
                print(f"[bench] {tool} on {corpus_name} ({mb:.1f} MB) ...", flush=True)
                results[tool] = peer(tool, corpus, work, args)
        results["freq-only"] = freq_only(corpus)
        for tool, res in results.items():
            row = {"corpus": corpus_name, "mb": mb, "tool": tool, **res}
            if res.get("status", "").startswith("ok"):
                row["mb_s"] = mb / res["seconds"]
                if corpus_name == "medical":
                    row["p"] = precision(res["words"], ref, general)
            table.append(row)
            print(f"[bench] {corpus_name} {tool}: {res.get('status')} "
                  f"{row.get('mb_s', float('nan')):.2f} MB/s", flush=True)  # fmt: skip
    growth = []
    for cap in (0, args.small_cap):  # 0: params.yaml's cap (not reached here); then a small one
        for name in ("news_10mb", "news_20mb", "news"):
            res = ours(paths[name], paths["background"], ref_path, work, args, cap)
            mb = paths[name].stat().st_size / 1e6
            growth.append((cap or "params.yaml", mb, res["peak_mb"], res.get("seconds"),
                           res.get("prune_floor")))  # fmt: skip

    print("\n| corpus | tool | MB | MB/s | peak RSS (MB) | P@100 | P@500 | P@1000 | status |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in table:
        p = r.get("p", {})
        cells = [r["corpus"], r["tool"], f"{r['mb']:.1f}", f"{r.get('mb_s', float('nan')):.2f}",
                 f"{r.get('peak_mb', float('nan')):.0f}",
                 *(f"{p[k]:.3f}" if k in p else "n/a" for k in KS), r.get("status", "")]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    print("\nRatios (ours / best peer on the same corpus):")
    for corpus_name in ("medical", "news"):
        rows = {r["tool"]: r for r in table if r["corpus"] == corpus_name}
        peer_rows = [rows[t] for t in peers if t in rows and "mb_s" in rows[t]]
        if "mb_s" in rows["ours"] and peer_rows:
            best = max(r["mb_s"] for r in peer_rows)
            print(f"  {corpus_name}: throughput x{rows['ours']['mb_s'] / best:.1f}")
            ps = [r["p"][500] for r in peer_rows if "p" in r]
            if ps and "p" in rows["ours"]:
                print(f"  {corpus_name}: P@500 x{rows['ours']['p'][500] / max(max(ps), 1e-9):.1f}")
    print("\nMemory growth (ours, news prefixes):")
    print("| max_entries | MB | peak RSS (MB) | seconds | prune floor |\n|---|---:|---:|---:|---:|")
    for cap, mb, peak, secs, floor in growth:
        print(f"| {cap} | {mb:.1f} | {peak:.0f} | {secs} | {floor} |")
    ours_med = next(r for r in table if r["corpus"] == "medical" and r["tool"] == "ours")
    if "words" in ours_med:
        new = [w for w in ours_med["words"] if len(w) > 1 and w not in general]
        print("\nOurs, medical, top 60 new words (check by eye; * = in THUOCL medical):")
        print(" ".join(w + ("*" if w in ref else "") for w in new[:60]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
