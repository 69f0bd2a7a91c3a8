#!/usr/bin/env bash
# The selectivity GPU check (issue 4), one run of about 2 minutes on a lent H100/H200:
#   1. the torch ranking against numpy (the gpu-marked test runs on CUDA there),
#   2. units/s and peak RSS of the numpy path and of the torch path on CUDA, same synthetic file.
# Django is not installed there; these tests and the bench are Django-free.
# Usage (repository root): bash bench/selectivity_gpu.sh     # logs to $OUT (default var/gpu_check)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-var/gpu_check}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
FILE="$(mktemp -d)/acts.h5"
{
  timeout 120 "$PY" -m pytest -q -p no:cacheprovider tests/analysis/test_measures_torch.py
  timeout 120 "$PY" bench/selectivity_speed.py make "$FILE" --units 256
  for device in "" cuda; do
    timeout 120 "$PY" bench/selectivity_speed.py run "$FILE" --units 256 --workers 4 \
      ${device:+--device "$device"}
  done
} 2>&1 | tee "$OUT/selectivity_gpu.log"
