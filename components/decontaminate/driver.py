"""The local driver: stream each source through ``core.clean``, write the cleaned files, the
audit and the manifest, then verify the outputs with an independent second scan (fail closed)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from components.data.gate import manifest_key
from components.data.shards import digest, is_empty, open_documents
from components.data.text import file_digest
from components.data.writers import dump_jsonl_line, write_json
from components.decontaminate.core import EvalIndex, build_index, clean, find_matches, units
from components.decontaminate.params import DecontaminateParams
from components.errors import InputError

MAX_PASSES = 3  # a cut joins pieces; re-scan the result until nothing matches


def documents(path: str):
    """Documents of a canonical JSONL file or shard folder; an empty one (an absent part of the
    project) has none."""
    if is_empty(path):
        return iter(())
    return iter(open_documents(path))


def eval_texts(files: dict[str, str]):
    for split, path in files.items():
        for doc in documents(path):
            yield split, doc.id, doc.text


def clean_document(doc_id: str, text: str, index: EvalIndex, p: DecontaminateParams):
    kept, rows = clean(doc_id, text, index, p)
    passes = 1
    while kept is not None and rows and passes < MAX_PASSES:
        kept, more = clean(doc_id, kept, index, p)
        if not more:
            break
        rows += more
        passes += 1
    return kept, rows


def process(doc, index: EvalIndex, p: DecontaminateParams) -> tuple[str | None, list, Counter]:
    """The per-document step both drivers run: (output line or None, audit rows, counters)."""
    c: Counter = Counter(docs=1)
    kept, rows = clean_document(doc.id, doc.text, index, p)
    if rows:
        c["matched_docs"] += 1
        c.update(f"matches_{r['kind']}" for r in rows)
    if kept is None:
        c["dropped_docs"] += 1
        c["chars_removed"] += len(doc.text)
        return None, rows, c
    if kept != doc.text:
        c["cut_docs"] += 1
        c["chars_removed"] += len(doc.text) - len(kept)
    c["kept_docs"] += 1
    row = {"id": doc.id, "text": kept}
    meta = doc.stored_metadata()
    if meta:
        row["metadata"] = meta
    return dump_jsonl_line(row), rows, c


def write_results(name: str, results, out, audit) -> dict:
    """Write (line, audit rows, counters) in document order; returns the source's counters."""
    c: Counter = Counter()
    for line, rows, counts in results:
        c.update(counts)
        for r in rows:
            audit.write(dump_jsonl_line({"source": name, **r}))
        if line is not None:
            out.write(line)
    return dict(c)


def clean_source(name: str, src: str, dest: Path, audit, index, p) -> dict:
    docs = tqdm(documents(src), desc=f"decontaminate {name}", unit="doc", mininterval=2)
    with open(dest, "w", encoding="utf-8") as out:
        return write_results(name, (process(d, index, p) for d in docs), out, audit)


def leftover(doc, index: EvalIndex, p: DecontaminateParams) -> tuple[str, str] | None:
    """(dev/test text, document id) when ``doc`` still matches after cleaning, else None."""
    left = find_matches(units(doc.text, p.lang), index, p)
    if not left:
        return None
    info = index.texts[left[0].text]
    return f"{info.split} text {info.id}", doc.id


def fail_leftover(path, name: str, why: tuple[str, str]) -> None:
    raise InputError(
        str(path),
        f"{why[0]} still occurs in {name} document {why[1]} after decontamination",
        "report this as a bug; nothing was written and pretraining will not run",
    )


def verify(files: dict[str, Path], index: EvalIndex, p: DecontaminateParams) -> None:
    """A second, independent scan of the outputs: any remaining match stops the stage."""
    for name, path in files.items():
        for doc in documents(str(path)):
            why = leftover(doc, index, p)
            if why:
                fail_leftover(path, name, why)


def run(
    sources: dict[str, str],
    evals: dict[str, str],
    out: Path,
    final: Path,
    p: DecontaminateParams,
    *,
    clean=clean_source,
    check=verify,
) -> dict:
    """Clean every source into ``out/<name>.jsonl``; ``final`` is where ``out`` will be swapped
    in (the manifest names the files by their final paths). ``clean`` and ``check`` default to
    this process's ``clean_source`` and ``verify``; ``ray_driver.run`` passes the Ray Data ones
    (``process`` and the verifying scan on blocks); everything else is shared."""
    start = time.perf_counter()
    index = build_index(eval_texts(evals), p)
    report: dict = {"sources": {}}
    written = {}
    with open(out / "audit.jsonl", "w", encoding="utf-8") as audit:
        for name, src in sources.items():
            written[name] = out / f"{name}.jsonl"
            report["sources"][name] = clean(name, src, written[name], audit, index, p)
    check(written, index, p)
    found: dict[str, set[str]] = {s: set() for s in evals}
    with open(out / "audit.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            found[r["eval_split"]].add(r["eval_id"])
    checked = Counter(t.split for t in index.texts)
    report["eval_texts"] = {
        s: {
            "checked": checked.get(s, 0),
            "too_short_to_check": index.too_short.get(s, 0),
            "found_in_pretraining_text": len(found[s]),
        }
        for s in evals
    }
    report["seconds"] = round(time.perf_counter() - start, 3)
    files = {
        manifest_key(final / f"{name}.jsonl"): {"md5": digest(path)}
        for name, path in written.items()
    }
    write_json(
        out / "manifest.json",
        {"passed": True, "files": files, "eval": {s: file_digest(v) for s, v in evals.items()}},
    )
    return report
