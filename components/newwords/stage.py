"""The new-word stage behind ``dapt newwords`` (components/newwords/cli.py parses): resolve the
params, count (local shards or Ray), score and rank, evaluate against a reference lexicon, write
``lexicon.tsv`` + ``metrics.json`` (+ plot) together, log the MLflow run."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import resource
import time
from pathlib import Path

from tqdm import tqdm

from components.config import (
    build,
    load_section,
    with_derived,
)
from components.data.lexicon import read_words
from components.data.outputs import OutputSet
from components.data.shards import data_bytes, open_documents
from components.data.writers import atomic_open, write_json
from components.domain import domain_lang
from components.errors import InputError
from components.newwords import core
from components.newwords.params import NewwordsParams
from components.stagerun import check_inputs, stage_tracking


def load_params(args: argparse.Namespace) -> NewwordsParams:
    if not Path(args.params).exists():  # ad-hoc use outside the project: documented defaults
        params, lang = NewwordsParams(), "zh"
    else:
        params = load_section("newwords", args.params)
        lang = domain_lang(args.params)
    overrides = {
        k: v
        for k, v in (
            ("top_k", args.top_k),
            ("workers", args.workers),
            ("max_entries", args.max_entries),
        )
        if v is not None
    }
    # Rebuilt through the loader so command-line values get the same range checks.
    data = {k: v for k, v in dataclasses.asdict(params).items() if k != "lang"} | overrides
    params = build(NewwordsParams, data, "newwords")
    return with_derived(params, lang=args.lang or lang)


def _peak_rss_mb() -> dict:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb_main": round(me, 1), "peak_rss_mb_worker": round(kids, 1)}


def discover(args: argparse.Namespace, params: NewwordsParams) -> tuple[core.Ranked, dict]:
    """Count, score and rank; returns the ranking and the metrics (evaluation included)."""
    from components.data.skip import is_empty

    # Canonical files a project's shape left empty (no domain corpus, no task) hold nothing.
    if all(is_empty(p) for p in args.corpus):
        raise InputError(
            args.corpus[0],
            "no text to discover words in: every --corpus file is empty",
            "give a domain corpus (domain.corpus) or a labeled task (domain.task)",
        )
    args.corpus = [p for p in args.corpus if not is_empty(p)]
    args.background = [p for p in args.background if not is_empty(p)]
    if args.reference and is_empty(args.reference):
        args.reference = None  # no reference lexicon: no precision to report (not 0.0)
    for path in [*args.corpus, *args.background]:
        open_documents(path)  # existence and format errors before any work
    total_mb = sum(data_bytes(p) for p in [*args.corpus, *args.background]) / 1e6
    exclude: set[str] = set()
    for path in args.exclude_vocab:
        exclude |= set(read_words(path))
    need_general = params.exclude_general_dict or args.reference
    general = core.general_dictionary() if params.lang == "zh" and need_general else None
    if params.exclude_general_dict and general:
        exclude |= general
    start = time.perf_counter()
    readers: list = []
    bar = tqdm(total=total_mb, unit="MB", desc="newwords count", mininterval=1)

    def progress() -> None:
        bar.update(min(total_mb, sum(r.bytes_read for r in readers) / 1e6) - bar.n)

    from components.execution import load_execution

    engine, ex = load_execution(args.params)
    ref = (
        {core.word_key(w, params.lang) for w in read_words(args.reference)}
        if args.reference
        else None
    )
    shuffle = ranked = facts = cand = None
    if params.lang == "zh" and engine == "ray":
        # Counted, scored and ranked in the partitions: the driver gets each one's top_k.
        from components.execution import ray_session
        from components.newwords.ray_scores import rank_ray

        stop = set(params.stop_chars)
        with ray_session():
            ranked, facts = rank_ray(
                args.corpus,
                args.background,
                params,
                exclude,
                stop,
                ref,
                batch_docs=ex.ray_batch_docs,
                chunk_chars=int(params.shard_mb * 1e6 / 3),  # as the local shards
            )
        counts, unit, need = None, "Han characters", params.max_len
    elif params.lang == "zh":
        from components.newwords.counting import count_sharded

        chars = int(params.shard_mb * 1e6 / 3)  # ~3 UTF-8 bytes per Han character
        shards = itertools.chain(
            core.iter_shards(args.corpus, "domain", chars, readers),
            core.iter_shards(args.background, "background", chars, readers),
        )
        counts = count_sharded(
            shards,
            max_len=params.max_len + 1,
            workers=params.workers,
            max_entries=params.max_entries,
            on_shard=progress,
        )
        progress()
        cand = core.zh_candidates(counts, params)
        unit, need = "Han characters", params.max_len
        stop = set(params.stop_chars)
    else:
        vocab = {w for path in args.exclude_vocab for w in read_words(path)}
        unit, need = "words", params.max_words
        stop = set(params.stop_words)
        exclude = {w.lower() for w in exclude}
        if engine == "ray":  # counted, scored and ranked in the partitions, as Chinese
            from components.execution import ray_session
            from components.newwords.english_ray_scores import rank_ray_en

            with ray_session():
                ranked, facts = rank_ray_en(
                    args.corpus,
                    args.background,
                    params,
                    vocab,
                    exclude,
                    stop,
                    ref,
                    batch_docs=ex.ray_batch_docs,
                )
        else:
            from components.newwords.english import en_candidates

            def texts(paths):
                for path in paths:
                    reader = open_documents(path)
                    readers.append(reader)
                    for doc in reader:
                        yield doc.text
                    progress()

            bg = texts(args.background) if args.background else None
            cand = en_candidates(texts(args.corpus), bg, params, vocab)
        counts = None
    if facts is not None:  # the Ray path: scored in the partitions, exact counts
        shuffle, n_domain, n_background = facts["shuffle"], facts["n_domain"], facts["n_background"]
        stats = {"workers": facts["workers"], "prune_floor": 0}
        bar.update(total_mb - bar.n)
    else:
        n_domain, n_background, stats = cand.n_domain, cand.n_background, cand.stats
    bar.close()
    if n_domain == 0:
        raise InputError(
            args.corpus[0],
            f"the corpus holds no {unit} (lang={params.lang})",
            "check the text field, or pass --lang en for English / --lang zh for Chinese",
        )
    if n_domain < need:
        raise InputError(
            args.corpus[0],
            f"the corpus holds only {n_domain} {unit}, fewer than the longest candidate ({need})",
            "give a larger corpus, or lower newwords.max_len / max_words",
        )
    if ranked is None:
        ranked = core.rank(cand, params, exclude, stop, lang=params.lang)
    seconds = time.perf_counter() - start  # reading, counting, scoring and ranking
    metrics = {
        "lang": params.lang,
        "corpus_mb": round(total_mb, 3),
        "seconds": round(seconds, 3),
        "mb_per_s": round(total_mb / seconds, 3) if seconds else None,
        "units_domain": n_domain,
        "units_background": n_background,
        "candidates": ranked.candidates,
        "filtered": ranked.filtered,
        "listed": len(ranked.rows),
        "workers": stats.get("workers", 1),
        "prune_floor": stats.get("prune_floor", 0),
        "exact_counts": stats.get("prune_floor", 0) == 0,
    }
    if ref is not None:
        words = [r[0] for r in ranked.rows]
        if facts is not None:
            occurring = facts["occurring"]
        elif counts is not None:
            occurring = core.zh_occurring(ref, counts, params)
        else:
            occurring = ref & {core.word_key(w, "en") for w in cand.words}
        metrics["eval"] = core.evaluate(words, ref, occurring, params.eval_k)
        if general is not None:
            metrics["eval_new_words"] = core.evaluate(
                words, ref, occurring, params.eval_k, general=general
            )
    else:
        metrics["eval"] = None
        metrics["eval_note"] = "no reference lexicon (domain.lexicons): precision not measured"
    if shuffle is not None:
        metrics.update(engine="ray", shuffle=shuffle)
    metrics.update(_peak_rss_mb())
    return ranked, metrics


def write_lexicon(path: Path, rows: list[tuple]) -> None:
    with atomic_open(path) as f:
        f.write("\t".join(core.COLUMNS) + "\n")
        for row in rows:
            f.write("\t".join(str(x) for x in row) + "\n")


def run(args: argparse.Namespace) -> int:
    params = load_params(args)
    check_inputs(args, [*args.corpus, *args.background])
    ranked, metrics = discover(args, params)
    out = Path(args.out)
    with OutputSet() as outs:  # lexicon, metrics and plot are replaced together or not at all
        write_lexicon(outs.file(out / "lexicon.tsv"), ranked.rows)
        write_json(outs.file(out / "metrics.json"), metrics)
        if args.plot:
            from components.newwords.plot import plot

            plot(ranked.rows, metrics, outs.file(args.plot))
    ev = metrics.get("eval_new_words") or metrics.get("eval") or {}
    pk = ", ".join(f"P@{k.split('_')[-1]} {v}" for k, v in ev.items() if k.startswith("precision"))
    print(
        f"[newwords] {metrics['corpus_mb']} MB at {metrics['mb_per_s']} MB/s, "
        f"{metrics['candidates']} candidates -> {metrics['listed']} listed in {out / 'lexicon.tsv'}"
        + (f"; {pk}" if pk else "")
    )
    inputs = [*args.corpus, *args.background] + ([args.reference] if args.reference else [])
    with stage_tracking("newwords", params, args, inputs) as t:
        t.metrics(metrics)
        t.artifact(out / "lexicon.tsv")
        t.artifact(out / "metrics.json")
        if args.plot:
            t.artifact(args.plot)
    return 0
