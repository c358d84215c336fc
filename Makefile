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

export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv run test lint format lock clean-run

venv: $(STAMP)

# Idempotent: rebuilt only when the lock or pyproject changes.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==0.13.9
	$(UV) pip install -q --python $(PY) -r requirements.lock $(TORCH_SOURCE)
	$(UV) pip install -q --python $(PY) --no-deps -e .
	touch $@

run: $(STAMP)
	dapt params --set-profile $(PROFILE)
	dvc repro
	dvc push -q || echo "[run] dvc push failed: outputs are still in the local cache"
	@echo
	@echo "Validation report : reports/validation/index.html (GX Data Docs: reports/validation/data_docs/index.html)"
	@echo "MLflow store      : .mlflow/mlflow.db (mlflow ui --backend-store-uri sqlite:///.mlflow/mlflow.db)"
	@echo "DVC remote        : .dvc-remote"

test: $(STAMP)
	ruff check .
	ruff format --check .
	pytest -q

lint format:
	ruff check --fix .
	ruff format .

# Re-resolve the lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(UV) pip compile pyproject.toml --extra airflow --extra dev --python-version 3.11 $(TORCH_SOURCE) -o requirements.lock
