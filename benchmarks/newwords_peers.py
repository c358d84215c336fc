"""Run one public new-word implementation on a text file (one document per line).

Runs inside .venv-bench (benchmarks/setup_bench_env.sh), never in the project environment:
    .venv-bench/bin/python benchmarks/newwords_peers.py --tool smoothnlp --corpus X.txt --out Y.json
Writes {"tool", "seconds", "words": [ranked, best first]}; seconds cover the library call only.
"""

from __future__ import annotations

import argparse
import json
import time


def smoothnlp_words(path: str, top_k: int) -> list[str]:
    from smoothnlp.algorithm.phrase import extract_phrase

    with open(path, encoding="utf-8") as f:
        docs = [line.strip() for line in f if line.strip()]
    # Library defaults (min_n=2, max_n=4, min_freq=5); ranked by its own combined score.
    return list(extract_phrase(docs, top_k=top_k))


def jionlp_words(path: str, top_k: int) -> list[str]:
    from jionlp.algorithm.new_word.new_word_discovery import new_word_discovery

    # Library defaults (min_freq=10, min_mutual_information=80, min_entropy=3); the returned
    # dict is ordered by min(left, right) entropy, best first.
    return list(new_word_discovery(path))[:top_k]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", choices=["smoothnlp", "jionlp"], required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--top-k", type=int, default=5000)
    args = ap.parse_args()
    fn = {"smoothnlp": smoothnlp_words, "jionlp": jionlp_words}[args.tool]
    start = time.perf_counter()
    words = fn(args.corpus, args.top_k)
    seconds = time.perf_counter() - start
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"tool": args.tool, "seconds": seconds, "words": words}, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
