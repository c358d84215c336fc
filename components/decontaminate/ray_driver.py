"""The Ray driver: ``driver.process`` and ``driver.leftover`` on Ray Data blocks of each source.

Workers run the per-document functions on blocks of documents; the driver writes their output
lines, audit rows and counters in input order through ``driver.write_results``, the local path's
own writer, so the files, the audit and the report are the same bytes as ``engine: local``.
The dev/test index goes to the object store once.
"""

from __future__ import annotations

from pathlib import Path

from components.data.raydata import ordered_block_map
from components.decontaminate import driver


def _clean_block(docs, state) -> list:
    index, p = state
    return [driver.process(d, index, p) for d in docs]


def _leftover_block(docs, state) -> str | None:
    index, p = state
    return next((why for d in docs if (why := driver.leftover(d, index, p))), None)


def source_cleaner(batch_docs: int):
    def clean_source(name: str, src: str, dest: Path, audit, index, p) -> dict:
        blocks = ordered_block_map([src], _clean_block, (index, p), batch_docs)
        results = (r for block in blocks for r in block)
        with open(dest, "w", encoding="utf-8") as out:
            return driver.write_results(name, results, out, audit)

    return clean_source


def verifier(batch_docs: int):
    def verify(files: dict[str, Path], index, p) -> None:
        for name, path in files.items():
            for why in ordered_block_map([str(path)], _leftover_block, (index, p), batch_docs):
                if why:
                    driver.fail_leftover(path, name, why)

    return verify


def run(sources: dict[str, str], evals: dict[str, str], out: Path, final: Path, p, batch_docs: int):
    """``driver.run`` with the cleaning and verifying scans on Ray Data."""
    from components.execution import ray_session

    with ray_session():
        return driver.run(
            sources,
            evals,
            out,
            final,
            p,
            clean=source_cleaner(batch_docs),
            check=verifier(batch_docs),
        )
