"""The Ray driver: ``driver.process`` and ``driver.leftover`` on Ray Data blocks of each source.

Workers run the per-document functions on blocks of documents and format their output and audit
lines; a Ray Datasink writes them as ordered parts, which the driver assembles (a byte copy)
into the cleaned files, or leaves as shard folders (``execution.shards``), and into the audit;
the block counters are summed in input order, so the files (or the shards in order), the audit
and the report are the same bytes as ``engine: local``. The dev/test index goes
to the object store once.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from components.data.raydata import batch_lines, file_indices, ordered_block_map, row_key
from components.data.raysink import counts_column
from components.data.writers import dump_jsonl_line
from components.decontaminate import driver


def _clean_block(docs, state) -> list:
    index, p = state
    return [driver.process(d, index, p) for d in docs]


def _leftover_block(docs, state) -> str | None:
    index, p = state
    return next((why for d in docs if (why := driver.leftover(d, index, p))), None)


def clean_rows(batch: dict[str, Any], name: str, files: dict[str, int], ref) -> dict[str, Any]:
    """Each document's output line and audit lines (``driver.process``, the local step), and
    the block's counters in document order (their key order is the report's)."""
    import ray

    index, p = ray.get(ref)
    keys, out, audit = [], [], []
    counts: Counter = Counter()
    for path, lineno, field, _, doc in batch_lines(batch):
        kept, rows, c = driver.process(doc, index, p)
        keys.append(row_key(files[path], lineno, field))  # a source may be a shard folder
        out.append(kept or "")
        audit.append("".join(dump_jsonl_line({"source": name, **r}) for r in rows))
        counts.update(c)
    return {"key": keys, "out": out, "audit": audit, "counts": counts_column(counts, len(keys))}


def source_cleaner(batch_docs: int, shards: bool = False):
    def clean_source(name: str, src: str, dest: Path, audit, index, p) -> dict:
        """Workers clean and format; their lines go to ordered parts through a Ray Datasink
        (``raysink``), assembled here into ``dest`` (or published there as a shard folder)
        and into the audit byte for byte."""
        import ray

        from components.data.raydata import lines_dataset
        from components.data.raysink import (
            OrderedPartsSink,
            parts,
            parts_folder,
            read_counts,
            write_output,
        )

        ds = lines_dataset([src])
        if ds is None:  # an absent part of the project: an empty output
            dest.write_bytes(b"")
            return {}
        cleaned = ds.map_batches(
            clean_rows,
            batch_size=batch_docs,
            batch_format="numpy",
            fn_kwargs={"name": name, "files": file_indices([src]), "ref": ray.put((index, p))},
        )
        folder = parts_folder(dest)
        shutil.rmtree(folder, ignore_errors=True)
        # one streaming pass: nothing of the source is held in the object store past its write
        sink = OrderedPartsSink(folder, {"out": "out", "audit": "audit", "counts": "counts"})
        cleaned.write_datasink(sink)
        c: Counter = Counter()
        for counts in read_counts(folder, "counts"):
            c.update(counts)  # in block order: the local key order
        write_output(folder, "out", dest, shards)
        audit.flush()
        for part in parts(folder, "audit"):
            audit.write(part.read_text(encoding="utf-8"))
        shutil.rmtree(folder)
        return dict(c)

    return clean_source


def verifier(batch_docs: int):
    def verify(files: dict[str, Path], index, p) -> None:
        for name, path in files.items():
            for why in ordered_block_map([str(path)], _leftover_block, (index, p), batch_docs):
                if why:
                    driver.fail_leftover(path, name, why)

    return verify


def run(
    sources: dict[str, str],
    evals: dict[str, str],
    out: Path,
    final: Path,
    p,
    batch_docs: int,
    shards: bool = False,
):
    """``driver.run`` with the cleaning and verifying scans on Ray Data."""
    from components.execution import ray_session

    with ray_session():
        return driver.run(
            sources,
            evals,
            out,
            final,
            p,
            clean=source_cleaner(batch_docs, shards),
            check=verifier(batch_docs),
        )
