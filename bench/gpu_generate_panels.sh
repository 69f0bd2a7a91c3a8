#!/usr/bin/env bash
# `manage.py generate_panels` end to end under torchrun, as a researcher runs it on a GPU:
# torchvision AlexNet and the DeePSiM fc6 generator loaded from the torch hub cache (random
# weights saved there first: speed and plumbing do not depend on them, and pretrained files
# cannot be downloaded on these machines), a throw-away SQLite database and experiment, then
#   1. fc8 units under `torchrun --nproc-per-node $RANKS` (one rank per GPU), bf16,
#   2. conv5 units cropped to their receptive field,
#   3. the fc8 command again: every unit is already done and is skipped,
# and finally what the experiment holds: its panels, with their settings and activations.
# A folder of noise images stands in for the natural reference set, so the quality report's
# "natural maximum" here is only a check that the code runs, not a figure.
#
# Usage (from the repository root; gpu_check.sh runs it as one of its steps):
#   bash bench/gpu_generate_panels.sh            # GPU machine: cuda, 4 fc8 units x 100 images
#   bash bench/gpu_generate_panels.sh --dry-run  # CPU, tiny sizes, 2 ranks
# Needs Django and the project's other dependencies importable by $PYTHON (gpu_check.sh puts
# their carried wheels on PYTHONPATH there).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
if [[ "${1:-}" == "--dry-run" ]]; then
  [[ -z "${PYTHON:-}" && -x .venv/bin/python ]] && PY=.venv/bin/python
  DEVICE=cpu RANKS=2 IMAGES=4 GRID=2x2 ITERS=2 BATCH=8 CONV_ITERS=2 EXTRA=()
else
  DEVICE=cuda RANKS=1 IMAGES=100 GRID=10x10 ITERS=200 BATCH=400 CONV_ITERS=50
  EXTRA=(--bf16 --channels-last)
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export DJANGO_VAR_DIR="$WORK/var" TORCH_HOME="$WORK/torch" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export DJANGO_PSEUDONYM_KEY="gpu-check-pseudonym-key-of-at-least-32-characters"
unset DATABASE_URL

echo "--- random weights into the torch hub cache, noise reference images"
"$PY" - "$WORK/reference" <<'EOF'
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from generator.am import zoo  # noqa: F401  (registers alexnet)
from generator.am.deepsim import DeePSiMFc6, get_generator
from generator.am.networks import get_network

torch.manual_seed(0)
spec = get_network("alexnet")
for path, model in [
    (spec.weights_path(), spec.builder()),
    (get_generator("deepsim-fc6").default_weights(), DeePSiMFc6()),
]:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    print(path, f"{path.stat().st_size / 2**20:.0f} MiB")
reference = Path(sys.argv[1])
reference.mkdir()
noise = np.random.default_rng(0).integers(0, 256, (16, 256, 256, 3), dtype=np.uint8)
for i, image in enumerate(noise):
    Image.fromarray(image).save(reference / f"noise_{i:02d}.png")
EOF

manage() { "$PY" manage.py "$@"; }
manage migrate --noinput -v 0
manage shell -c "from experiment.models import Experiment
Experiment.objects.create(slug='gpu-check', title='GPU check (random weights)')"

COMMON=(--network alexnet --images "$IMAGES" --grid "$GRID" --batch "$BATCH" --device "$DEVICE"
  --reference "$WORK/reference" --experiment gpu-check "${EXTRA[@]}")
run() { # run LABEL ARGS...: time one generate_panels run under torchrun
  local label=$1 start=$SECONDS
  shift
  echo "--- $label"
  "$PY" -m torch.distributed.run --standalone --nproc-per-node "$RANKS" \
    manage.py generate_panels "${COMMON[@]}" "$@"
  echo "--- $label: $((SECONDS - start)) s"
}
run "fc8 units 0-3, $RANKS rank(s)" --layer fc8 --units 0-3 --iterations "$ITERS"
run "conv5 units 0-1, receptive-field crop" --layer conv5 --units 0-1 --iterations "$CONV_ITERS" \
  --crop receptive-field
run "fc8 again: all done, nothing to do" --layer fc8 --units 0-3 --iterations "$ITERS"

echo "--- what the experiment holds"
manage shell -c "
from experiment.models import Experiment
experiment = Experiment.objects.get(slug='gpu-check')
panels = experiment.panels.order_by('layer', 'unit')
print(panels.count(), 'panels')
for panel in panels:
    meta = panel.metadata
    print(panel.layer, panel.unit, panel.image.name, panel.image.size, 'bytes,',
          'metadata keys:', ', '.join(sorted(meta)))
"
ls "$DJANGO_VAR_DIR"/am/alexnet/*/unit_00000
cat "$DJANGO_VAR_DIR/am/alexnet/fc8/unit_00000/quality.json"
