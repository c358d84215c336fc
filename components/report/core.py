"""Assemble ``reports/index.html`` from whatever the pipeline produced; a section whose inputs
are missing is left out (and listed at the bottom), never an error. Images are embedded as data
URIs so the page works offline and when copied elsewhere."""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path
from typing import Any

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;font-size:14px}th{background:#f3f3f3}.ok{color:#186a1e}.bad{color:#a11}
img{max-width:100%}code{background:#f5f5f5;padding:0 3px}"""


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def validation(root: Path) -> str | None:
    s = _json(root / "reports/validation/summary.json")
    if not s:
        return None
    failed = [r for r in s.get("results", []) if not r.get("success")]
    status = '<b class="ok">passed</b>' if s.get("passed") else '<b class="bad">failed</b>'
    out = f"<p>{status}: {s.get('checks', '?')} checks, {s.get('failed', len(failed))} failed. "
    out += 'Details: <a href="validation/index.html">validation report</a>.</p>'
    if failed:
        out += _table(
            ["file", "check", "fix"],
            [[r.get("file"), r.get("check"), r.get("fix")] for r in failed],
        )
    return out


def mining(root: Path) -> str | None:
    m = _json(root / "metrics/mine.json")
    if not m:
        return None
    rows = [[k, m[k]] for k in ("method", "pool_docs", "clean_docs", "selected_docs") if k in m]
    rows += [[f"dropped: {k}", v] for k, v in (m.get("dropped") or {}).items() if v]
    return _table(["", "value"], rows)


def new_words(root: Path, top: int = 30) -> str | None:
    path = root / "data/lexicon/lexicon.tsv"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as f:
        rows = [r for r in csv.reader(f, delimiter="\t") if r and not r[0].startswith("#")]
    if not rows:
        return None
    header, body = (rows[0], rows[1 : top + 1]) if not rows[0][-1][:1].isdigit() else (
        [f"col{i}" for i in range(len(rows[0]))], rows[:top]
    )  # fmt: skip
    return _table(header, body)


def loss_curves(root: Path) -> str | None:
    imgs = sorted((root / "models").glob("*/loss_curve.png")) if (root / "models").exists() else []
    if not imgs:
        return None
    return "".join(f"<h3>{html.escape(p.parent.name)}</h3>{_img(p)}" for p in imgs)


def evaluation(root: Path) -> str | None:
    m = _json(root / "metrics/evaluate.json")
    if not m:
        return None
    rows = [
        [k, f"{v['macro_f1_mean'] * 100:.1f} ± {v['macro_f1_std'] * 100:.1f}",
         f"{v['accuracy_mean'] * 100:.1f} ± {v['accuracy_std'] * 100:.1f}", v["seeds"]]
        for k, v in m.items() if isinstance(v, dict) and "macro_f1_mean" in v and k != "best"
    ]  # fmt: skip
    out = _table(["candidate/strategy", "macro-F1 %", "accuracy %", "seeds"], rows)
    if m.get("best"):
        out += f"<p>Best: <code>{html.escape(m['best']['combination'])}</code>. "
        out += 'Full tables: <a href="evaluation.md">evaluation.md</a>.</p>'
    cm = root / "plots/evaluate_confusion.png"
    if cm.exists():
        out += "<h3>Confusion matrix (row-normalised)</h3>" + _img(cm)
    return out


def gate(root: Path) -> str | None:
    g = _json(root / "reports/evaluation/gate.json")
    if not g:
        return None
    cls = "ok" if g.get("promote") else "bad"
    reg = (
        f"registered as <code>{html.escape(g['model'])}</code> v{g['version']}"
        if g.get("registered")
        else "not registered (MLflow off)"
    )
    return (
        f'<p><b class="{cls}">{html.escape(g["alias"])}</b>: {html.escape(g["candidate"])}, '
        f"{reg}.</p><p>{html.escape(g['reason'])}</p>"
    )


SECTIONS = [
    ("Data validation", validation),
    ("Mining", mining),
    ("Top new words", new_words),
    ("Pretraining loss curves", loss_curves),
    ("Evaluation", evaluation),
    ("Gate decision", gate),
]


def build(root: Path) -> tuple[str, list[str]]:
    """(html, names of the sections skipped for missing inputs)."""
    parts, skipped = [], []
    for title, fn in SECTIONS:
        body = fn(root)
        if body is None:
            skipped.append(title)
        else:
            parts.append(f"<h2>{html.escape(title)}</h2>{body}")
    if skipped:
        parts.append(f"<p><small>Not available in this run: {', '.join(skipped)}.</small></p>")
    page = (
        '<!doctype html><html><head><meta charset="utf-8"><title>Run report</title>'
        f"<style>{CSS}</style></head><body><h1>Domain adaptation run report</h1>"
        + "".join(parts)
        + "</body></html>"
    )
    return page, skipped
