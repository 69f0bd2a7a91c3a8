"""Lucent's `render_vis` on the same network, device and number of steps: the speed baseline.

torch-lucent 0.1.8 (2021) is old: install it without letting pip touch torch,

    pip install --no-deps torch-lucent==0.1.8 decorator==5.3.1 kornia==0.9.0 kornia-rs==0.2.0

(pinned: Lucent compares kornia's version as a string, so kornia 0.10 would take its pre-0.4
branch).

On the GPU machine (no internet) carry those four as wheels in `.whl/` (see gpu_check.sh).
Two shims keep it importable with today's packages, and change nothing it computes:
  * it imports IPython only to show images in notebooks; a bare module stands in for it;
  * kornia 0.6+ moved `get_rotation_matrix2d`/`warp_affine` under `kornia.geometry.transform`.
Lucent also keeps its device in module globals (cuda:0 when present); they are set to ours.

Lucent runs with cuDNN's benchmark mode off (torch's default, which Lucent leaves alone): our
sampler turns it on for its fixed shapes, but Lucent's random scale changes the input size
between seven values (248 to 273 pixels), and timing algorithms for each new size would fall
inside Lucent's measured run. Its random transforms are seeded, so runs repeat.
"""

import sys
import time
import types

import numpy as np
import torch


def lucent_import(device: torch.device):
    """Import Lucent's optvis modules, with the shims above, running on `device`."""
    if "IPython" not in sys.modules:
        ipython = types.ModuleType("IPython")
        ipython.display = types.ModuleType("IPython.display")
        sys.modules.update({"IPython": ipython, "IPython.display": ipython.display})
    try:
        import kornia
        import lucent  # noqa: F401
    except ImportError as error:
        raise SystemExit(
            f"Lucent is not installed ({error}): pip install --no-deps torch-lucent==0.1.8 "
            "decorator kornia kornia-rs (docs/benchmarks.md), or run with --no-lucent"
        ) from None
    from kornia.geometry import transform as kornia_transform

    for name in ("get_rotation_matrix2d", "warp_affine"):
        if not hasattr(kornia, name):
            setattr(kornia, name, getattr(kornia_transform, name))
    from lucent.optvis import objectives, param, render, transform
    from lucent.optvis.param import color, spatial

    color.device = spatial.device = transform.device = device
    return objectives, param, render


def lucent_speed(model, *, layer: str, unit: int, batch: int, steps: int, device) -> dict:
    """Time `render_vis` optimising `batch` images of `unit` in Lucent's `layer` for `steps`.

    model: a torchvision classifier on `device`, eval mode. Lucent's defaults otherwise: a
    224x224 Fourier-parameterised, decorrelated image, its standard transforms, Adam lr 0.05.
    """
    objectives, param, render = lucent_import(torch.device(device))
    objective = objectives.channel(layer, unit)
    image = lambda: param.image(224, batch=batch)  # noqa: E731  (Lucent wants a factory)
    run = lambda count: render.render_vis(  # noqa: E731
        model, objective, image, thresholds=(count,), progress=False, show_image=False
    )
    benchmark_mode = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False
    try:
        np.random.seed(0)  # Lucent draws its transforms with numpy
        run(2)  # warm-up: allocator, kernels
        synchronize(device)
        start = time.perf_counter()
        run(steps)
        synchronize(device)
        seconds = time.perf_counter() - start
    finally:
        torch.backends.cudnn.benchmark = benchmark_mode
    return {
        "batch": batch,
        "steps": steps,
        "seconds": seconds,
        "image_iterations_per_s": batch * steps / seconds,
        "images_per_s": batch / seconds,
    }


def synchronize(device) -> None:
    """Wait for queued GPU work so wall-clock timings cover it."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
