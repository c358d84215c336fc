"""great-expectations 1.x suites, defined in code, run on an ephemeral context.

Every check is a real GX expectation. Row-level checks run on the documents (or a bounded
sample of a large corpus, chosen by position: components/validate/stats.py); corpus-level checks run on a one-row table of streaming statistics
computed over every document, so nothing is skipped for size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.data.text import CONTROL_RE
from components.validate.params import CorpusChecks, TaskChecks

SITE = "dapt_validation"


@dataclass
class Check:
    """One expectation plus the words the summary uses for it."""

    name: str
    expectation: Any
    fix: str


@dataclass
class Batch:
    """A table to validate: which file it describes, and its checks."""

    file: str
    table: str  # "rows", "stats", "class_counts"
    frame: Any  # pandas.DataFrame
    checks: list[Check] = field(default_factory=list)
    # Columns that locate a failing row for the user (id, line in the file, ...): GX returns
    # them for every unexpected row it lists.
    index: list[str] = field(default_factory=list)


def corpus_batches(file: str, rows, stats_row: dict, p: CorpusChecks, lang: str) -> list[Batch]:
    import great_expectations.expectations as gxe
    import pandas as pd

    script = "Han" if lang == "zh" else "Latin"
    rows_batch = Batch(file, "rows", pd.DataFrame(rows, columns=["id", "text"]))
    rows_batch.checks = [
        Check(
            "text present",
            gxe.ExpectColumnValuesToNotBeNull(column="text"),
            "drop rows without text",
        ),
        Check(
            f"length in [{p.min_chars}, {p.max_chars}] chars",
            gxe.ExpectColumnValueLengthsToBeBetween(
                column="text", min_value=p.min_chars, max_value=p.max_chars, mostly=p.length_mostly
            ),
            "filter very short/long documents or change validate.corpus.min_chars/max_chars",
        ),
        Check(
            "no U+FFFD replacement characters",
            gxe.ExpectColumnValuesToNotMatchRegex(column="text", regex="\ufffd"),
            "the text was decoded with the wrong encoding upstream: re-export it as UTF-8",
        ),
        Check(
            "no control characters",
            gxe.ExpectColumnValuesToNotMatchRegex(column="text", regex=CONTROL_RE.pattern),
            "strip control characters (dapt ingest does) or fix the export",
        ),
        Check(
            "unique ids",
            gxe.ExpectColumnValuesToBeUnique(column="id"),
            "give every document a unique id",
        ),
    ]
    stats_batch = Batch(file, "stats", pd.DataFrame([stats_row]))
    stats_batch.checks = [
        Check(
            f"at least {p.min_docs} documents",
            gxe.ExpectColumnValuesToBeBetween(column="n_docs", min_value=p.min_docs),
            "provide more text or lower validate.corpus.min_docs",
        ),
        Check(
            f"at least {p.min_bytes} bytes",
            gxe.ExpectColumnValuesToBeBetween(column="n_bytes", min_value=p.min_bytes),
            "provide more text or lower validate.corpus.min_bytes",
        ),
        Check(
            "no empty documents",
            gxe.ExpectColumnValuesToBeBetween(column="empty_docs", max_value=0),
            "drop empty lines/rows",
        ),
        Check(
            "no documents with U+FFFD",
            gxe.ExpectColumnValuesToBeBetween(column="fffd_docs", max_value=0),
            "re-export the source as UTF-8",
        ),
        Check(
            "no documents with control characters",
            gxe.ExpectColumnValuesToBeBetween(column="control_docs", max_value=0),
            "strip control characters",
        ),
        Check(
            f"duplicate rate <= {p.max_dup_rate}",
            gxe.ExpectColumnValuesToBeBetween(column="dup_rate", max_value=p.max_dup_rate),
            "deduplicate (dapt ingest does) or raise validate.corpus.max_dup_rate",
        ),
        Check(
            f"{script} share of letters >= {p.min_script_ratio}",
            gxe.ExpectColumnValuesToBeBetween(column="script_ratio", min_value=p.min_script_ratio),
            "is this the right language? pass --lang, or lower validate.corpus.min_script_ratio",
        ),
        Check(
            f"documents outside length bounds <= {1 - p.length_mostly:.2%}",
            gxe.ExpectColumnValuesToBeBetween(
                column="out_of_length_share", max_value=round(1 - p.length_mostly, 9)
            ),
            "filter very short/long documents or change the length bounds",
        ),
    ]
    return [rows_batch, stats_batch]


def task_batches(
    splits: dict[str, tuple[str, Any]],
    labels: list[str],
    train_hashes: dict[str, str],
    p: TaskChecks,
    label_source: str = "",
) -> list[Batch]:
    """``splits``: name -> (file, DataFrame with id, line, text, label, hash); ``train_hashes``:
    text hash -> id of the train row with that text (named in a leakage failure)."""
    import great_expectations.expectations as gxe
    import pandas as pd

    batches = []
    for split, (file, df) in splits.items():
        df = df.copy()
        df["leaked"] = df["hash"].isin(train_hashes) if split != "train" else False
        same = df["hash"].map(train_hashes) if split != "train" else None
        df["train_id"] = same.where(df["leaked"], "") if same is not None else ""
        cols = ["id", "line", "text", "label", "leaked", "train_id"]
        b = Batch(file, "rows", df[cols], index=["id", "line", "train_id"])
        b.checks = [
            Check(
                "text present",
                gxe.ExpectColumnValuesToNotBeNull(column="text"),
                "every row needs text",
            ),
            Check(
                "text non-empty",
                gxe.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1),
                "drop rows with empty text",
            ),
            Check(
                "label present",
                gxe.ExpectColumnValuesToNotBeNull(column="label"),
                "every row needs a label",
            ),
            Check(
                "label in the declared label set",
                gxe.ExpectColumnValuesToBeInSet(column="label", value_set=labels),
                f"fix the label of these rows, or add it to the label set{label_source}",
            ),
            Check(
                "unique ids",
                gxe.ExpectColumnValuesToBeUnique(column="id"),
                "give every row a unique id",
            ),
            Check(
                f"at least {p.min_rows} rows",
                gxe.ExpectTableRowCountToBeBetween(min_value=p.min_rows if split == "train" else 1),
                "provide more labeled rows",
            ),
        ]
        if split != "train" and p.check_leakage:
            b.checks.append(
                Check(
                    "no text shared with train (leakage)",
                    gxe.ExpectColumnValuesToBeInSet(column="leaked", value_set=[False]),
                    "remove these rows from this split (dapt ingest drops them with drop_leaked: true)",
                )
            )
        batches.append(b)
    if "train" in splits:
        train_file, train_df = splits["train"]
        counts = train_df["label"].value_counts()
        table = pd.DataFrame({"label": labels, "count": [int(counts.get(x, 0)) for x in labels]})
        b = Batch(train_file, "class_counts", table, index=["label"])
        b.checks = [
            Check(
                f"at least {p.min_per_class} training rows per class",
                gxe.ExpectColumnValuesToBeBetween(column="count", min_value=p.min_per_class),
                "label more examples of these classes or lower validate.task.min_per_class",
            )
        ]
        batches.append(b)
    return batches


def _gx_name(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "__".join(parts))[:120]


def run_batches(batches: list[Batch], docs_dir: Path | None) -> list[dict]:
    """Validate every batch; returns one result dict per check. Builds Data Docs into docs_dir."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    actions = []
    if docs_dir is not None:
        ctx.add_data_docs_site(
            SITE,
            {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir.resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        actions = [UpdateDataDocsAction(name="docs", site_names=[SITE])]
    results: list[dict] = []
    for i, batch in enumerate(batches):
        name = _gx_name(f"{i:02d}", Path(batch.file).name, batch.table)
        source = ctx.data_sources.add_pandas(name)
        batch_def = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        suite = ctx.suites.add(gx.ExpectationSuite(name=name))
        for check in batch.checks:
            suite.add_expectation(check.expectation)
        vd = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_def, suite=suite)
        )
        cp = ctx.checkpoints.add(
            gx.Checkpoint(
                name=name,
                validation_definitions=[vd],
                actions=actions,
                result_format={
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": 3,
                    **({"unexpected_index_column_names": batch.index} if batch.index else {}),
                },
            )
        )
        run = cp.run(batch_parameters={"dataframe": batch.frame})
        (suite_result,) = run.run_results.values()
        # Results are matched by expectation id: GX does not promise to keep the suite's order.
        by_id = {r.expectation_config.id: r for r in suite_result.results}
        for check in batch.checks:
            r = by_id[check.expectation.id]
            res = r.result or {}
            results.append(
                {
                    "file": batch.file,
                    "table": batch.table,
                    "check": check.name,
                    "expectation": r.expectation_config.type,
                    "column": r.expectation_config.kwargs.get("column"),
                    "success": bool(r.success),
                    "rows": len(batch.frame),
                    "unexpected_count": res.get("unexpected_count"),
                    "unexpected_percent": res.get("unexpected_percent"),
                    "observed_value": _plain(res.get("observed_value")),
                    "examples": _examples(res, bool(batch.index)),
                    "exception": (r.exception_info or {}).get("exception_message")
                    if isinstance(r.exception_info, dict)
                    else None,
                    "fix": check.fix,
                }
            )
    return results


def _examples(res: dict, located_rows: bool) -> list:
    """Up to three failing rows: located (id, line, ...) when the batch names index columns."""
    located = res.get("partial_unexpected_index_list") or [] if located_rows else []
    if located:
        return [{k: _plain(v) for k, v in row.items() if _plain(v) != ""} for row in located[:3]]
    return [_plain(x) for x in (res.get("partial_unexpected_list") or [])[:3]]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None  # NaN: a missing value
    if isinstance(value, str) and len(value) > 80:
        return value[:80] + "…"
    return value


def verbalizer_batch(labels_file: str, labels: list[str], label_words: dict[str, str]) -> Batch:
    """PET is requested: every label needs a verbalizer word (checked before any training)."""
    import great_expectations.expectations as gxe
    import pandas as pd

    b = Batch(labels_file, "pet_label_words", pd.DataFrame({"label": labels}))
    b.checks = [
        Check(
            "every label has a PET verbalizer word",
            gxe.ExpectColumnValuesToBeInSet(column="label", value_set=sorted(label_words)),
            "add the labels listed to domain.task.pet.label_words, or set "
            "evaluate.pet.backbones: [] to skip PET",
        )
    ]
    return b
