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


def project(root: Path) -> str | None:
    """The project's shape and every stage that had nothing to do in it, with the reason."""
    m = _json(root / "metrics/ingest.json")
    if not m:
        return None
    rows = []
    for name in (
        "mine",
        "dapt",
        "dapt_tapt",
        "tapt_only",
        "control",
        "vocab_only",
        "adapter_dapt",
        "finetune",
    ):
        s = _json(root / f"metrics/{name}.json") or {}
        if s.get("skipped"):
            rows.append([name, s.get("reason", "")])
    out = f"<p>Shape: <b>{html.escape(str(m.get('shape', '?')))}</b>.</p>"
    if rows:
        out += "<p>Skipped for this shape:</p>" + _table(["stage", "why"], rows)
    return out


def decontamination(root: Path) -> str | None:
    m = _json(root / "metrics/decontaminate.json")
    if not m:
        return None
    rows = [
        [name, c.get("docs", 0), c.get("matched_docs", 0), c.get("cut_docs", 0),
         c.get("dropped_docs", 0), c.get("chars_removed", 0)]
        for name, c in m.get("sources", {}).items()
    ]  # fmt: skip
    out = _table(["source", "documents", "matched", "cut", "dropped", "chars removed"], rows)
    found = [
        [s, e.get("checked", 0), e.get("found_in_pretraining_text", 0), e.get("too_short_to_check", 0)]
        for s, e in m.get("eval_texts", {}).items()
    ]  # fmt: skip
    out += _table(["task split", "texts checked", "found in pretraining text", "too short"], found)
    return out + "<p>Audit: <code>data/decontaminated/audit.jsonl</code>.</p>"


def mining(root: Path) -> str | None:
    m = _json(root / "metrics/mine.json")
    if not m:
        return None
    if m.get("skipped"):
        return f"<p>Skipped: {html.escape(m.get('reason', ''))}</p>"
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
    """One plot of every pretraining stage's loss (the stages' plots/<stage>_loss.tsv)."""
    curves = {}
    for path in sorted((root / "plots").glob("*_loss.tsv")) if (root / "plots").exists() else []:
        with open(path, encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f, delimiter="\t") if r.get("step")]
        if rows:
            curves[path.name.removesuffix("_loss.tsv")] = rows
    if not curves:
        return None
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, rows in curves.items():
        ax.plot([float(r["step"]) for r in rows], [float(r["loss"]) for r in rows], label=name)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("masked-LM loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="loss curves" src="data:image/png;base64,{data}">'


def evaluation(root: Path) -> str | None:
    m = _json(root / "metrics/evaluate.json")
    if not m:
        return None
    rows = [
        [k, f"{v['dev_macro_f1_mean'] * 100:.1f} ± {v['dev_macro_f1_std'] * 100:.1f}",
         f"{v['macro_f1_mean'] * 100:.1f} ± {v['macro_f1_std'] * 100:.1f}",
         f"{v['accuracy_mean'] * 100:.1f} ± {v['accuracy_std'] * 100:.1f}", v["seeds"]]
        for k, v in m.items()
        if isinstance(v, dict) and "macro_f1_mean" in v and not _budget_key(k)
    ]  # fmt: skip
    out = ""
    if rows:
        header = ["candidate/strategy", "dev macro-F1 %", "test macro-F1 %", "test accuracy %"]
        out += _table([*header, "seeds"], rows)
    ppl = m.get("perplexity") or {}
    if ppl:
        out += "<h3>Masked-LM character perplexity, held-out text (same masks for all)</h3>"
        out += _table(
            ["candidate", "domain", "general"],
            [
                [n, f"{r.get('domain', 0):.2f}", f"{r.get('general', 0):.2f}"]
                for n, r in ppl.items()
            ],
        )
    choice = m.get("choice") or {}
    if choice.get("kind") in ("classifier", "mlm"):
        what = choice.get("combination") or choice.get("candidate")
        out += f"<p>Chosen on dev: <code>{html.escape(str(what))}</code>. "
        out += 'Full tables: <a href="evaluation.md">evaluation.md</a>.</p>'
    cm = root / "plots/evaluate_confusion.png"
    if cm.exists() and rows:
        out += "<h3>Confusion matrix of the chosen model on test (row-normalised)</h3>" + _img(cm)
    return out or None


def _budget_key(key: str) -> bool:
    """``dapt/full-8pc``: a label-budget point, shown in its own table, not as a row here."""
    tail = key.rsplit("-", 1)[-1]
    return "/" in key and tail.endswith("pc") and tail[:-2].isdigit()


def label_budget(root: Path) -> str | None:
    """The curve (compare: a column per budget, the plot) and the recommendation (register)."""
    data = _json(root / "reports/evaluation/label_budget.json")
    if not data or not data.get("curve"):
        return None
    curve = data["curve"]
    cols = list(dict.fromkeys(p["labels_per_class"] for ps in curve.values() for p in ps))
    rows = []
    for cand, ps in curve.items():
        at = {p["labels_per_class"]: p for p in ps}
        rows.append([cand] + [
            f"{at[c]['macro_f1_mean'] * 100:.1f} ± {at[c]['macro_f1_std'] * 100:.1f}"
            if c in at else "–"
            for c in cols
        ])  # fmt: skip
    heads = ["candidate"] + [f"{c}/class" if c != "all" else "all" for c in cols]
    out = f"<p>Test macro-F1 (%) of <code>{html.escape(str(data.get('strategy')))}</code> "
    out += "by train labels per class, mean ± std over seeds.</p>" + _table(heads, rows)
    png = root / "reports/evaluation/label_budget.png"
    if png.exists():
        out += _img(png)
    rec = (_json(root / "reports/gate.json") or {}).get("recommendation")
    if rec:
        out += f"<p><b>Recommendation</b> ({html.escape(str(rec['user_budget']))} labels per "
        out += f"class): {html.escape(rec['headline'])}.</p>"
        out += _table(
            ["labels per class", "recommended", "why"],
            [[b["labels_per_class"], b["recommended"] or "keep the base", b["text"]]
             for b in rec.get("budgets", [])],
        )  # fmt: skip
        for name, why in rec.get("not_recommended", {}).items():
            out += f"<p>Not recommended: {html.escape(name)} ({html.escape(why)}).</p>"
    return out


def gate(root: Path) -> str | None:
    g = _json(root / "reports/gate.json")
    if not g or "alias" not in g:
        return None
    cls = "ok" if g.get("promote") else "bad"
    reg = (
        f"registered as <code>{html.escape(g['model'])}</code> v{g['version']}"
        if g.get("registered")
        else "not registered (MLflow off)"
    )
    rows = [
        [c["reference"], f"{c['delta'] * 100:+.2f}", f"[{c['low'] * 100:+.2f}, {c['high'] * 100:+.2f}]",
         "pass" if c["passed"] else "fail"]
        for c in g.get("comparisons", [])
    ]  # fmt: skip
    table = _table(["vs", "gain (points / %)", "interval", "result"], rows) if rows else ""
    harm = [
        [name, _pct(r.get("domain_change")), _pct(r.get("general_change")),
         "yes" if r["recommended"] else "NOT RECOMMENDED", r["reason"]]
        for name, r in (g.get("harm_review") or {}).items()
    ]  # fmt: skip
    if harm:  # every pretrained candidate: the general-perplexity guard and the harm refusal
        heads = ["candidate", "domain ppl vs base", "general ppl vs base", "recommended", "why"]
        table += "<p>Harm review (held-out perplexity against the base):</p>" + _table(heads, harm)
    return (
        f'<p><b class="{cls}">{html.escape(g["alias"])}</b>: {html.escape(g["candidate"])}, '
        f"{reg}.</p>{table}<p>{html.escape(g['reason'])}</p>"
    )


def distillation(root: Path) -> str | None:
    """The student next to its teacher: test macro-F1, latency (batch 1, CPU, as measured in the
    stage), size; and the student's gate."""
    d = _json(root / "reports/distill.json")
    if not d:
        return None
    if d.get("skipped"):
        return f"<p>Skipped: {html.escape(str(d.get('reason', '')))}</p>"
    t, s = d["teacher"], d["student"]
    teacher = f"teacher {t.get('model', '')} v{t['version']}" if t.get("version") else "teacher"

    def row(name: str, r: dict) -> list[Any]:
        return [
            name, r["encoder_layers"], f"{r['macro_f1'] * 100:.2f}", f"{r['accuracy'] * 100:.2f}",
            f"{r['latency_ms_p50']:.1f}", f"{r['latency_ms_p95']:.1f}", f"{r['parameters']:,}",
            f"{r.get('file_bytes', 0) / 1e6:.2f}",
        ]  # fmt: skip

    table = _table(
        ["model", "layers", "test macro-F1", "accuracy", "p50 ms", "p95 ms", "parameters", "MB"],
        [row(f"{teacher} ({t['role']})", t), row(f"student (seeds {len(s['seed_macro_f1'])})", s)],
    )
    reg = (
        f"registered as <code>{html.escape(d['model'])}</code> v{d['version']} ({d['alias']})"
        if d.get("registered")
        else "not registered"
    )
    cls = "ok" if d.get("registered") else "bad"
    return (
        f"<p>{html.escape(t.get('note', ''))}.</p>{table}"
        f'<p><b class="{cls}">{reg}</b>: {html.escape(d["reason"])}. Latency: one text per call '
        "on this stage's machine, tokenization included (docs/benchmarks.md has the benchmark).</p>"
    )


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.1%}"


def lineage(root: Path, images: dict[str, bytes] | None = None) -> str | None:
    """The lineage picture from the OpenLineage events, else from dvc.yaml's stage graph; the
    PNG also goes into ``images`` (the CLI writes it beside the page)."""
    from components.errors import ConfigError
    from components.lineage import events
    from components.orchestration.graph import load
    from components.report import lineage_graph

    g, note = None, ""
    try:
        g = lineage_graph.from_events(events.read(root))
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a malformed event file
        note = f" (events in reports/lineage unreadable: {type(exc).__name__}: {exc})"
    if g is None and (root / "dvc.yaml").exists():
        gate = _json(root / "reports/gate.json") or {}
        model = f"models:/{gate['model']}/{gate['version']}" if gate.get("registered") else None
        try:
            g = lineage_graph.from_stages(load(root / "dvc.yaml"), model)
        except ConfigError as exc:  # a section, never the page
            return f"<p>Lineage picture not drawn: {html.escape(str(exc))}</p>"
    if g is None or not g.nodes:
        return None
    png = lineage_graph.draw(g)
    if images is not None:
        images[LINEAGE_PNG] = png
    data = base64.b64encode(png).decode()
    return (
        f'<img alt="lineage graph" src="data:image/png;base64,{data}">'
        f"<p><small>From the {html.escape(g.source + note)}. Blue: raw inputs; green: the registered "
        "version. <code>dapt lineage models:/NAME@ALIAS</code> prints the hashes.</small></p>"
    )


LINEAGE_PNG = "lineage_graph.png"
SECTIONS = [
    ("Project", project),
    ("Data validation", validation),
    ("Decontamination", decontamination),
    ("Mining", mining),
    ("Top new words", new_words),
    ("Pretraining loss curves", loss_curves),
    ("Evaluation", evaluation),
    ("Label-budget curve", label_budget),
    ("Gate decision", gate),
    ("Distilled student", distillation),
]


def build(root: Path, images: dict[str, bytes] | None = None) -> tuple[str, list[str]]:
    """(html, names of the sections skipped for missing inputs); pictures to write beside the
    page go into ``images`` (file name -> PNG bytes)."""
    parts, skipped = [], []
    for title, fn in [*SECTIONS, ("Lineage", lambda r: lineage(r, images))]:
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


def write_report(root: Path, out: Path) -> int:
    """Build the page from ``root``'s outputs and write it, its pictures beside it."""
    from components.data.writers import atomic_open

    images: dict[str, bytes] = {}
    page, skipped = build(root, images)
    for name, png in images.items():  # beside the page: linkable, and kept by DVC as an out
        with atomic_open(out.parent / name, "wb") as f:
            f.write(png)
    with atomic_open(out) as f:
        f.write(page)
    print(f"[report] {out}" + (f" (no data for: {', '.join(skipped)})" if skipped else ""))
    return 0
