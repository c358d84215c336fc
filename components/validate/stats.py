"""One streaming pass over a corpus: the statistics every corpus check needs, in bounded memory.

Exact duplicate counting keeps 64-bit hashes up to a cap, then switches to a HyperLogLog
estimate, so memory stays flat however large the corpus is. A reservoir sample of documents
feeds the row-level great-expectations suite.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from components.data.document import Document
from components.data.text import CONTROL_RE, hash64, script_counts

MAX_EXAMPLES = 3


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

    def note(self, check: str, doc: Document) -> None:
        ex = self.examples.setdefault(check, [])
        if len(ex) < MAX_EXAMPLES:
            ex.append({"id": doc.id, "text": " ".join(doc.text[:80].split())})

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


def scan_corpus(
    docs: Iterable[Document],
    *,
    min_chars: int,
    max_chars: int,
    sample_size: int,
    exact_cap: int,
    sample_max_chars: int = 16_000_000,
    seed: int = 0,
) -> tuple[CorpusStats, list[Document]]:
    """Statistics over every document plus a uniform reservoir sample.

    The sample holds at most ``sample_size`` documents and ``sample_max_chars`` characters:
    when the characters overflow, random members are evicted and the reservoir shrinks (a
    uniform subsample of a uniform sample is still uniform), so memory stays bounded even when
    documents are huge.
    """
    stats = CorpusStats()
    distinct = DistinctCounter(exact_cap)
    rng = random.Random(seed)
    sample: list[Document] = []
    sample_chars = 0
    for doc in docs:
        text = doc.text
        stats.n_docs += 1
        stats.n_bytes += len(text.encode("utf-8"))
        n = len(text)
        stats.n_chars += n
        if not text.strip():
            stats.empty_docs += 1
            stats.note("empty", doc)
        if n < min_chars:
            stats.too_short_docs += 1
            stats.note("too_short", doc)
        elif n > max_chars:
            stats.too_long_docs += 1
            stats.note("too_long", doc)
        if "\ufffd" in text:
            stats.fffd_docs += 1
            stats.note("replacement_char", doc)
        if CONTROL_RE.search(text):
            stats.control_docs += 1
            stats.note("control_char", doc)
        letters, han, latin = script_counts(text)
        stats.letters += letters
        stats.han += han
        stats.latin += latin
        if distinct.add(hash64(text)):
            stats.note("duplicate", doc)
        if len(sample) < sample_size and stats.n_docs == len(sample) + 1:
            sample.append(doc)
            sample_chars += n
        else:
            j = rng.randrange(stats.n_docs)
            if j < sample_size:
                sample_chars += n - len(sample[j].text)
                sample[j] = doc
        while sample_chars > sample_max_chars and len(sample) > 1:
            victim = sample.pop(rng.randrange(len(sample)))
            sample_chars -= len(victim.text)
            sample_size = len(sample)
    stats.distinct = distinct.count()
    stats.distinct_exact = distinct.is_exact
    return stats, sample
