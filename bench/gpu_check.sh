#!/usr/bin/env bash
# The generator's GPU check, in one run of about 6 minutes on a lent H100/H200 (its step limits
# add up to 530 s; with 5 s per killed step and the set-up, under one device command's 600):
#   1. our PPGN speed (AlexNet + full-size DeePSiM G, random weights, 200 iterations) in its
#      fastest settings (bf16 + channels_last + compile, batch 1024) against Lucent's render_vis
#      on the same network, device and steps at batch 1 (its default: one image per call) and
#      100 (one unit's panel per call; batch 1024 was measured in the eighth session: 6.8x);
#   2. `manage.py generate_panels` end to end under torchrun (bench/gpu_generate_panels.sh):
#      weights from the torch hub cache, panels registered in an experiment, resume;
#   3. the gpu-marked generator tests (plain pytest: no pytest-django on that machine),
#   4. bf16 against fp32: final activations of the same chains, within the documented tolerance,
#   5. a whole panels run (sampling, pictures, writer threads) against its sampling alone,
#   6. flushing a unit's files to that machine's disk, one by one against all at once.
# Everything printed goes to $OUT/gpu_check.log; the figures go to $OUT/gpu_figures.json.
# A failing or hung step (each has a time limit) is recorded and the next one still runs.
#
# Usage (from the repository root):
#   bash bench/gpu_check.sh             # on the GPU machine ($OUT is set there)
#   bash bench/gpu_check.sh --dry-run   # here, on CPU: tiny sizes, same steps, OUT=var/gpu_check,
#                                       # python: $PYTHON, else .venv/bin/python
#
# Lucent and Django are not installed on the GPU machine and it has no internet: carry them as
# wheels. Once, here, in the repository root (the device README's recipe; `.whl/` is ignored):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 -d .whl \
#     torch-lucent==0.1.8 decorator==5.3.1 kornia==0.9.0 kornia-rs==0.2.0 \
#     Django==5.2.19 asgiref==3.13.0 sqlparse==0.6.1 dj-database-url==3.1.2 whitenoise==6.12.0 \
#     tqdm==4.70.1 defusedxml==0.7.1
# then run with carry [".whl"]; the script installs them into /tmp/site (never touching torch).
# Without the wheels the Lucent comparison and step 2 fail, and the JSON says so.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY_RUN=0
[[ "${1:-}" == "--dry-run" ]] && DRY_RUN=1
OUT="${OUT:-var/gpu_check}"
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
PARTS="$(mktemp -d)" # per-step JSON figures, merged at the end (few files come back from $OUT)
PY="${PYTHON:-python3}"
((DRY_RUN)) && [[ -z "${PYTHON:-}" && -x .venv/bin/python ]] && PY=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

if ((DRY_RUN)); then
  DEVICE=cpu BEST_BATCH=4 ITERS=3 LUCENT_BATCHES=1,2 TOL_BATCH=4 TOL_ITERS=3
  PANEL_UNITS=2 PANEL_IMAGES=4 PANELS_DRY=--dry-run
  # fp32: CPUs without AVX-512 run bf16 some 100x slower (the other steps try bf16 here).
  PANEL_BF16=""
  LIMIT_BEST=300 LIMIT_PANELS_COMMAND=300 LIMIT_TESTS=180 LIMIT_TOL=120 LIMIT_PANELS=120
else # limits 170 + 100 + 70 + 40 + 110 + 40 = 530 s; a normal run takes about 6 minutes
  DEVICE=cuda BEST_BATCH=1024 ITERS=200 LUCENT_BATCHES=1,100
  # 30 units: 3 batches of 1024 chains, so the whole run shows two hand-overs between batches.
  TOL_BATCH=64 TOL_ITERS=200 PANEL_UNITS=30 PANEL_IMAGES=100 PANELS_DRY="" PANEL_BF16=--bf16
  LIMIT_BEST=170 LIMIT_PANELS_COMMAND=100 LIMIT_TESTS=70 LIMIT_TOL=40 LIMIT_PANELS=110
fi
LIMIT_FLUSH=40

step() { # step NAME SECONDS COMMAND...: run it with a time limit, record its status, go on
  local name=$1 limit=$2
  shift 2
  echo "=== $name ($(date -u +%T), limit ${limit}s)"
  local start=$SECONDS
  timeout --kill-after=5 "$limit" "$@"
  local status=$?
  echo "=== $name: exit $status after $((SECONDS - start))s"
  printf '{"exit_status": %d, "seconds": %d}\n' "$status" "$((SECONDS - start))" \
    >"$PARTS/status_$name.json"
  figures_merge --quick >/dev/null
}

main() {
  echo "gpu_check started $(date -u +%FT%TZ), dry run: $DRY_RUN"
  command -v nvidia-smi >/dev/null &&
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$PY" -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision',
torchvision.__version__, 'cuda', torch.cuda.is_available())"

  if ((!DRY_RUN)) && compgen -G ".whl/*.whl" >/dev/null; then  # wheels are for python 3.12
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
  fi
  local lucent=--lucent
  "$PY" -c "import lucent" 2>/dev/null || {
    lucent=--no-lucent
    echo "torch-lucent is not importable: the Lucent comparison is skipped"
  }

  # That machine has no Django nor pytest-django; the dry run hides pytest-django to match it.
  local hide=""
  if ((DRY_RUN)); then
    hide="$PARTS/hide"
    mkdir -p "$hide/pytest_django"
    echo 'raise ModuleNotFoundError("no pytest-django on the GPU machine")' \
      >"$hide/pytest_django/__init__.py"
  fi
  step speed_best "$LIMIT_BEST" "$PY" bench/generator_speed.py --device "$DEVICE" \
    --batch "$BEST_BATCH" --iterations "$ITERS" --bf16 --channels-last --compile --pixel \
    --lucent-batch "$LUCENT_BATCHES" "$lucent" --json "$PARTS/speed_best.json"
  step generate_panels "$LIMIT_PANELS_COMMAND" env PYTHON="$PY" \
    bash bench/gpu_generate_panels.sh $PANELS_DRY
  step tests "$LIMIT_TESTS" env PYTHONPATH="${hide:+$hide:}$PYTHONPATH" \
    "$PY" -m pytest -m gpu tests/generator -q -p no:django -p no:cacheprovider
  step bf16_tolerance "$LIMIT_TOL" "$PY" bench/bf16_tolerance.py --device "$DEVICE" \
    --batch "$TOL_BATCH" --iterations "$TOL_ITERS" --json "$PARTS/bf16_tolerance.json"
  step panels_whole "$LIMIT_PANELS" "$PY" bench/panels_speed.py --device "$DEVICE" \
    --units "$PANEL_UNITS" --images "$PANEL_IMAGES" --iterations "$ITERS" --batch "$BEST_BATCH" \
    $PANEL_BF16 --channels-last --json "$PARTS/panels_whole.json"
  step flush "$LIMIT_FLUSH" "$PY" bench/unit_write_speed.py --flush-only --json "$PARTS/flush.json"
  figures_merge
  echo "gpu_check finished $(date -u +%FT%TZ); log $LOG, figures $OUT/gpu_figures.json"
}

figures_merge() { # one JSON of every step's figures and exit status; --quick: without the
  # device's name (importing torch and starting CUDA after every step costs seconds)
  mkdir -p "$OUT"
  "$PY" - "$PARTS" "$OUT/gpu_figures.json" "$DRY_RUN" "${1:-}" <<'EOF'
import json, pathlib, platform, sys
parts, target, dry_run = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3] == "1"
figures = {"dry_run": dry_run, "host": platform.node()}
try:
    if sys.argv[4] != "--quick":
        import torch

        figures["device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
        figures["torch"] = torch.__version__
except Exception as error:  # the figures are written all the same
    figures["device"] = f"unknown ({error})"
for path in sorted(parts.glob("*.json")):
    try:
        figures[path.stem] = json.loads(path.read_text())
    except ValueError as error:
        figures[path.stem] = {"error": f"unreadable: {error}"}
target.write_text(json.dumps(figures, indent=2) + "\n")
print(json.dumps(figures, indent=2))
EOF
}

main 2>&1 | tee -a "$LOG"
rm -rf "$PARTS"
