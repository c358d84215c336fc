"""Run the corpus and task suites over files; pure apart from reading the inputs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from components.data.document import Document
from components.data.labels import read_label_file
from components.data.readers import DocumentReader
from components.data.shards import ShardedReader, open_documents
from components.data.text import content_hash
from components.errors import InputError
from components.validate.params import CorpusChecks, ValidateParams
from components.validate.stats import CorpusStats, scan_corpus
from components.validate.suites import (
    Batch,
    corpus_batches,
    run_batches,
    task_batches,
    verbalizer_batch,
)

READABLE = "readable (encoding, format, fields)"


@dataclass
class ReadOptions:
    fmt: str | None = None
    encoding: str = "utf-8"
    text_field: list[str] = field(default_factory=lambda: ["text"])
    label_field: str = "label"
    allow_symlinks: bool = False  # params domain.allow_symlinks
    label_source: str = "--labels FILE"  # where the label set comes from (named in advice)


@dataclass
class Outcome:
    results: list[dict]
    stats: dict[str, dict]
    seconds: float
    bytes_scanned: int

    @property
    def passed(self) -> bool:
        return all(r["success"] for r in self.results)


def _read_failure(path: str, err: InputError) -> dict:
    return {
        "file": path,
        "table": "file",
        "check": READABLE,
        "expectation": None,
        "column": err.field,
        "success": False,
        "rows": None,
        "unexpected_count": None,
        "unexpected_percent": None,
        "observed_value": None,
        "examples": [],
        "exception": err.problem
        + (f" (line {err.line})" if err.line else "")
        + (f" (byte offset {err.byte_offset})" if err.byte_offset is not None else ""),
        "fix": err.fix,
    }


def _read_ok(path: str) -> dict:
    return _read_failure(path, InputError(path, "")) | {
        "success": True,
        "exception": None,
        "fix": "",
    }


# Where a corpus's streaming statistics are computed: here (``scan_here``) or on Ray
# (``ray_driver.scanner``); both run stats.scan_block and stats.Scan, so the results are the same.
Scanner = Callable[
    [DocumentReader | ShardedReader, CorpusChecks], tuple[CorpusStats, list[Document]]
]


def scan_here(
    reader: DocumentReader | ShardedReader, c: CorpusChecks
) -> tuple[CorpusStats, list[Document]]:
    return scan_corpus(
        reader,
        min_chars=c.min_chars,
        max_chars=c.max_chars,
        sample_size=c.gx_sample_size,
        sample_max_chars=c.gx_sample_max_chars,
        exact_cap=c.exact_dedup_max_docs,
    )


def validate_files(
    corpora: list[str],
    task: dict[str, str] | None,
    labels_file: str | None,
    params: ValidateParams,
    opts: ReadOptions,
    docs_dir: Path | None,
    label_words: dict[str, str] | None = None,
    scanner: Scanner = scan_here,
) -> Outcome:
    """Validate every corpus and the task splits; unreadable files become failed checks.

    ``label_words``: PET's verbalizer, checked against the label set when PET is requested;
    ``scanner``: where the corpora's statistics are computed (``execution.engine``)."""
    start = time.perf_counter()
    batches: list[Batch] = []
    results: list[dict] = []
    stats: dict[str, dict] = {}
    scanned = 0
    c = params.corpus
    for path in corpora:
        reader = None
        try:
            reader = open_documents(  # a file, or a shard folder (execution.shards)
                path,
                fmt=opts.fmt,
                encoding=opts.encoding,
                text_field=opts.text_field,
                allow_symlinks=opts.allow_symlinks,
            )
            st, sample = scanner(reader, c)
        except InputError as err:
            results.append(_read_failure(path, err))
            continue
        finally:
            if reader is not None:
                scanned += reader.bytes_read
        results.append(_read_ok(path))
        row = st.as_row(params.lang)
        stats[path] = row | {
            "dup_exact": st.distinct_exact,
            "gx_rows": len(sample),
            "examples": st.examples,
        }
        batches += corpus_batches(path, [(d.id, d.text) for d in sample], row, c, params.lang)

    if task:
        import pandas as pd

        splits = {}
        for split, path in task.items():
            try:
                reader = DocumentReader(
                    path,
                    fmt=opts.fmt,
                    encoding=opts.encoding,
                    text_field=opts.text_field,
                    label_field=opts.label_field,
                    allow_symlinks=opts.allow_symlinks,
                )
                rows = [
                    (d.id, d.metadata.get("line"), d.text, d.label, content_hash(d.text.strip()))
                    for d in reader
                ]
                scanned += reader.bytes_read
            except InputError as err:
                results.append(_read_failure(path, err))
                continue
            results.append(_read_ok(path))
            columns = ["id", "line", "text", "label", "hash"]
            splits[split] = (path, pd.DataFrame(rows, columns=columns))
        labels = _read_labels(labels_file, splits, results, opts.allow_symlinks)
        train_hashes: dict[str, str] = {}
        if "train" in splits:
            train = splits["train"][1]
            train_hashes = dict(zip(train["hash"][::-1], train["id"][::-1], strict=True))
        if labels is not None and splits:
            source = f" ({opts.label_source})" if opts.label_source else ""
            batches += task_batches(splits, labels, train_hashes, params.task, source)
        if labels is not None and label_words is not None:
            batches.append(verbalizer_batch(labels_file or "labels", labels, label_words))

    if batches:
        results += run_batches(batches, docs_dir)
    return Outcome(results, stats, time.perf_counter() - start, scanned)


def _read_labels(
    labels_file: str | None, splits: dict, results: list[dict], allow_symlinks: bool = False
) -> list[str] | None:
    """The declared label set, or the train labels when none is declared."""
    if labels_file is None:
        if "train" not in splits:
            return None
        return sorted(splits["train"][1]["label"].dropna().unique().tolist())
    try:
        return read_label_file(labels_file, min_labels=1, allow_symlinks=allow_symlinks)
    except InputError as err:
        results.append(_read_failure(labels_file, err))
        return None
