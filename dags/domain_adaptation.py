"""
# domain_adaptation

The whole pipeline as an Airflow DAG, generated from the stage graph in `dvc.yaml`: one task per
DVC stage, edges where a stage's outputs are another's dependencies, then `dvc push`.

- **Schedule**: `orchestration.schedule` in params.yaml (default weekly) *or* whenever
  `corpus_handoff` accepts a new delivery (asset `dapt_validated_corpus`).
- **Skip / resume**: each task runs `dvc repro --single-item <stage>`; unchanged stages are
  skipped, so a re-triggered or cleared run redoes only unfinished work.
- **Retries**: `orchestration.retries` with exponential backoff, for transient faults only; bad
  data or parameters (a stage exiting 1 or 2) fail the task at once. A held DVC lock is waited
  for (`orchestration.lock_wait_seconds`). Unpausing starts nothing: the first scheduled run is
  the next cron time.
- **Concurrency**: one active run; every task that touches the workspace uses the
  `orchestration.pool` pool (1 slot).
- **GPU stages** (`orchestration.gpu_stages`) run as Kubernetes pods when
  `orchestration.execution: kubernetes` (or `DAPT_EXECUTION=kubernetes`).
"""

from components.orchestration.airflow_dags import build_domain_adaptation
from components.orchestration.settings import load_settings, project_root

dag = build_domain_adaptation(load_settings(project_root(__file__)), __doc__)
