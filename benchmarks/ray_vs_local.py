"""Data stages on ``engine: local`` vs ``engine: ray`` on this machine (docs/benchmarks.md, docs/ray.md).

    .venv/bin/python benchmarks/ray_vs_local.py                  # news x1 and x4 (~15 min on 2 cores)
    .venv/bin/python benchmarks/ray_vs_local.py --factors 1 4 16 # adds x16 (552 MB; ~1 h)
    .venv/bin/python benchmarks/ray_vs_local.py --engines local ray ray-shards  # + shard folders
    .venv/bin/python benchmarks/ray_vs_local.py --lang en --stages newwords --factors 1 4 16

Ingest: one corpus role of JSONL sources as the stage runs it (read, normalised, deduplicated and
written; on Ray end to end, ``ingest/ray_corpus.py``). Validation under ``ray-shards`` scans the
copies as one shard folder (hard links), the others each copy as a file.

Input (benchmarks only read ../shared): the Xinwen Lianbo news transcripts (34.5 MB, 1,423
documents), written as one JSONL shard per copy for x1, x4, x16 (copies get new ids; their texts
are exact duplicates, so mining drops them as exact_dup after scoring them: scoring, the costly
part, still sees every byte). Seed (mining), background (new words) and dev/test texts
(decontamination) are the bundled samples.

``--lang en`` (new words only): the domain is the English scientific text under --shared
(ChemProt and ACL-ARC citation contexts, 3.3 MB), background the bundled WikiText-2 general
text. Copy k > 0 renames every word of 5+ letters (``word`` -> ``wordqk``): the same text
statistics with new content words, so the distinct n-grams grow with the copies as a larger
real corpus's do (exact copies would only raise the counts of the same n-grams).

Each (stage, engine, factor) runs in a fresh process; the parent samples the PSS of that process
and all its descendants (Ray's raylet and workers included) every 0.2 s and reports the largest
single process and the sum (PSS: the object store's shared pages are split among the processes
that map them instead of being counted once per reader), and, apart, the largest process's PSS
outside Ray's object store (what a worker holds itself) and the store's pages summed over all
processes (bounded by Ray's ``object_store_memory``, which ``--object-store-mb`` sets for the
local Ray; Ray spills to disk beyond it). Ray's start-up (``ray.init``) is timed apart from the stage.
Throughput = input MB / stage seconds (start-up excluded). The shuffle figures are the new-word
counter's (``ray_counting``): bytes of partitioned tables moved, and the whole counting phase.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
NEWS = Path("bench") / "xinwen_lianbo_news.jsonl"  # under --shared
ENGLISH = [
    f"english/{t}_{s}.jsonl"
    for t in ("chemprot", "citation_intent")
    for s in ("train", "dev", "test")
]
EN_GENERAL = ROOT / "examples" / "acl-arc" / "data" / "general" / "wikitext2.txt"
EN_VOCAB = ROOT / "models" / "base-en-tiny" / "tokenizer.json"
_LONG_WORD = re.compile(r"\b([A-Za-z]{5,})\b")
STAGES = ("ingest", "validate", "decontaminate", "mine", "newwords")


def write_rows(path: Path, rows) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def prepare_en(shared: Path, work: Path, factors: list[int]) -> dict:
    texts = [
        json.loads(line)["text"]
        for name in ENGLISH
        for line in (shared / name).read_text(encoding="utf-8").splitlines()
        if line
    ]
    shards = []
    for k in range(max(factors)):
        suffix = f"q{k}" if k else ""  # copy 0 is the text itself
        rows = (
            {"id": f"{i}#{k}", "text": _LONG_WORD.sub(rf"\g<1>{suffix}", t)}
            for i, t in enumerate(texts)
        )
        shards.append(str(write_rows(work / f"en_{k:02d}.jsonl", rows)))
    general = EN_GENERAL.read_text(encoding="utf-8").splitlines()  # the ray engine reads JSONL
    rows = ({"id": f"w{i}", "text": t} for i, t in enumerate(general) if t.strip())
    return {
        "shards": shards,
        "background": str(write_rows(work / "general.jsonl", rows)),
        "lang": "en",
    }


def prepare(shared: Path, work: Path, factors: list[int]) -> dict:
    sys.path.insert(0, str(ROOT))
    from components.data.shards import read_documents

    news = [
        json.loads(line)
        for line in (shared / NEWS).read_text(encoding="utf-8").splitlines()
        if line
    ]
    shards = []
    for k in range(max(factors)):
        rows = ({"id": f"{r['id']}#{k}", "text": r["text"]} for r in news)
        shards.append(str(write_rows(work / f"news_{k:02d}.jsonl", rows)))
    samples = ROOT / "data" / "samples"
    general = [
        {"id": d.id, "text": d.text}
        for d in read_documents(samples / "general" / "clue_corpus_small_sample.txt")
    ]
    evals = {}
    for split in ("dev", "test"):
        with open(samples / "medical" / f"cmedtc_{split}.tsv", encoding="utf-8", newline="") as f:
            rows = [
                {"id": f"{split}{i}", "text": r[1]}
                for i, r in enumerate(csv.reader(f, delimiter="\t"))
                if len(r) > 1
            ]
        evals[split] = str(write_rows(work / f"{split}.jsonl", rows))
    return {
        "shards": shards,
        "seed": str(samples / "medical" / "cmdd_dialogues.jsonl"),
        "background": str(write_rows(work / "general.jsonl", general)),
        "evals": evals,
    }


def one(stage: str, engine: str, factor: int, data: dict, work: Path) -> dict:
    """Run one stage in this process; returns its figures (printed as JSON for the parent)."""
    sys.path.insert(0, str(ROOT))
    # ray-shards: the ray engine leaving mining's and decontamination's outputs as shard folders
    sharded_out = engine == "ray-shards"
    out = work / f"{stage}-{engine}-{factor}"
    out.mkdir()
    engine = "ray" if sharded_out else engine
    os.environ["DAPT_ENGINE"] = engine
    init_s = 0.0
    if engine == "ray":
        import ray

        t = time.perf_counter()
        store = os.environ.get("BENCH_OBJECT_STORE_MB")  # --object-store-mb
        kw = {"object_store_memory": int(float(store) * 1e6)} if store else {}
        ray.init(include_dashboard=False, log_to_driver=False, **kw)
        ray.data.DataContext.get_current().enable_progress_bars = False
        init_s = time.perf_counter() - t
    from components.config import load_section, with_derived
    from components.execution import load_execution

    _, ex = load_execution(ROOT / "params.yaml")
    shards = data["shards"][:factor]
    mb = sum(os.path.getsize(p) for p in shards) / 1e6
    extra: dict = {}
    t = time.perf_counter()
    if stage == "ingest":  # one corpus role of JSONL sources, as the stage runs it (and writes)
        from collections import Counter

        from components.data.writers import write_jsonl
        from components.domain import SourceSpec
        from components.ingest import core, ray_corpus

        p = load_section("ingest", ROOT / "params.yaml")
        specs = [SourceSpec(path=s) for s in shards]
        dest = out / "general.jsonl"
        if engine == "ray":  # read, normalise, dedup (a hash shuffle) and write on Ray
            kw = {"allow_links": False, "links": core.Links(), "shards": sharded_out}
            counts = ray_corpus.ingest_role(
                specs, p, "domain.general", dest, batch_docs=ex.ray_batch_docs, **kw
            )
        else:
            counts = Counter()
            write_jsonl(dest, core.corpus_docs(specs, p, counts, "domain.general"))
        extra = {"kept": counts["kept"]}
    elif stage == "validate":  # the streaming statistics and the GX sample of each shard
        from components.data.shards import open_documents, part_name
        from components.validate import core, ray_driver
        from components.validate.params import CorpusChecks

        scan = ray_driver.scanner(ex.ray_batch_docs) if engine == "ray" else core.scan_here
        datasets = shards
        if sharded_out:  # the copies as one shard folder (hard links: no bytes copied)
            folder = out / "news.jsonl"
            folder.mkdir()
            for k, s in enumerate(shards):
                os.link(s, folder / part_name(k))
            datasets = [str(folder)]
        docs = 0
        for s in datasets:
            stats, _ = scan(open_documents(s), CorpusChecks())
            docs += stats.n_docs
        extra = {"docs": docs}
    elif stage == "decontaminate":
        from components.decontaminate import driver, ray_driver

        p = with_derived(load_section("decontaminate", ROOT / "params.yaml"), lang="zh")
        sources = {Path(s).stem: s for s in shards}
        if engine == "ray":
            ray_driver.run(sources, data["evals"], out, out, p, ex.ray_batch_docs, sharded_out)
        else:
            driver.run(sources, data["evals"], out, out, p)
    elif stage == "mine":
        from components.mine.core import mine

        p = with_derived(load_section("mine", ROOT / "params.yaml"), lang="zh")
        m = mine(
            [data["seed"]],
            shards,
            out,
            p,
            progress=False,
            engine=engine,
            batch_docs=ex.ray_batch_docs,
            shards=sharded_out,
        )
        sec = m["seconds"]
        extra = {"selected": m["selected_docs"], "stats_s": sec["stats"], "score_s": sec["score"]}
        if "dedup" in m:  # ray: the pass's parts; resolve and assemble run in the driver
            extra.update({f"{k}_s": v for k, v in m["dedup"]["seconds"].items()})
            extra["involved"] = m["dedup"]["involved_docs"]
        else:  # local: dedup runs inside the score pass; cutoff and writing after it
            extra["driver_s"] = round(sec["total"] - sec["stats"] - sec["fit"] - sec["score"], 2)
    else:
        from components.cli import main

        args = ["newwords", "--corpus", *shards, "--background", data["background"],
                "--out", str(out), "--params", str(ROOT / "params.yaml"), "--no-mlflow",
                "--no-validated-check"]  # fmt: skip
        if data.get("lang") == "en":
            args += ["--lang", "en", "--exclude-vocab", str(EN_VOCAB)]
        assert main(args) == 0
        m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        extra = {"listed": m["listed"], **m.get("shuffle", {})}
    seconds = time.perf_counter() - t
    label = "ray-shards" if sharded_out else engine
    return {"stage": stage, "engine": label, "factor": factor, "mb": round(mb, 1),
            "seconds": round(seconds, 2), "mb_s": round(mb / seconds, 2),
            "ray_init_s": round(init_s, 1), **extra}  # fmt: skip


def kill_tree(proc: psutil.Process) -> None:
    for p in [*proc.children(recursive=True), proc]:
        with contextlib.suppress(psutil.Error):
            p.kill()


STORE = "/dev/shm/plasma"  # Ray's object store: a shared-memory file every process maps


def pss_split(p: psutil.Process) -> tuple[float, float]:
    """(PSS of ``p`` outside Ray's object store, PSS of its share of the store), MB. A page of
    the store counts in the PSS of the processes that touched it (the worker that wrote an
    object, the readers), split among them."""
    own = store = 0.0
    for m in p.memory_maps(grouped=True):
        if m.path.startswith(STORE):
            store += m.pss
        else:
            own += m.pss
    return own / 1e6, store / 1e6


def measure(cmd: list[str], max_total_mb: float) -> tuple[dict | None, str, float, str, float]:
    """(child's JSON result, "largest single-process peak PSS MB (its name)", peak total PSS,
    "largest single-process peak PSS outside the object store MB (its name); the driver's", peak
    PSS of the object store summed over processes).

    The store's size is Ray's configuration (``object_store_memory``; beyond it Ray spills to
    disk), not the stage's: what a worker holds itself is its PSS outside the store.
    The result is None when the child failed or was stopped for passing ``max_total_mb`` (the
    kernel's OOM killer would otherwise pick a victim on this machine, possibly not the child).
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    top = total = top_own = top_store = driver_own = 0.0
    stopped = False
    top_name = own_name = ""
    me = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            procs = [me, *me.children(recursive=True)]
            rows = []
            for p in procs:
                with contextlib.suppress(psutil.Error):  # a worker may exit between the calls
                    # PSS, not RSS: the store's pages are split among the processes that map
                    # them; RSS would count them once per reader.
                    own, store = pss_split(p)
                    rows.append((own + store, own, store, "driver" if p is me else p.name()))
            big = max(rows, default=(0.0, 0.0, 0.0, ""))
            if big[0] > top:
                top, top_name = big[0], big[3]
            mine = max(rows, default=(0.0, 0.0, 0.0, ""), key=lambda r: r[1])
            if mine[1] > top_own:
                top_own, own_name = mine[1], mine[3]
            driver_own = max([driver_own, *(r[1] for r in rows if r[3] == "driver")])
            total = max(total, sum(r[0] for r in rows))
            top_store = max(top_store, sum(r[2] for r in rows))
        except psutil.Error:
            pass
        if total > max_total_mb and not stopped:
            stopped = True
            kill_tree(me)
        time.sleep(0.2)
    # The stage and Ray Data also print to stdout: the result is the line the child marked.
    out = [x for x in proc.stdout.read().splitlines() if x.startswith('{"stage"')]
    own = f"{round(top_own)} ({own_name}); driver {round(driver_own)}"
    figures = (f"{round(top)} ({top_name})", round(total), own)
    if stopped or proc.returncode != 0 or not out:
        why = f"stopped above {max_total_mb:.0f} MB" if stopped else f"exit {proc.returncode}"
        print(f"{' '.join(cmd[-4:-1])}: {why}", file=sys.stderr, flush=True)
        return None, *figures, round(top_store)
    return json.loads(out[-1]), *figures, round(top_store)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data",
                    help="the shared data folder (default: ../shared/data)")  # fmt: skip
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    ap.add_argument("--lang", choices=["zh", "en"], default="zh",
                    help="en: English scientific text (new words only), see above")  # fmt: skip
    ap.add_argument(
        "--engines",
        nargs="+",
        default=["local", "ray"],
        choices=["local", "ray", "ray-shards"],
        help="ray-shards: ray with execution.shards (ingest, mine and decontaminate leave shard "
        "folders; validation scans the copies as one shard folder)",
    )
    ap.add_argument(
        "--max-total-mb",
        type=float,
        default=0.85 * psutil.virtual_memory().total / 1e6,
        help="stop a run whose processes together pass this PSS (default: 85%% of this machine's memory)",
    )
    ap.add_argument(
        "--object-store-mb",
        type=float,
        help="size of the local Ray's object store (default: Ray's, 30%% of memory); a store "
        "smaller than the input shows what is bounded by it (Ray spills the rest to disk)",
    )
    ap.add_argument(
        "--one", nargs=4, metavar=("STAGE", "ENGINE", "FACTOR", "WORK"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.lang == "en" and set(args.stages) != {"newwords"}:
        ap.error("--lang en benchmarks new words only: add --stages newwords")
    if args.one:
        stage, engine, factor, work = args.one
        data = json.loads((Path(work) / "data.json").read_text(encoding="utf-8"))
        print(json.dumps(one(stage, engine, int(factor), data, Path(work))), flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="ray-vs-local-") as tmp:
        work = Path(tmp)
        prep = prepare_en if args.lang == "en" else prepare
        data = prep(args.shared, work, args.factors)
        (work / "data.json").write_text(json.dumps(data), encoding="utf-8")
        if args.object_store_mb:
            os.environ["BENCH_OBJECT_STORE_MB"] = str(args.object_store_mb)
        print(
            "| stage | engine | input | MB/s | seconds | Ray start s | largest process PSS MB | largest process outside the store MB | object store MB | all processes PSS MB | notes |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for factor in args.factors:
            for stage in args.stages:
                for engine in args.engines:
                    cmd = [sys.executable, __file__, "--one", stage, engine, str(factor), str(work)]
                    r, top, total, own, store = measure(cmd, args.max_total_mb)
                    if r is None:
                        print(f"| {stage} | {engine} | x{factor} | - | - | - | {top} | {own} | {store} | {total} | "
                              "did not finish: see stderr |", flush=True)  # fmt: skip
                        continue
                    notes = {
                        k: v
                        for k, v in r.items()
                        if k
                        not in ("stage", "engine", "factor", "mb", "seconds", "mb_s", "ray_init_s")
                    }
                    print(f"| {stage} | {engine} | x{factor} ({r['mb']} MB) | {r['mb_s']} | {r['seconds']} | "
                          f"{r['ray_init_s'] or '-'} | {top} | {own} | {store} | {total} | {json.dumps(notes) if notes else ''} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
