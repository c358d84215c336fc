"""Build the general corpus the shipped base model (models/base-zh-tiny) was pretrained on.

Benchmarks may read /work/shared/data; the project itself never does. Output (one JSON document
per line, ``{"id", "text"}``): the CLUECorpusSmall sample (one document per line) plus the Xinwen
Lianbo news transcripts split into paragraphs (lines of 8+ characters). ``--clue-repeats N`` appends
the CLUE documents N more times (the second training phase of the shipped base used 3, so that web
text, the register of the demo's general corpus, is ~18 % of the tokens rather than ~5 %).

    .venv/bin/python benchmarks/build_general_corpus.py --out build/general_corpus.jsonl
    .venv/bin/python benchmarks/build_general_corpus.py --out build/general_mix.jsonl --clue-repeats 3
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.data import normalize, write_jsonl

SHARED = Path("/work/shared/data")


def clue(shared: Path):
    with open(shared / "general/clue_corpus_small_sample.txt", encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            text = normalize(line.strip())
            if len(text) >= 8:
                yield {"id": f"clue:{i}", "text": text}


def docs(shared: Path, clue_repeats: int = 0):
    yield from clue(shared)
    with open(shared / "bench/xinwen_lianbo_news.jsonl", encoding="utf-8") as f:
        for row in map(json.loads, f):
            for j, para in enumerate(row["text"].split("\n")):
                text = normalize(para.strip())
                if len(text) >= 8:
                    yield {"id": f"news:{row['id']}:{j}", "text": text}
    for r in range(1, clue_repeats + 1):
        for doc in clue(shared):
            yield {"id": f"{doc['id']}:rep{r}", "text": doc["text"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--out", type=Path, default=Path("build/general_corpus.jsonl"))
    ap.add_argument("--clue-repeats", type=int, default=0, help="append the CLUE docs N more times")
    args = ap.parse_args()
    n = write_jsonl(args.out, docs(args.shared, args.clue_repeats))
    print(f"{n} documents -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
