"""Build the general English corpus of models/base-en-tiny from WikiText-2 (valid + test).

Benchmarks may read /work/shared/data; the project itself never does. Output: a ``.txt`` with one
document (a WikiText paragraph) per line. What changes from the WikiText-2 files:

* article and section headings (`` = Title = ``, `` = = Section = = ``) and blank lines are dropped;
* WikiText's mechanical tokenisation is undone: `` @-@ `` -> ``-``, `` @,@ `` -> ``,``,
  `` @.@ `` -> ``.``, no space before ``, . ; : ! ? ) ]`` or ``'s n't 're ...``, none after ``( [``;
* ``<unk>`` tokens (WikiText's replacement for words outside its 33k vocabulary) are **dropped**,
  with the space before them: kept, the literal ``<unk>`` would be split by the BERT
  pre-tokenizer into ``< unk >`` and become one of the most frequent "words" the model is trained
  to predict, a string no real input contains. Dropping it leaves a hole at ~6 % of the words
  (27k of 455k), the lesser evil for a general text model; brackets left empty go too;
* paragraphs with fewer than ``--min-words`` words after that are dropped (stray fragments).

Quotes (`` " ... " ``) are left spaced: whether a ``"`` opens or closes is not mechanical, and the
BERT pre-tokenizer splits punctuation off anyway, so spacing never changes the tokens.

    .venv/bin/python benchmarks/build_english_corpus.py --out build/wikitext2.txt
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

SHARED = Path("/work/shared/data")
FILES = ("english/wikitext2_valid.txt", "english/wikitext2_test.txt")

_HEADING = re.compile(r"^\s*=(?: =)* .* =(?: =)*\s*$")
_MARKERS = {"@-@", "@,@", "@.@"}
_RULES = [
    (re.compile(r" [(\[] [)\]]"), ""),  # "( <unk> )" with the <unk> gone
    (re.compile(r" @([-,.])@ "), r"\1"),
    (re.compile(r" (?=[,.;:!?)\]}%])"), ""),  # no space before closing punctuation
    (re.compile(r"(?<=[(\[{$]) "), ""),  # none after opening brackets or a currency sign
    (re.compile(r" (?='(?:s|re|ve|ll|d|m|t)\b|n't\b)", re.IGNORECASE), ""),  # clitics, "don 't"
    (re.compile(r" {2,}"), " "),
]


def detokenize(line: str) -> str:
    """One WikiText line as plain text (see the module docstring for the rules)."""
    toks = line.split()
    # Drop <unk>, and every number/compound joiner that touched one ("<unk> @,@ <unk> @-@ square"
    # -> "square", not ",-square"); left to right, so a chain of joiners goes with the <unk>.
    gone = [t == "<unk>" for t in toks]
    for i, t in enumerate(toks):
        if t in _MARKERS and (
            i == 0 or i == len(toks) - 1 or gone[i - 1] or toks[i + 1] == "<unk>"
        ):
            gone[i] = True
    text = " ".join(t for t, g in zip(toks, gone, strict=True) if not g)
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text.strip()


def paragraphs(path: Path, min_words: int = 3):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or _HEADING.match(line):
                continue
            text = detokenize(line)
            if len(text.split()) >= min_words:
                yield text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--out", type=Path, required=True, help="output .txt, one document per line")
    ap.add_argument("--min-words", type=int, default=3, help="drop shorter paragraphs")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    n = chars = 0
    with open(args.out, "w", encoding="utf-8") as f:
        for name in FILES:
            for text in paragraphs(args.shared / name, args.min_words):
                f.write(text + "\n")
                n += 1
                chars += len(text)
    print(f"{n} documents, {chars:,} characters -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
