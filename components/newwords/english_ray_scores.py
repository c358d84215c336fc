"""Cohesion, scores and the ranking inside the partitions (English, ``engine: ray``): the driver
gets each partition's best ``top_k`` rows and a few sums, never the tables.

After counting and the neighbour shuffle (``english_ray``) each partition holds its candidates
(n-grams of count >= min_count, up to max_words words, in first-seen order), their background
counts and neighbour sums. Cohesion of a candidate reads the counts of its prefixes and suffixes,
whose rows are in other partitions; a sub-gram is at least as frequent as the candidate, so it is
a candidate row of its own partition. As for characters (``ray_scores``):

5. ask     each partition sends the distinct sub-grams it needs to their partitions;
6. answer  each partition looks them up in its own rows and sends the counts back;
7. score   each partition builds its candidates with the local function
           (``english.candidate_row``), filters and scores them (``core.keep_order``) and returns
           its best ``top_k`` rows with (score, length, first seen), the filter counts, the
           number of candidates and the reference words among them.

The driver merges the rows by (score descending, length, first seen): the local order (the local
table's, kept by the stable sort by score). Counts stay Python ints, so every float is computed
by the same Python expression on the same numbers: the lexicon equals the local one byte for
byte.
"""

from __future__ import annotations

import pickle
import time

from components.newwords import core
from components.newwords.english import candidate_row, candidates_of
from components.newwords.english_ray import counted_en, part_of
from components.newwords.ray_counting import Outbox, batch_rows, inbox, shuffle_stats
from components.newwords.ray_scores import score_shuffles


def _sub_grams(rows: list) -> set[tuple]:
    """Every prefix and suffix of the candidates of 2+ words (what their cohesion reads)."""
    return {
        sub
        for grams, _, _ in rows[1:]
        for g in grams
        for i in range(1, len(g))
        for sub in (g[:i], g[i:])
    }


def ask_en(batch: dict, parts: int) -> dict:
    """Map: each partition's own rows (to itself) and the sub-grams it needs (to theirs)."""
    out = Outbox()
    for part, blob, volume in batch_rows(batch):
        rows, _, _ = pickle.loads(blob)
        asks: dict[int, list] = {}
        for sub in _sub_grams(rows):
            asks.setdefault(part_of(sub, parts), []).append(sub)
        out.keep(part, blob, volume)
        for r, grams in asks.items():
            out.send(r, ("ask", int(part), grams))
    return out.rows


def answer_en(group: dict) -> dict:
    """Reduce: the counts of the sub-grams other partitions asked for, sent back to them."""
    part, own_blob, own, asks, volume = inbox(group)
    out, counts = Outbox(), {}
    if own is not None:
        out.keep(part, own_blob, volume)
        for grams, ks, _ in own[0]:
            counts.update(zip(grams, ks, strict=True))
    for _, src, grams in asks:  # a sub-gram of a candidate is a candidate row: always found
        out.send(src, ("reply", {g: counts[g] for g in grams if g in counts}))
    return out.rows


def score_en(group: dict, n_words: int, n_bg: int, ref) -> dict:
    """Reduce: one partition's candidates scored and ranked; its best ``top_k`` rows. ``ref``:
    the object-store reference of ``score_group``'s ``state``."""
    import ray

    return score_group(group, n_words, n_bg, ray.get(ref))


def score_group(group: dict, n_words: int, n_bg: int, state: tuple) -> dict:
    """``score_en`` on the state itself: (params, lower-cased base vocabulary, excluded words,
    stop words, reference words or None)."""
    p, lower_vocab, exclude, stop, reference = state
    part, _, own, replies, volume = inbox(group)
    if own is None:  # replies only reach partitions that asked, which have rows
        raise RuntimeError(f"new words: partition {part} got replies but no rows")
    rows, bg, sides = own
    got = {}
    for _, counts in replies:
        got.update(counts)

    def count_of(gram: tuple) -> int:
        if gram not in got:
            raise RuntimeError(f"new words: partition {part} got no count for {' '.join(gram)!r}")
        return got[gram]

    scored, places = [], []
    for grams, ks, firsts in rows:  # lengths 1..max_words, each in first-seen order
        for g, k, first in zip(grams, ks, firsts, strict=True):
            row = candidate_row(g, k, count_of, sides, bg.get(g, 0), n_words, p, lower_vocab)
            if row is not None:
                scored.append(row)
                places.append((len(g), first))
    cand = candidates_of(scored, n_words, n_bg, 1)
    top: list = []
    filtered: dict = {}
    if cand.words:
        order, masks, (score, domain, _) = core.keep_order(
            cand, p, core.word_masks(cand, exclude, stop, "en")
        )
        lexicon = core.lexicon_rows(cand, order, score, domain)
        top = [(float(score[i]), *places[i], row) for i, row in zip(order, lexicon, strict=True)]
        filtered = {k: int(m.sum()) for k, m in masks.items()}
    found = {core.word_key(w, "en") for w in cand.words} & reference if reference else set()
    result = {"top": top, "candidates": len(cand.words), "filtered": filtered, "found": found}
    return {
        "part": [part],
        "payload": [pickle.dumps(result, protocol=5)],
        "shuffle_bytes": [volume],
    }


def rank_ray_en(
    domain_paths: list[str],
    background_paths: list[str],
    p,
    vocab: set[str],
    exclude: set[str],
    stop: set[str],
    reference: set[str] | None,
    *,
    batch_docs: int,
    parts: int = 0,
) -> tuple[core.Ranked, dict]:
    """(the ranking ``core.rank`` gives on ``english.score_counts`` of the local counts, facts:
    words on each side, the reference words among the candidates (None without a reference),
    shuffle statistics)."""
    import ray

    start = time.perf_counter()
    counted, parts = counted_en(
        domain_paths,
        background_paths,
        max_words=p.max_words,
        min_count=p.min_count,
        batch_docs=batch_docs,
        parts=parts,
    )
    counted = counted.materialize()  # read twice: the unit totals, then the scoring shuffles
    n_words = n_bg = 0
    for b in counted.select_columns(["units_domain", "units_background"]).iter_batches(
        batch_format="numpy"
    ):
        n_words += int(b["units_domain"].sum())
        n_bg += int(b["units_background"].sum())
    lower_vocab = {v.lower() for v in vocab}
    state = ray.put((p, lower_vocab, exclude, stop, reference))
    ranked, occurring, volume = score_shuffles(
        counted,
        parts,
        (ask_en, {}),
        answer_en,
        (score_en, {"n_words": n_words, "n_bg": n_bg, "ref": state}),
        p.top_k,
    )
    facts = {
        "n_domain": n_words,
        "n_background": n_bg,
        "workers": parts,
        "occurring": occurring if reference is not None else None,
        "shuffle": shuffle_stats(parts, volume, start),
    }
    return ranked, facts
