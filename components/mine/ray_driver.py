"""The Ray engine for mining: ``core.count_block`` and ``core.score_block`` on Ray Data blocks.

Blocks come back in pool order (``preserve_order``), so the sequential steps that follow in
``core`` (dedup against what came before, the budget cutoff, writing) see exactly what the local
engine gives them. The fitted model goes to the object store once per pass.
"""

from __future__ import annotations

from collections.abc import Callable

from components.data.raydata import ordered_block_map


def _block(docs, state: dict):
    texts = [d.text for d in docs]
    return (texts if state["want_texts"] else None), state["fn"](texts, state["state"])


def ray_mapper(batch_docs: int):
    def run(block: Callable, paths: list[str], state: dict, want_texts: bool):
        wrapped = {"fn": block, "want_texts": want_texts, "state": state}
        yield from ordered_block_map(paths, _block, wrapped, batch_docs)

    return run
