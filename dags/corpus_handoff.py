"""
# corpus_handoff

The data team's handoff: a corpus delivered into the drop folder
(`orchestration.handoff.drop_folder`), or named with the `path` param when triggered, is
validated with the validation suites (`dapt validate --corpus FILE --report DIR`). Only regular
files inside the drop folder are deliveries: other paths and symbolic links are refused, untouched.

- **Pass**: moved into `domain.deliveries.folder` (under `domain.inputs`, read by `ingest` as
  domain corpus), `dvc add` + `dvc push`, and the asset `dapt_validated_corpus` is updated,
  which starts `domain_adaptation`: it retrains on the delivery.
- **Fail**: moved to `quarantine_folder/<name>-<time>/` with its report and a `REJECTED.txt`; the
  task fails without retry, no input changes and no asset event is emitted.
"""

from components.orchestration.airflow_handoff import build_corpus_handoff
from components.orchestration.settings import load_settings, project_root

dag = build_corpus_handoff(load_settings(project_root(__file__)), __doc__)
