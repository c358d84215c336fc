"""Pure ingest logic: raw Documents in, normalised and deduplicated Documents out, with counters.

``ingest`` writes the canonical layout every later stage reads. Every file exists in every
project shape (an absent part is an empty file), so dvc.yaml can name each one::

    general.jsonl  domain.jsonl  task/{train,dev,test}.jsonl  task/labels.txt  lexicon.txt
    (domain.jsonl: ``domain.corpus`` then every accepted delivery, ``domain.deliveries``)
    shape.json     {"shape": "corpus+task" | "task-only" | "corpus-only", ...}
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from tqdm import tqdm

from components.data.document import Document
from components.data.labels import read_label_file
from components.data.lexicon import read_words
from components.data.readers import DocumentReader, check_input_file
from components.data.text import hash64, normalize
from components.data.writers import write_json, write_jsonl
from components.domain import DomainParams, SourceSpec, TaskSpec
from components.errors import InputError
from components.ingest.params import IngestParams

SPLITS = ("train", "dev", "test")


class Links(dict):
    """Raw inputs read through a symbolic link (allowed by ``domain.allow_symlinks``): the
    params key and path -> the resolved target, recorded in metrics/ingest.json."""

    def note(self, key: str, path: str, resolved: str | None) -> None:
        if resolved is not None:
            self[key] = {"path": path, "resolved": resolved}


def open_source(
    spec: SourceSpec, key: str, *, labeled: bool = False, allow_links: bool = False,
    links: Links | None = None,
) -> DocumentReader:  # fmt: skip
    """``key``: the params key of this source (``domain.corpus[2]``): errors name its fields."""
    reader = DocumentReader(
        spec.path,
        fmt=spec.format,
        encoding=spec.encoding,
        text_field=spec.text_fields,
        # a task source's label is in ``label`` unless the source says otherwise
        label_field=spec.label_field or ("label" if labeled else None),
        id_field=spec.id_field,
        columns=spec.columns,
        require_label=labeled,
        allow_symlinks=allow_links,
        hints={
            "path": f"{key}.path",
            "encoding": f"{key}.encoding",
            "text_field": f"{key}.text_fields",
            "label_field": f"{key}.label_field",
            "format": f"{key}.format",
            "allow_symlinks": "domain.allow_symlinks",
        },
    )
    if links is not None:
        links.note(key, spec.path, reader.resolved)
    return reader


def check_file(path: str, key: str, allow_links: bool, links: Links) -> None:
    """A raw input read without a DocumentReader (lexicons, the label set): same rules."""
    hints = {"path": key, "allow_symlinks": "domain.allow_symlinks"}
    resolved = check_input_file(path, allow_symlinks=allow_links, hints=hints, listed=(".txt",))
    links.note(key, path, resolved)


def delivery_specs(domain: DomainParams) -> list[SourceSpec]:
    """Every file corpus_handoff accepted into ``domain.deliveries.folder``, by name: more
    domain corpus. Only regular files count; a symlink there was not put there by the hand-off
    (it never moves one) and is refused rather than followed."""
    if domain.deliveries is None:
        return []
    folder = Path(domain.deliveries.folder)
    if not folder.is_dir():
        return []  # nothing delivered yet
    specs = []
    for f in sorted(folder.iterdir()):
        if f.name.startswith("."):
            continue
        if f.is_symlink() or not f.is_file():
            raise InputError(
                str(f),
                "not a regular file: deliveries are files corpus_handoff moved here",
                f"remove it from {folder}; deliver files through the drop folder",
            )
        specs.append(SourceSpec(path=f.as_posix(), text_fields=list(domain.deliveries.text_fields)))
    return specs


def prepare(text: str, params: IngestParams) -> tuple[str, int] | None:
    """The per-document step both engines run: (normalised text, its content hash), or None
    when the normalised text is too short to keep."""
    text = normalize(text, form=params.normalize, unescape_html=params.unescape_html)
    if len(text) < params.min_chars:
        return None
    return text, hash64(text)


def prepare_block(texts: list[str], params: IngestParams) -> list[tuple[str, int] | None]:
    """``prepare`` over a block of texts: what a Ray worker runs (components/ingest/ray_driver.py)."""
    return [prepare(t, params) for t in texts]


# A whole corpus role on Ray (ray_corpus.ingest_role, bound by the stage): (specs, params, the
# params key, destination, allow_links, links) -> the role's counters, or None when its sources
# must be read here (then ``prepared`` does the per-document work).
WholeRole = Callable[..., Counter | None]

# How documents get prepared: in this process, one at a time (the default), or on Ray workers
# in blocks (ray_driver.prepared). Either way (document, prepare(document.text)) pairs come back
# in input order, so the decisions below (dedup keeps the first occurrence) are the same.
Prepared = Callable[[Iterable[Document], IngestParams], Iterator[tuple[Document, Any]]]


def prepare_here(docs: Iterable[Document], params: IngestParams) -> Iterator[tuple[Document, Any]]:
    for doc in docs:
        yield doc, prepare(doc.text, params)


def clean(
    docs: Iterable[Document],
    params: IngestParams,
    counters: Counter,
    *,
    seen: set[int] | None = None,
    forbidden: set[int] | None = None,
    prepared: Prepared = prepare_here,
) -> Iterator[Document]:
    """Normalise each document and drop it with a counted reason when it must not be kept.

    ``seen`` collects kept hashes (exact dedup); ``forbidden`` holds hashes that must not
    appear (train texts, when cleaning dev/test). The decisions are made here, in input order,
    whichever engine ``prepared`` the texts.
    """
    for doc, ready in prepared(docs, params):
        counters["read"] += 1
        if ready is None:
            counters["dropped_too_short"] += 1
            continue
        text, h = ready
        if forbidden is not None and h in forbidden:
            counters["dropped_leaked_from_train"] += 1
            continue
        if seen is not None:
            if h in seen:
                counters["dropped_exact_dup"] += 1
                continue
            seen.add(h)
        counters["kept"] += 1
        yield Document(id=doc.id, text=text, label=doc.label, metadata=doc.stored_metadata())


def corpus_docs(
    specs: list[SourceSpec], params: IngestParams, counters: Counter, key: str,
    allow_links: bool = False, links: Links | None = None, prepared: Prepared = prepare_here,
) -> Iterator[Document]:  # fmt: skip
    """All sources of one corpus role, capped per source, cleaned and deduplicated together."""
    seen: set[int] | None = set() if params.dedup else None
    for i, spec in enumerate(specs):
        docs: Iterable[Document] = open_source(
            spec, f"{key}[{i}]", allow_links=allow_links, links=links
        )
        if params.max_docs_per_source:
            docs = islice(docs, params.max_docs_per_source)
        yield from clean(docs, params, counters, seen=seen, prepared=prepared)


def hold_out_dev(train: list[Document], fraction: float) -> tuple[list[Document], list[Document]]:
    """(train, dev): per label, the ``fraction`` of rows with the lowest content checksum.

    Stratified, and the same rows whatever the file order, so reruns and other machines agree.
    """
    by_label: dict[str | None, list[Document]] = defaultdict(list)
    for doc in train:
        by_label[doc.label].append(doc)
    dev_ids: set[int] = set()
    for rows in by_label.values():
        k = int(len(rows) * fraction)  # a class of < 1/fraction rows keeps them all for training
        ranked = sorted(rows, key=lambda d: (zlib.crc32(d.text.encode("utf-8")), d.id))
        dev_ids.update(id(d) for d in ranked[:k])
    return [d for d in train if id(d) not in dev_ids], [d for d in train if id(d) in dev_ids]


def ingest_task(
    task: TaskSpec, params: IngestParams, folder: Path, allow_links: bool = False,
    links: Links | None = None, prepared: Prepared = prepare_here,
) -> dict[str, dict]:  # fmt: skip
    """Train/dev/test JSONL and labels.txt; dev/test rows whose text is in train are dropped."""
    links = Links() if links is None else links

    def source(split: str, spec: SourceSpec) -> DocumentReader:
        key = f"domain.task.{split}"
        return open_source(spec, key, labeled=True, allow_links=allow_links, links=links)

    if task.label_set:
        check_file(task.label_set, "domain.task.label_set", allow_links, links)
    report: dict[str, dict] = {}
    train_hashes: set[int] = set()
    counters: Counter = Counter()
    train = list(
        clean(source("train", task.train), params, counters, seen=train_hashes, prepared=prepared)
    )
    report["task_train"] = dict(counters)
    dev: list[Document]
    if task.dev is None:
        train, dev = hold_out_dev(train, task.dev_fraction)
        report["task_train"]["held_out_as_dev"] = len(dev)
        train_hashes = {hash64(d.text) for d in train}
    splits = {"train": train}
    for split in ("dev", "test"):
        spec = getattr(task, split)
        if spec is None:
            splits[split] = dev
            report[f"task_{split}"] = {"kept": len(dev), "from": "train (dev_fraction)"}
            continue
        counters = Counter()
        seen: set[int] | None = set() if params.dedup else None
        forbidden = train_hashes if params.drop_leaked else None
        splits[split] = list(
            clean(
                source(split, spec),
                params,
                counters,
                seen=seen,
                forbidden=forbidden,
                prepared=prepared,
            )
        )
        report[f"task_{split}"] = dict(counters)
    for split in SPLITS:
        write_jsonl(folder / f"{split}.jsonl", splits[split])
    seen_labels = sorted({d.label for d in train if d.label})
    labels = read_label_file(task.label_set) if task.label_set else seen_labels
    (folder / "labels.txt").write_text("".join(f"{x}\n" for x in labels), encoding="utf-8")
    return report


def ingest(
    domain: DomainParams, params: IngestParams, out: Path, links: Links | None = None,
    prepared: Prepared = prepare_here, whole_role: WholeRole | None = None,
) -> dict:  # fmt: skip
    """Write the layout into ``out`` (an empty folder); returns per-output counters. Inputs
    read through allowed symbolic links are noted in ``links``. ``prepared``: where the
    per-document work runs (``ray_driver.prepared`` under ``execution.engine: ray``);
    ``whole_role``: a corpus role read, cleaned and written on Ray when its sources allow."""
    report: dict[str, dict] = {}
    deliveries = delivery_specs(domain)
    if domain.deliveries is not None:
        report["deliveries"] = {"files": len(deliveries)}
    links = Links() if links is None else links
    allow = domain.allow_symlinks
    for role, specs, key in (
        ("general", domain.general, "domain.general"),
        ("domain", [*domain.corpus, *deliveries], "domain.corpus"),
    ):
        if whole_role is not None:
            done = whole_role(specs, params, key, out / f"{role}.jsonl", allow, links)
            if done is not None:
                report[role] = dict(done)
                continue
        counters: Counter = Counter()
        docs = tqdm(
            corpus_docs(specs, params, counters, key, allow, links, prepared),
            desc=f"ingest {role}",
            unit="doc",
            mininterval=2,
        )
        write_jsonl(out / f"{role}.jsonl", docs)
        report[role] = dict(counters)
    task_dir = out / "task"
    task_dir.mkdir()
    if domain.task is not None:
        report.update(ingest_task(domain.task, params, task_dir, allow, links, prepared))
    else:
        for split in SPLITS:
            (task_dir / f"{split}.jsonl").write_bytes(b"")
        (task_dir / "labels.txt").write_bytes(b"")
    words: dict[str, None] = {}
    for name, path in domain.lexicons.items():
        check_file(path, f"domain.lexicons.{name}", allow, links)
        before = len(words)
        words.update(dict.fromkeys(read_words(path)))
        report[f"lexicon_{name}"] = {"kept": len(words) - before}
    (out / "lexicon.txt").write_text("".join(f"{w}\n" for w in words), encoding="utf-8")
    shape = domain.shape
    write_json(
        out / "shape.json",
        {"shape": shape.name, "corpus": shape.corpus, "task": shape.task, "lang": domain.lang},
    )
    return report
