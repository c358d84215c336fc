# Two commands do everything: `make run` (whole pipeline on the bundled samples) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
PROFILE ?= demo
# torch 2.13.0+cpu comes from the machine's wheel folder when pip is configured with one,
# else from the PyTorch CPU index.
FIND_LINKS := $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)
TORCH_SOURCE := $(if $(FIND_LINKS),--find-links $(FIND_LINKS),--extra-index-url https://download.pytorch.org/whl/cpu)

# Every stage is a new Python process: with bytecode caching off (some shells set
# PYTHONDONTWRITEBYTECODE) each one recompiles torch/transformers/mlflow: cProfile of one smoke
# pretraining stage spent 12.7 of its 33 s compiling (2026-12-02, load average 6).
unexport PYTHONDONTWRITEBYTECODE
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Airflow (make run): an embedded SQLite home inside the project, the project's DAGs.
AIRFLOW_HOME ?= $(CURDIR)/.airflow
# Airflow's OpenLineage provider (task-level events, docs/lineage.md) is off unless given a
# transport: `make run AIRFLOW_LINEAGE=file` writes its events to reports/lineage-airflow/ (no
# network), or pass the provider's transport JSON (`AIRFLOW_LINEAGE='{"type": "http", ...}'`).
# Off by default: each task then imports the OpenLineage client, seconds the smoke run lacks.
AIRFLOW_LINEAGE ?=
AIRFLOW_LINEAGE_DIR := $(CURDIR)/reports/lineage-airflow
AIRFLOW_LINEAGE_FILE := {"type": "file", "log_file_path": "$(AIRFLOW_LINEAGE_DIR)/event"}
AIRFLOW_LINEAGE_JSON := $(if $(filter file,$(AIRFLOW_LINEAGE)),$(AIRFLOW_LINEAGE_FILE),$(AIRFLOW_LINEAGE))
AIRFLOW := AIRFLOW_HOME=$(AIRFLOW_HOME) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags DAPT_PROJECT_ROOT=$(CURDIR) \
  $(if $(AIRFLOW_LINEAGE),AIRFLOW__OPENLINEAGE__TRANSPORT='$(AIRFLOW_LINEAGE_JSON)') airflow
KFP_VENV := .venv-kfp

.PHONY: venv run test lint format lock clean-run kfp

venv: $(STAMP) profile.yaml

# Idempotent: rebuilt only when the lock or pyproject changes.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==0.13.9
	$(UV) pip install -q --python $(PY) -r requirements.lock $(TORCH_SOURCE)
	$(UV) pip install -q --python $(PY) --no-deps -e .
	touch $@

# The active profile: git-ignored (switching it leaves the checkout clean), a params file for
# DVC (switching it re-runs what changes). A fresh clone gets params.yaml's default.
profile.yaml: | $(STAMP)
	$(VENV)/bin/dapt params --init-profile

# The pipeline runs through the real Airflow DAG (dags/domain_adaptation.py, generated from
# dvc.yaml) on an embedded SQLite Airflow home inside the project; its last task pushes to DVC.
run: $(STAMP)
	dapt params --set-profile $(PROFILE)
	mkdir -p $(AIRFLOW_HOME) $(if $(filter file,$(AIRFLOW_LINEAGE)),$(AIRFLOW_LINEAGE_DIR))
	$(AIRFLOW) db migrate > $(AIRFLOW_HOME)/migrate.log 2>&1 || { tail -20 $(AIRFLOW_HOME)/migrate.log; exit 1; }
	$(AIRFLOW) pools set dvc_workspace 1 "one DVC command at a time in this workspace" > /dev/null
	$(AIRFLOW) dags test domain_adaptation 2>&1 | tee $(AIRFLOW_HOME)/last-run.log \
	  | { grep --line-buffered -E '^\[orchestration\]|DAG TEST\] starting' || true; } || status=$$?; \
	  python -m components.orchestration.summary $(AIRFLOW_HOME)/last-run.log --status $${status:-0}
	@echo
	@echo "Run report        : reports/index.html"
	@echo "Validation report : reports/validation/index.html (GX Data Docs: reports/validation/data_docs/index.html)"
	@echo "MLflow store      : .mlflow/mlflow.db (mlflow ui --backend-store-uri sqlite:///.mlflow/mlflow.db)"
	@echo "DVC remote        : .dvc-remote"

# Two pytest workers (pytest-xdist), one per core: most tests are single-threaded subprocesses.
# Tests sharing a session fixture (one Airflow project, one Ray, one MLflow server, one fault
# project) carry an xdist_group mark, so one worker runs each such group.
TEST_WORKERS ?= 2
test: $(STAMP) profile.yaml
	ruff check .
	ruff format --check .
	pytest -q -n $(TEST_WORKERS) --dist loadgroup

# Kubeflow pipeline YAML from dvc.yaml. kfp needs kubernetes<31 and the Airflow provider >=32:
# kfp lives in its own small environment.
kfp: build/kfp/domain_adaptation.yaml

$(KFP_VENV)/.installed: | $(STAMP)
	test -x $(KFP_VENV)/bin/python || $(UV) venv -q --python $(PYTHON) $(KFP_VENV)
	$(UV) pip install -q --python $(KFP_VENV)/bin/python "kfp==2.17.0" "pyyaml>=6" "pydantic==2.14.3"
	touch $@

build/kfp/domain_adaptation.yaml: $(KFP_VENV)/.installed dvc.yaml params.yaml $(wildcard components/orchestration/*.py)
	PYTHONPATH=$(CURDIR) $(KFP_VENV)/bin/python -m components.orchestration.kfp_pipeline --out $@

lint format:
	ruff check --fix .
	ruff format .

# Re-resolve the lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(UV) pip compile pyproject.toml --extra airflow --extra dev --python-version 3.11 $(TORCH_SOURCE) -o requirements.lock
