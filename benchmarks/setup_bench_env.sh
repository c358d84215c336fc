#!/usr/bin/env bash
# Separate environment for benchmark-only competitors (never imported by the project):
#   SmoothNLP (extract_phrase) and JioNLP (new_word_discovery), plus jieba for its dict.txt.
# Usage: bash benchmarks/setup_bench_env.sh   (idempotent; creates .venv-bench in the project root)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
test -x .venv-bench/bin/python || "$PYTHON" -m venv .venv-bench
.venv-bench/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
# psutil measures peak RSS of the competitor runs; setuptools for old sdists.
.venv-bench/bin/python -m pip install -q --disable-pip-version-check \
  "smoothnlp==0.4.0" "jionlp==1.5.31" "jieba==0.42.1" psutil setuptools
.venv-bench/bin/python - <<'PY'
import importlib
for name in ("smoothnlp", "jionlp", "jieba"):
    try:
        mod = importlib.import_module(name)
        print(f"[bench-env] {name} {getattr(mod, '__version__', '?')}: ok")
    except Exception as exc:  # report, do not hide: the benchmark skips what cannot import
        print(f"[bench-env] {name}: import failed: {type(exc).__name__}: {exc}")
PY
