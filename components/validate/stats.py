"""One streaming pass over a corpus: the statistics every corpus check needs, in bounded memory.

"One pure function per step, two drivers": ``scan_block`` makes the statistics of a block of
consecutive documents (a ``Partial``, merged exactly and associatively by ``merge``) and their
content hashes; ``Scan`` folds the blocks in input order. The local driver (``scan_corpus``) and
the Ray driver (components/validate/ray_driver.py) both run them, so both engines give the same
statistics, examples and sample.

Exact duplicate counting keeps 64-bit hashes up to a cap, then switches to a HyperLogLog
estimate, so memory stays flat however large the corpus is. It is the one sequential step (a
document is a duplicate of an *earlier* one): ``Scan`` runs it over the hashes the blocks return.

The row-level great-expectations suite runs on a sample: the documents with the lowest keys, a
key being a seeded hash of the document's position (its line in the file and its id, or its
index in the stream when it has no line), within ``sample_size`` documents and
``sample_max_chars`` characters. Being a function of the position, it is the same rows whatever
the blocks are, and it is uniform (a random order, cut where the bounds are met).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from components.data.document import Document
from components.data.text import CONTROL_RE, hash64, script_counts

MAX_EXAMPLES = 3
# The order one document's checks are noted in: the examples' keys keep the order of first notes.
CHECKS = ("empty", "too_short", "too_long", "replacement_char", "control_char", "duplicate")
_RANK = {c: i for i, c in enumerate(CHECKS)}
COUNTS = (
    "n_docs", "n_bytes", "n_chars", "empty_docs", "too_short_docs", "too_long_docs",
    "fffd_docs", "control_docs", "letters", "han", "latin",
)  # fmt: skip


class DistinctCounter:
    """Exact distinct count up to ``exact_cap`` items, HyperLogLog++ beyond (about 1% error)."""

    def __init__(self, exact_cap: int) -> None:
        self.exact_cap = exact_cap
        self.exact: set[int] | None = set()
        self.hll = None

    def add(self, h: int) -> bool:
        """Add a hash; returns True when it was (exactly) seen before."""
        if self.exact is not None:
            if h in self.exact:
                return True
            self.exact.add(h)
            if len(self.exact) > self.exact_cap:
                self._spill()
            return False
        self.hll.update(h.to_bytes(8, "little"))
        return False

    def _spill(self) -> None:
        from datasketch import HyperLogLogPlusPlus

        self.hll = HyperLogLogPlusPlus(p=14)
        for h in self.exact:
            self.hll.update(h.to_bytes(8, "little"))
        self.exact = None

    @property
    def is_exact(self) -> bool:
        return self.exact is not None

    def count(self) -> int:
        return len(self.exact) if self.exact is not None else int(self.hll.count())


@dataclass
class CorpusStats:
    n_docs: int = 0
    n_bytes: int = 0
    n_chars: int = 0
    empty_docs: int = 0
    too_short_docs: int = 0
    too_long_docs: int = 0
    fffd_docs: int = 0
    control_docs: int = 0
    letters: int = 0
    han: int = 0
    latin: int = 0
    distinct: int = 0
    distinct_exact: bool = True
    examples: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def dup_rate(self) -> float:
        return 0.0 if not self.n_docs else max(0.0, 1 - self.distinct / self.n_docs)

    def script_ratio(self, lang: str) -> float:
        if not self.letters:
            return 0.0
        return (self.han if lang == "zh" else self.latin) / self.letters

    def as_row(self, lang: str) -> dict:
        """The one-row table validated by the corpus-level suite."""
        return {
            "n_docs": self.n_docs,
            "n_bytes": self.n_bytes,
            "empty_docs": self.empty_docs,
            "fffd_docs": self.fffd_docs,
            "control_docs": self.control_docs,
            "dup_rate": round(self.dup_rate, 6),
            "script_ratio": round(self.script_ratio(lang), 6),
            "out_of_length_share": (self.too_short_docs + self.too_long_docs) / max(self.n_docs, 1),
        }


def example(doc: Document) -> dict:
    return {"id": doc.id, "text": " ".join(doc.text[:80].split())}


def sample_key(seed: int, doc: Document, index: int | None) -> int:
    """The document's place in the sample's random order: a function of its position only."""
    where = doc.metadata.get("line", index)
    if where is None:
        raise ValueError(f"document {doc.id!r} has no line: pass the stream index")
    raw = f"{seed}\x00{where}\x00{doc.id}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


@dataclass
class Bounds:
    """What a corpus's statistics depend on besides its documents (params ``validate.corpus``)."""

    min_chars: int
    max_chars: int
    sample_size: int
    sample_max_chars: int = 16_000_000
    seed: int = 0


@dataclass
class Partial:
    """The statistics of consecutive documents; positions count from its first document.

    ``examples``: per check, the first MAX_EXAMPLES (position, example) (duplicates are ``Scan``'s
    business); ``sample``: (key, position, characters, document or its line) sorted by key, the
    documents the sample bounds keep plus the first one they refuse (which ``merge`` needs to
    stay exact).
    """

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    examples: dict[str, list[tuple[int, dict]]] = field(default_factory=dict)
    sample: list[tuple[int, int, int, Document | int]] = field(default_factory=list)


def _bottom(cands: list[tuple[int, int, int, Document | int]], b: Bounds) -> tuple[int, list]:
    """(how many fit, the candidates cut after the first that does not): the lowest keys, at
    most ``sample_size`` documents and ``sample_max_chars`` characters, at least one. The cut is
    "stop at the first that does not fit", so the result of a union is decided by the parts'."""
    cands.sort()  # (key, position) are unique: documents are never compared
    chars = 0
    for i, (_, _, n, _) in enumerate(cands):
        chars += n
        if i and (i >= b.sample_size or chars > b.sample_max_chars):
            return i, cands[: i + 1]
    return len(cands), cands


def _shifted(part: Partial, shift: int) -> Iterator[tuple[int, int, int, Document | int]]:
    return ((k, p + shift, n, d) for k, p, n, d in part.sample)


def _merge_counts(a: Partial, b: Partial) -> Partial:
    """``merge`` without the samples (an empty one)."""
    shift = a.counts["n_docs"]
    out = Partial(counts={k: a.counts[k] + b.counts[k] for k in COUNTS})
    for check in dict.fromkeys([*a.examples, *b.examples]):
        both = a.examples.get(check, []) + [(p + shift, e) for p, e in b.examples.get(check, [])]
        out.examples[check] = both[:MAX_EXAMPLES]
    return out


def merge(a: Partial, b: Partial, bounds: Bounds) -> Partial:
    """The Partial of ``a``'s documents followed by ``b``'s: exact, and associative."""
    out = _merge_counts(a, b)
    out.sample = _bottom([*a.sample, *_shifted(b, a.counts["n_docs"])], bounds)[1]
    return out


@dataclass
class Block:
    """What ``scan_block`` returns: the Partial, the content hashes in order (for ``Scan``'s
    duplicate count), the examples of the block's first duplicates within itself and, when
    made ``by_line``, each document's line (to fetch the example of a duplicate of an earlier
    block)."""

    partial: Partial
    hashes: array
    dups: dict[int, dict]
    lines: array | None = None


def scan_block(
    docs: list[Document], bounds: Bounds, start: int | None = None, by_line: bool = False
) -> Block:
    """The per-block step both engines run. ``start``: the stream index of the first document,
    for documents without a line (the Ray engine reads JSONL only, whose documents have one).

    ``by_line`` (the Ray engine): the sample's candidates carry their line, not the document,
    so a block's documents never travel to the driver, which fetches the few it keeps
    (``Scan.result``); canonical JSONL has one document a line.
    """
    part = Partial()
    c = part.counts
    hashes = array("Q")
    lines = array("Q") if by_line else None
    seen: set[int] = set()
    dups: dict[int, dict] = {}
    cands = []

    def note(check: str, pos: int, doc: Document) -> None:
        ex = part.examples.setdefault(check, [])
        if len(ex) < MAX_EXAMPLES:
            ex.append((pos, example(doc)))

    for pos, doc in enumerate(docs):
        text = doc.text
        n = len(text)
        c["n_docs"] += 1
        c["n_bytes"] += len(text.encode("utf-8"))
        c["n_chars"] += n
        if not text.strip():
            c["empty_docs"] += 1
            note("empty", pos, doc)
        if n < bounds.min_chars:
            c["too_short_docs"] += 1
            note("too_short", pos, doc)
        elif n > bounds.max_chars:
            c["too_long_docs"] += 1
            note("too_long", pos, doc)
        if "\ufffd" in text:
            c["fffd_docs"] += 1
            note("replacement_char", pos, doc)
        if CONTROL_RE.search(text):
            c["control_docs"] += 1
            note("control_char", pos, doc)
        letters, han, latin = script_counts(text)
        c["letters"] += letters
        c["han"] += han
        c["latin"] += latin
        h = hash64(text)
        hashes.append(h)
        if h in seen and len(dups) < MAX_EXAMPLES:
            dups[pos] = example(doc)
        seen.add(h)
        index = None if start is None else start + pos
        key = sample_key(bounds.seed, doc, index)
        if lines is not None:
            lines.append(doc.metadata["line"])
        cands.append((key, pos, n, doc if lines is None else doc.metadata["line"]))
    part.sample = _bottom(cands, bounds)[1]
    return Block(part, hashes, dups, lines)


class Scan:
    """Blocks folded in input order into a corpus's statistics and sample.

    The sample's candidates are merged in batches (``merge`` is associative, so the grouping
    does not change the result): one sort per ``sample_size`` candidates, not one per block.
    A candidate whose key is above the sample's refused one can never enter and is dropped.
    """

    def __init__(self, bounds: Bounds, exact_cap: int) -> None:
        self.bounds = bounds
        self.partial = Partial()
        self.distinct = DistinctCounter(exact_cap)
        # (position, example, or the line to fetch it from)
        self.dups: list[tuple[int, dict | int]] = []
        self.pending: list[tuple[int, int, int, Document | int]] = []
        self.cut: int | None = None  # the refused candidate's key, once the bounds are met

    def add(self, block: Block, docs: list[Document] | None = None) -> None:
        """``docs``: the block's documents when this process has them (no look-up needed)."""
        offset = self.partial.counts["n_docs"]
        for i, h in enumerate(block.hashes):
            if self.distinct.add(h) and len(self.dups) < MAX_EXAMPLES:
                if i in block.dups:
                    found: dict | int = block.dups[i]
                elif docs is not None:
                    found = example(docs[i])
                else:
                    found = block.lines[i]  # type: ignore[index]  # made by_line
                self.dups.append((offset + i, found))
        sample = self.partial.sample
        self.partial = _merge_counts(self.partial, block.partial)
        self.partial.sample = sample
        cut = self.cut
        self.pending += (c for c in _shifted(block.partial, offset) if cut is None or c[0] < cut)
        if len(self.pending) > max(self.bounds.sample_size, 4096):
            self._flush()

    def _flush(self) -> None:
        fit, kept = _bottom([*self.partial.sample, *self.pending], self.bounds)
        self.partial.sample, self.pending = kept, []
        self.cut = kept[-1][0] if fit < len(kept) else None

    def result(
        self, fetch: Callable[[set[int]], dict[int, Document]] | None = None
    ) -> tuple[CorpusStats, list[Document]]:
        """``fetch``: the documents at these lines, for blocks made ``by_line`` (one call)."""
        self._flush()
        part = self.partial
        fit = _bottom(part.sample, self.bounds)[0]
        sample = sorted(part.sample[:fit], key=lambda c: c[1])  # in input order
        wanted = {d for *_, d in sample if isinstance(d, int)}
        wanted.update(ex for _, ex in self.dups if isinstance(ex, int))
        got = fetch(wanted) if wanted and fetch is not None else {}
        stats = CorpusStats(**part.counts)
        notes = dict(part.examples)
        if self.dups:
            dups = [(p, example(got[ex]) if isinstance(ex, int) else ex) for p, ex in self.dups]
            notes["duplicate"] = dups
        first = sorted(notes, key=lambda k: (notes[k][0][0], _RANK[k]))
        stats.examples = {k: [ex for _, ex in notes[k]] for k in first}
        stats.distinct = self.distinct.count()
        stats.distinct_exact = self.distinct.is_exact
        return stats, [got[d] if isinstance(d, int) else d for *_, d in sample]


def blocks(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    it = iter(docs)
    while block := list(islice(it, size)):
        yield block


def scan_corpus(
    docs: Iterable[Document],
    *,
    min_chars: int,
    max_chars: int,
    sample_size: int,
    exact_cap: int,
    sample_max_chars: int = 16_000_000,
    seed: int = 0,
    block_docs: int = 16_384,
) -> tuple[CorpusStats, list[Document]]:
    """The local driver: statistics over every document plus the sample (see the module doc).

    Memory stays bounded: a block of documents, the sample (at most ``sample_size`` documents
    and ``sample_max_chars`` characters, plus one) and the duplicate counter.
    """
    bounds = Bounds(min_chars, max_chars, sample_size, sample_max_chars, seed)
    scan = Scan(bounds, exact_cap)
    start = 0
    for block in blocks(docs, block_docs):
        scan.add(scan_block(block, bounds, start), block)
        start += len(block)
    return scan.result()
