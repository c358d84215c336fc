"""Pure ingest logic: raw Documents in, normalised and deduplicated Documents out, with counters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice

from components.data.document import Document
from components.data.readers import DocumentReader
from components.data.text import hash64, normalize
from components.ingest.params import IngestParams, SourceSpec


def open_source(spec: SourceSpec, *, labeled: bool = False) -> DocumentReader:
    return DocumentReader(
        spec.path,
        fmt=spec.format,
        encoding=spec.encoding,
        text_field=spec.text_fields,
        label_field=spec.label_field,
        id_field=spec.id_field,
        columns=spec.columns,
        require_label=labeled,
    )


def clean(
    docs: Iterable[Document],
    params: IngestParams,
    counters: Counter,
    *,
    seen: set[int] | None = None,
    forbidden: set[int] | None = None,
) -> Iterator[Document]:
    """Normalise each document and drop it with a counted reason when it must not be kept.

    ``seen`` collects kept hashes (exact dedup); ``forbidden`` holds hashes that must not
    appear (train texts, when cleaning dev/test).
    """
    for doc in docs:
        counters["read"] += 1
        text = normalize(doc.text, form=params.normalize, unescape_html=params.unescape_html)
        if len(text) < params.min_chars:
            counters["dropped_too_short"] += 1
            continue
        h = hash64(text)
        if forbidden is not None and h in forbidden:
            counters["dropped_leaked_from_train"] += 1
            continue
        if seen is not None:
            if h in seen:
                counters["dropped_exact_dup"] += 1
                continue
            seen.add(h)
        counters["kept"] += 1
        meta = {k: v for k, v in doc.metadata.items() if k != "line"}
        yield Document(id=doc.id, text=text, label=doc.label, metadata=meta)


def corpus_docs(
    specs: list[SourceSpec], params: IngestParams, counters: Counter
) -> Iterator[Document]:
    """All sources of one corpus role, capped per source, cleaned and deduplicated together."""
    seen: set[int] | None = set() if params.dedup else None
    for spec in specs:
        docs: Iterable[Document] = open_source(spec)
        if params.max_docs_per_source:
            docs = islice(docs, params.max_docs_per_source)
        yield from clean(docs, params, counters, seen=seen)


def read_label_set(path: str) -> list[str]:
    with open(path, encoding="utf-8-sig") as f:
        return [line.strip() for line in f if line.strip()]


def lexicon_words(path: str) -> Iterator[str]:
    """Words of a ``word<TAB>freq`` or one-word-per-line list (BOM, CR-only ends, stray spaces)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        text = f.read()
    seen: set[str] = set()
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        word = normalize(line.split("\t")[0]).strip()
        if word and word not in seen:
            seen.add(word)
            yield word
