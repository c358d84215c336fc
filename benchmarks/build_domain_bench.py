"""Build the multi-domain development benchmark (issue 17) under ``build/domain_bench/``.

    .venv/bin/python benchmarks/build_domain_bench.py [--mirrors /work/.mirror] [--max-mb 4]

Reads public sources: ``../shared/data`` and git mirrors of public repositories brought onto
this machine with the search tool's ``fetch`` (``/work/.mirror/<owner>+<name>/repo``; read
with ``git show COMMIT:PATH``, nothing is checked out). Nothing fetched is committed: this
script is the reproducible recipe, and ``manifest.json`` records for every source the
repository, commit, path, licence and the SHA-256 of the bytes read.

Output (one document per line, whitespace collapsed):

| path | what |
|---|---|
| ``zh/<domain>/corpus.txt`` | a domain corpus (at most ``--max-mb`` MB, documents sampled with seed 0) |
| ``zh/<domain>/lexicon.txt`` | its THUOCL reference lexicon (copied) |
| ``zh/background.txt`` | general Chinese text: the CLUECorpusSmall sample (what the pipeline uses) |
| ``en/chemprot/corpus.txt`` | ChemProt sentences, entity markers removed, duplicates dropped |
| ``en/chemprot/terms.txt`` | the multi-word chemical and gene/protein mentions ChemProt's annotators marked |
| ``en/background.txt`` | WikiText-2 valid + test (general English) |
| ``headlines.tsv`` | NLPCC 2017 news headlines, ``category<TAB>text``, 18 categories x 2,000 |

``--heldout`` adds ``heldout/law`` (statutes, LawRefBook, with THUOCL law), ``heldout/hotel``
(ChnSentiCorp hotel reviews) and ``heldout/shopping.tsv`` (online_shopping_10_cats reviews,
``category<TAB>review``): the held-out checks of issue 17, evaluated once at the end.

Domains (Chinese): medical (cMedQA + CMDD), it (JavaGuide, Chinese software-engineering notes),
finance (BBT-FinCUGE financial news), food (HowToCook recipes), car (NLPCC car headlines: a
deliberately small corpus). Statute texts and e-commerce/hotel reviews are *not* used: they are
the held-out checks of issue 17.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# repo -> (commit, licence). Commits are the snapshots fetched on 2026-12-02.
REPOS = {
    "Snailclimb/JavaGuide": ("fd4c37ab8f58a3c5520535d401adaf1adf72ed85", "Apache-2.0 (LICENSE)"),
    "ssymmetry/BBT-FinCUGE-Applications": (
        "654d132de56e85075700358baf558ab4d0cd986f",
        "no licence file; research benchmark data (Lu et al. 2023, BBT-Fin)",
    ),
    "Anduin2017/HowToCook": ("cbeb536760320efe24f9a61fe354a318d5887e30", "Unlicense (LICENSE)"),
    # Held-out checks only (--heldout; never used to choose anything).
    "LawRefBook/Laws": (
        "2f4c5c23716267af9dbebbbbd6cbbf732b101981",
        "no licence file; Chinese statutes (official texts, not copyrightable: Copyright Law art. 5)",
    ),
    "thunlp/THUOCL": ("a30ce79d895d01ab5132a5c74c29703ff7efb4cc", "MIT (LICENSE)"),
    "SophonPlus/ChineseNlpCorpus": (
        "a0b781d72158bde242c0626c9e354d2b328865ff",
        "no licence file; public sentiment corpora (ChnSentiCorp, online_shopping_10_cats)",
    ),
    "FudanNLP/nlpcc2017_news_headline_categorization": (
        "067b54681f218e974c739d5a4f5ed7da26aed277",
        "no licence file; NLPCC 2017 shared-task data, research use",
    ),
}
FINCUGE_FILES = [
    "FinCUGE_Publish/finna/eval_list.json",
    "FinCUGE_Publish/finna/problem_list.json",
    "FinCUGE_Publish/finnl/train_list.json",
    "FinCUGE_Publish/finnl/eval_list.json",
    "FinCUGE_Publish/finnl/problem_list.json",
    "FinCUGE_Publish/finese/train_list.json",
]
HEADLINES = "test.full/test.word"
THUOCL = {"medical": "medical", "it": "IT", "finance": "caijing", "food": "food", "car": "car"}


class Sources:
    """Reads mirror blobs and shared files, remembering what was read for the manifest."""

    def __init__(self, mirrors: Path, shared: Path) -> None:
        self.mirrors, self.shared, self.read = mirrors, shared, []

    def _git(self, repo: str, *args: str) -> bytes:
        path = self.mirrors / repo.replace("/", "+") / "repo"
        if not path.exists():
            sys.exit(f"missing mirror {path}: fetch github:{repo} with the search tool first")
        return subprocess.run(
            ["git", "-C", str(path), "-c", "core.quotepath=off", *args],
            check=True,
            capture_output=True,
        ).stdout

    def commit_of(self, repo: str) -> str:
        want = REPOS[repo][0]
        have = self._git(repo, "rev-parse", "HEAD").decode().strip()
        if not have.startswith(want[:7]):
            print(f"[build] note: {repo} mirror is at {have[:12]}, manifest pins {want[:12]}")
        return have

    def list(self, repo: str, pattern: str) -> list[str]:
        names = self._git(repo, "ls-tree", "-r", "--name-only", self.commit_of(repo))
        return sorted(n for n in names.decode().splitlines() if re.fullmatch(pattern, n))

    def blob(self, repo: str, path: str, *, binary: bool = False):
        commit = self.commit_of(repo)
        data = self._git(repo, "show", f"{commit}:{path}")
        self.read.append(
            {
                "repo": repo,
                "commit": commit,
                "path": path,
                "licence": REPOS[repo][1],
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
        )
        return data if binary else data.decode("utf-8")

    def file(self, rel: str, licence: str) -> Path:
        path = self.shared / rel
        data = path.read_bytes()
        self.read.append(
            {
                "shared": rel,
                "licence": licence,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
        )
        return path


def one_line(text: str) -> str:
    return " ".join(text.split())


_FENCE = re.compile(r"```.*?```|~~~.*?~~~", re.S)
_HTML = re.compile(r"<[^>]+>")
_IMG = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_CODE = re.compile(r"`[^`\n]*`")
_FRONT = re.compile(r"\A---\n.*?\n---\n", re.S)


def markdown_text(md: str) -> str:
    """Prose of a Markdown file: no front matter, code, images, link targets or HTML."""
    md = _FRONT.sub("", md)
    md = _FENCE.sub(" ", md)
    md = _IMG.sub(" ", md)
    md = _LINK.sub(r"\1", md)
    md = _CODE.sub(" ", md)
    md = _HTML.sub(" ", md)
    md = re.sub(r"^\s*(#+|[-*+]|\d+\.|>|\|)\s*", "", md, flags=re.M)
    return one_line(md.replace("|", " ").replace("**", ""))


def cap(docs: list[str], max_mb: float, seed: int = 0) -> list[str]:
    """Distinct documents (>= 10 characters) in a seeded random order, up to ``max_mb``."""
    seen: set[str] = set()
    uniq = [d for d in docs if len(d) >= 10 and not (d in seen or seen.add(d))]
    random.Random(seed).shuffle(uniq)
    out, size = [], 0
    for d in uniq:
        size += len(d.encode("utf-8")) + 1
        if size > max_mb * 1e6:
            break
        out.append(d)
    return out


def medical(src: Sources) -> list[str]:
    csv.field_size_limit(1 << 30)
    docs = []
    for name in ("cmedqa_dev.tsv", "cmedqa_test.tsv"):
        path = src.file(f"medical/{name}", "Apache-2.0 (LICENSE.ChineseBLUE)")
        with open(path, encoding="utf-8", newline="") as f:
            docs += [one_line(" ".join(row[1:3])) for row in csv.reader(f, delimiter="\t")]
    path = src.file("medical/cmdd_dialogues.jsonl", "Apache-2.0 (LICENSE.ChineseBLUE)")
    with open(path, encoding="utf-8") as f:
        docs += [one_line(json.loads(line)["text"]) for line in f]
    return docs


def it(src: Sources) -> list[str]:
    repo = "Snailclimb/JavaGuide"
    return [markdown_text(src.blob(repo, p)) for p in src.list(repo, r"docs/.*\.md")]


def finance(src: Sources) -> list[str]:
    repo = "ssymmetry/BBT-FinCUGE-Applications"
    docs = []
    for path in FINCUGE_FILES:
        for row in json.loads(src.blob(repo, path)):
            if isinstance(row, dict):  # problem lists: {"id", "input": news}
                docs.append(one_line(row["input"]))
            elif "/finna/" in path:  # [summary, news]: the news article
                docs.append(one_line(row[1]))
            elif "/finnl/" in path:  # [news, labels]
                docs.append(one_line(row[0]))
            else:  # finese: [id, text, event type, subject]
                docs.append(one_line(row[1]))
    return docs


def food(src: Sources) -> list[str]:
    repo = "Anduin2017/HowToCook"
    return [markdown_text(src.blob(repo, p)) for p in src.list(repo, r"(dishes|tips)/.*\.md")]


def headlines(src: Sources) -> list[tuple[str, str]]:
    repo = "FudanNLP/nlpcc2017_news_headline_categorization"
    rows = []
    for line in src.blob(repo, HEADLINES).splitlines():
        label, _, words = line.partition("\t")
        toks = words.split()
        text = ""
        for t in toks:  # re-join the segmented words; keep a space only between Latin words
            if text and text[-1].isascii() and text[-1].isalnum() and t[0].isascii():
                text += " "
            text += t
        if text:
            rows.append((label, text))
    return rows


# Terms a word-level extractor can list: 2+ words of letters/digits/hyphens, starting with a letter
# (components/newwords/english.py tokenises the same way).
_TERM = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?: [a-z][a-z0-9]*(?:-[a-z0-9]+)*)+")
_MARK = re.compile(r"<<\s*(.*?)\s*>>|\[\[\s*(.*?)\s*\]\]")


def chemprot(src: Sources) -> tuple[list[str], set[str]]:
    docs, terms = [], set()
    for split in ("train", "dev", "test"):
        path = src.file(f"english/chemprot_{split}.jsonl", "Apache-2.0 (LICENSE.scibert)")
        with open(path, encoding="utf-8") as f:
            for line in f:
                text = json.loads(line)["text"]
                for a, b in _MARK.findall(text):
                    term = " ".join((a or b).lower().split())
                    if _TERM.fullmatch(term):
                        terms.add(term)
                docs.append(one_line(_MARK.sub(lambda m: m.group(1) or m.group(2), text)))
    return docs, terms


def heldout(src: Sources, out: Path, max_mb: float) -> dict:
    """Held-out checks (issue 17): statutes + THUOCL law; hotel and shopping reviews."""
    import io
    import zipfile

    outputs = {}
    repo = "LawRefBook/Laws"
    laws = [
        markdown_text(src.blob(repo, p))
        for p in src.list(repo, r"(法律|行政法规|刑法|民法典|民法商法|行政法|经济法|社会法)/.*\.md")
    ]
    outputs["heldout/law"] = write_lines(out / "heldout" / "law" / "corpus.txt", cap(laws, max_mb))
    lex = src.blob("thunlp/THUOCL", "data/THUOCL_law.txt")
    (out / "heldout" / "law" / "lexicon.txt").write_text(lex, encoding="utf-8")
    repo = "SophonPlus/ChineseNlpCorpus"
    hotel = src.blob(repo, "datasets/ChnSentiCorp_htl_all/ChnSentiCorp_htl_all.csv")
    reviews = [one_line(r["review"]) for r in csv.DictReader(io.StringIO(hotel)) if r["review"]]
    outputs["heldout/hotel"] = write_lines(
        out / "heldout" / "hotel" / "corpus.txt", cap(reviews, max_mb)
    )
    raw = src.blob(
        repo, "datasets/online_shopping_10_cats/online_shopping_10_cats.zip", binary=True
    )
    text = zipfile.ZipFile(io.BytesIO(raw)).read("online_shopping_10_cats.csv").decode("utf-8-sig")
    rows = [(r["cat"], one_line(r["review"].lstrip("\ufeff"))) for r in csv.DictReader(io.StringIO(text))
            if r["review"] and r["review"].strip()]  # fmt: skip
    outputs["heldout/shopping"] = write_lines(
        out / "heldout" / "shopping.tsv", (f"{c}\t{t}" for c, t in rows)
    )
    return outputs


def write_lines(path: Path, lines) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        n = 0
        for line in lines:
            f.write(line + "\n")
            n += 1
    return {
        "path": str(path.relative_to(ROOT)),
        "lines": n,
        "mb": round(path.stat().st_size / 1e6, 3),
    }


def shared_default() -> Path:
    """``../shared/data`` beside the checkout (a git worktree elsewhere: /work/shared/data)."""
    here = ROOT.parent / "shared" / "data"
    return here if here.exists() else Path("/work/shared/data")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--shared", type=Path, default=shared_default())
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "domain_bench")
    ap.add_argument("--max-mb", type=float, default=4.0, help="cap per domain corpus")
    ap.add_argument("--heldout", action="store_true",
                    help="also build the held-out checks (statutes, reviews): final checks only")  # fmt: skip
    args = ap.parse_args()
    src = Sources(args.mirrors, args.shared)
    out = args.out
    outputs = {}
    heads = headlines(src)
    car = [t for label, t in heads if label == "car"]
    builders = {"medical": medical, "it": it, "finance": finance, "food": food}
    for name, build in builders.items():
        outputs[f"zh/{name}"] = write_lines(
            out / "zh" / name / "corpus.txt", cap(build(src), args.max_mb)
        )
    outputs["zh/car"] = write_lines(out / "zh" / "car" / "corpus.txt", cap(car, args.max_mb))
    for name, thuocl in THUOCL.items():
        lex = src.file(f"lexicons/THUOCL_{thuocl}.txt", "MIT (LICENSE.THUOCL)")
        shutil.copyfile(lex, out / "zh" / name / "lexicon.txt")
    bg = src.file("general/clue_corpus_small_sample.txt", "Apache-2.0 (LICENSE.UER-py)")
    with open(bg, encoding="utf-8") as f:
        outputs["zh/background"] = write_lines(out / "zh" / "background.txt", map(one_line, f))
    docs, terms = chemprot(src)
    outputs["en/chemprot"] = write_lines(
        out / "en" / "chemprot" / "corpus.txt", cap(docs, args.max_mb)
    )
    outputs["en/chemprot/terms"] = write_lines(out / "en" / "chemprot" / "terms.txt", sorted(terms))
    wiki = []
    for split in ("valid", "test"):
        path = src.file(f"english/wikitext2_{split}.txt", "CC BY-SA (WikiText-2)")
        with open(path, encoding="utf-8") as f:
            wiki += [one_line(x) for x in f if x.strip() and not x.strip().startswith("=")]
    outputs["en/background"] = write_lines(out / "en" / "background.txt", wiki)
    outputs["headlines"] = write_lines(out / "headlines.tsv", (f"{a}\t{b}" for a, b in heads))
    if args.heldout:
        outputs.update(heldout(src, out, args.max_mb))
    manifest = {"sources": src.read, "outputs": outputs, "max_mb": args.max_mb}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    for k, v in outputs.items():
        print(f"[build] {k}: {v['lines']} lines, {v['mb']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
