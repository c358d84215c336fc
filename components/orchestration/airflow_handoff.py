"""The corpus_handoff DAG (dags/corpus_handoff.py): a delivery picked, validated, versioned.

Imported at DAG parse time, like airflow_dags: the hand-off logic (components/orchestration/
handoff.py) is imported inside the tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from components.orchestration.airflow_dags import TAGS, corpus_asset, cron, default_args
from components.orchestration.settings import Settings


def _pick(root: str, drop: str, patterns: list[str], path: str | None) -> str:
    """The delivery to process: the triggered path if it is a delivery (a regular file inside
    the drop folder), else the oldest file in the drop folder."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from components.errors import ConfigError, InputError
    from components.orchestration import handoff

    try:
        handoff.deliveries_folder(Path(root))  # before anything moves: where would it go?
        chosen = handoff.pick(Path(root), drop, patterns, path or None)
    except (InputError, ConfigError) as exc:
        raise AirflowFailException(f"refused: {exc}") from exc  # not transient: no retry
    if chosen is None:
        raise AirflowSkipException(f"nothing delivered in {Path(root) / drop}")
    return str(chosen)


def _validate(
    root: str, delivery: str, reports: str, quarantine: str, drop: str, patterns: list[str]
) -> dict[str, str]:
    from airflow.sdk.exceptions import AirflowFailException

    from components.errors import ConfigError, InputError
    from components.orchestration import handoff

    try:
        outcome = handoff.validate_delivery(
            Path(root), Path(delivery), reports, quarantine, drop, patterns
        )
    except (InputError, ConfigError) as exc:
        raise AirflowFailException(f"refused: {exc}") from exc
    if not outcome["passed"]:
        # A data failure is not transient: no retry, nothing downstream, the report says why.
        raise AirflowFailException(
            f"delivery rejected, quarantined in {outcome['quarantine']} "
            f"(report: {outcome['report']})"
        )
    return outcome


def build_corpus_handoff(s: Settings, doc: str) -> DAG:
    h = s.params.handoff
    asset = corpus_asset(s)
    root = str(s.root)
    with DAG(
        dag_id="corpus_handoff",
        schedule=cron(h.schedule) if h.schedule else None,
        catchup=False,
        max_active_runs=1,  # two runs must not pick the same file
        default_args=default_args(s),
        tags=[*TAGS, "data", "handoff"],
        doc_md=doc,
        params={
            "path": Param(
                None,
                type=["null", "string"],
                description="a delivered file to process (default: oldest file in the drop folder)",
            )
        },
    ) as dag:
        picked = task(task_id="pick_delivery")(_pick)(
            root, h.drop_folder, list(h.patterns), "{{ params.path or '' }}"
        )
        checked = task(task_id="validate_delivery")(_validate)(
            root, picked, h.report_folder, h.quarantine_folder, h.drop_folder, list(h.patterns)
        )

        @task(task_id="version_delivery", pool=s.params.pool, outlets=[asset])
        def version(outcome: dict[str, str], **context: Any) -> dict[str, str]:
            from components.orchestration import handoff

            info = handoff.version_delivery(Path(root), outcome, h.drop_folder, list(h.patterns))
            context["outlet_events"][asset].extra = info
            return info

        version(checked)
    return dag
