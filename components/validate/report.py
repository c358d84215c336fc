"""Readable outputs of a validation: one-screen text, JSON summary, an offline HTML page."""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path

from components.data.writers import atomic_open, write_json
from components.validate.core import Outcome


def summary_dict(outcome: Outcome) -> dict:
    failed = [r for r in outcome.results if not r["success"]]
    return {
        "passed": outcome.passed,
        "checks": len(outcome.results),
        "failed": len(failed),
        "seconds": round(outcome.seconds, 3),
        "bytes_scanned": outcome.bytes_scanned,
        "stats": outcome.stats,
        "results": outcome.results,
    }


def _observed(r: dict) -> str:
    if r.get("exception"):
        return r["exception"]
    if r.get("table") == "class_counts" and r.get("examples"):
        # One row per class: name the classes (and how many training rows each has).
        shown = ", ".join(
            f"{ex['label']!r} ({ex.get('count', '?')})" if isinstance(ex, dict) else str(ex)
            for ex in r["examples"]
        )
        more = (r.get("unexpected_count") or 0) - len(r["examples"])
        return f"{r.get('unexpected_count')} classes below the minimum: {shown}" + (
            f" and {more} more (summary.json)" if more > 0 else ""
        )
    if r.get("table") == "stats" and r.get("examples"):
        # One-row statistics tables: the offending value itself is the observation.
        return f"observed {', '.join(map(str, r['examples']))}"
    if r.get("unexpected_count") is not None:
        pct = r.get("unexpected_percent") or 0
        return f"{r['unexpected_count']} of {r['rows']} rows ({pct:.2f}%)"
    if r.get("observed_value") is not None:
        return f"observed {r['observed_value']}"
    return "failed"


def summary_text(
    outcome: Outcome, report_dir: Path | None, origins: dict[str, str] | None = None
) -> str:
    """At most a screen: failed checks with counts, examples and fixes; passes as one line per file."""
    by_file: dict[str, list[dict]] = defaultdict(list)
    for r in outcome.results:
        by_file[r["file"]].append(r)
    failed = sum(not r["success"] for r in outcome.results)
    head = "PASSED" if outcome.passed else "FAILED"
    lines = [
        f"Validation {head}: {failed} of {len(outcome.results)} checks failed across {len(by_file)} files"
    ]
    for file, rs in by_file.items():
        bad = [r for r in rs if not r["success"]]
        mark = "ok  " if not bad else "FAIL"
        origin = f" (from {origins[file]})" if origins and file in origins else ""
        lines.append(f"{mark} {file}{origin}: {len(rs) - len(bad)}/{len(rs)} checks passed")
        for r in bad[:6]:
            lines.append(f"     x {r['check']} [{r['table']}]: {_observed(r)}")
            examples = r.get("examples") or []
            if r["table"] == "stats":
                examples = (outcome.stats.get(file, {}).get("examples") or {}).get(
                    _stats_key(r), []
                )
            if r["table"] == "class_counts":
                examples = []  # the classes are the observation itself
            for ex in examples[:2]:
                lines.append(f"         e.g. {_example(ex):.110}")
            if r.get("fix"):
                lines.append(f"       fix: {r['fix']}")
        if len(bad) > 6:
            lines.append(f"     ... {len(bad) - 6} more in summary.json")
    if report_dir is not None:
        lines.append(f"Report: {report_dir / 'index.html'}  (JSON: {report_dir / 'summary.json'})")
    return "\n".join(lines)


def _example(ex) -> str:
    """One failing row as the user finds it: line in the file, id, the value at fault."""
    if not isinstance(ex, dict):
        return str(ex)
    where = []
    if ex.get("line") is not None:
        where.append(f"line {ex['line']}")
    if ex.get("id") is not None:
        where.append(f"id {ex['id']}")
    if ex.get("train_id"):
        where.append(f"same text as train id {ex['train_id']}")
    rest = {k: v for k, v in ex.items() if k not in {"line", "id", "train_id"}}
    if "text" in ex and set(rest) == {"text"}:
        return f"{', '.join(where)}: {ex['text']}"
    value = ", ".join(f"{k}={v!r}" for k, v in rest.items()) or "(missing)"
    return f"{', '.join(where)}: {value}" if where else value


def _stats_key(r: dict) -> str:
    return {
        "empty_docs": "empty",
        "fffd_docs": "replacement_char",
        "control_docs": "control_char",
        "dup_rate": "duplicate",
        "out_of_length_share": "too_long",
    }.get(r.get("column") or "", "")


def write_reports(
    outcome: Outcome,
    report_dir: Path,
    shown_dir: Path,
    has_docs: bool,
    origins: dict[str, str] | None = None,
) -> str:
    """Write summary.json, summary.txt and index.html into report_dir; returns the text summary.

    ``shown_dir`` is where the folder will live once swapped in (the path the user is told).
    """
    text = summary_text(outcome, shown_dir, origins)
    write_json(report_dir / "summary.json", summary_dict(outcome))
    with atomic_open(report_dir / "summary.txt") as f:
        f.write(text + "\n")
    rows = "".join(
        f"<tr class={'ok' if r['success'] else 'bad'}><td>{html.escape(r['file'])}</td>"
        f"<td>{html.escape(r['table'])}</td><td>{html.escape(r['check'])}</td>"
        f"<td>{'pass' if r['success'] else 'FAIL'}</td>"
        f"<td>{html.escape('' if r['success'] else _observed(r))}</td>"
        f"<td>{html.escape('; '.join(_example(x) for x in r.get('examples') or []))}</td>"
        f"<td>{html.escape(r.get('fix') or '' if not r['success'] else '')}</td></tr>"
        for r in outcome.results
    )
    docs = (
        '<p><a href="data_docs/index.html">Great Expectations Data Docs</a></p>' if has_docs else ""
    )
    page = f"""<!doctype html><meta charset="utf-8"><title>Validation report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:14px}}tr.bad{{background:#fdd}}
tr.ok td:nth-child(4){{color:#070}}</style>
<h1>Validation {"passed" if outcome.passed else "FAILED"}</h1>
<pre>{html.escape(text)}</pre>{docs}
<table><tr><th>file</th><th>table</th><th>check</th><th>result</th><th>observed</th>
<th>examples</th><th>fix</th></tr>{rows}</table>"""
    with atomic_open(report_dir / "index.html") as f:
        f.write(page)
    return text
