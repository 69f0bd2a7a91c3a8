"""Image-iterations per second of our PPGN sampler against Lucent's render_vis, in one run.

Ours: torchvision AlexNet (target and fc6 encoder) + the full-size DeePSiM fc6 generator, random
weights (speed does not depend on them), `--batch` chains of fc8 units for `--iterations` steps.
Lucent: `render_vis` on the same AlexNet, device and number of steps, at each `--lucent-batch`
size (a comma list: Lucent's speed depends on its batch too, and the ratio is reported against
its fastest). An image-iteration is one image through one update step (G, the network, and
back); its floating-point operations are counted once with torch's FlopCounterMode.

    python bench/generator_speed.py --device cuda --batch 256 [--bf16] [--json figures.json]
    python bench/generator_speed.py --device cuda --batch 1024 --bf16 --channels-last --compile \
        --lucent-batch 1,100,1024
    python bench/generator_speed.py --device cpu --batch 4 --iterations 5 --lucent-batch 2

`--pixel` also times our pixel-space method (`PixelSampler`, Lucent's parameterisation and
transforms without a generator, fp32) at `--batch` on the same AlexNet: the like-for-like
counterpart of Lucent.

Lucent's install and its shims: see bench/lucent_baseline.py. Django-free: run it with plain
python from the repository root (PYTHONPATH=.).
"""

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lucent_baseline import lucent_speed, synchronize  # noqa: E402

from generator.am.config import AMConfig  # noqa: E402
from generator.am.deepsim import DeePSiMFc6  # noqa: E402
from generator.am.networks import TargetNetwork, get_network  # noqa: E402
from generator.am.pixel import PixelSampler  # noqa: E402
from generator.am.ppgn import PPGNSampler  # noqa: E402


def random_alexnet(device: torch.device) -> TargetNetwork:
    """Torchvision AlexNet with random weights, eval mode, as load_network would give it."""
    spec = get_network("alexnet")
    model = spec.builder().eval().requires_grad_(False)
    for module in model.modules():
        if isinstance(module, torch.nn.ReLU):
            module.inplace = False
    return TargetNetwork(spec, model.to(device), device)


def random_ppgn(args, device: torch.device, **settings) -> PPGNSampler:
    """AlexNet (target and encoder) + DeePSiM fc6 with random weights, fc8, the speed options
    of `args` (iterations, batch, bf16, channels_last, compile) and other `settings`."""
    torch.manual_seed(0)
    target = random_alexnet(device)
    generator = DeePSiMFc6().eval().requires_grad_(False).to(device)
    config = AMConfig(
        network="alexnet",
        layer="fc8",
        iterations=args.iterations,
        batch_size=args.batch,
        device=str(device),
        precision="bf16" if args.bf16 else "fp32",
        channels_last=args.channels_last,
        compile=args.compile,
        **settings,
    )
    return PPGNSampler(target=target, generator=generator, encoder=target, config=config)


def ours_speed(args, device: torch.device) -> dict:
    """Time our sampler: `args.batch` chains (one per fc8 unit) for `args.iterations` steps."""
    sampler = random_ppgn(args, device)
    target, generator, config = sampler.target, sampler.generator, sampler.config
    units = [unit % 1000 for unit in range(args.batch)]
    seeds = list(range(args.batch))
    warm = PPGNSampler(
        target=target, generator=generator, encoder=target, config=replace(config, iterations=2)
    )
    gflop = gflop_per_image_iteration(warm)
    warm.run(units, seeds)  # cuDNN autotuning, allocator, compilation
    sampler = PPGNSampler(target=target, generator=generator, encoder=target, config=config)
    synchronize(device)
    start = time.perf_counter()
    result = sampler.run(units, seeds)
    synchronize(device)
    seconds = time.perf_counter() - start
    rate = args.batch * args.iterations / seconds
    return {
        "batch": args.batch,
        "iterations": args.iterations,
        "seconds": seconds,
        "precision": config.precision,
        "image_iterations_per_s": rate,
        "images_per_s": args.batch / seconds,
        "gflop_per_image_iteration": gflop,
        "tflop_per_s": rate * gflop / 1000,
        "peak_memory_gib": _peak_memory(device),
        "finite_activations": bool(torch.isfinite(result.activations).all()),
    }


def pixel_speed(args, device: torch.device) -> dict:
    """Time our pixel-space method: `args.batch` chains of fc8 units, `args.iterations` steps,
    fp32, after a 2-step warm-up (its transforms keep the network's input size, so no new
    shapes come later)."""
    torch.manual_seed(0)
    target = random_alexnet(device)
    config = AMConfig(
        network="alexnet", layer="fc8", method="pixel", iterations=args.iterations,
        batch_size=args.batch, device=str(device),
    )  # fmt: skip
    units = [unit % 1000 for unit in range(args.batch)]
    seeds = list(range(args.batch))
    PixelSampler(target=target, config=replace(config, iterations=2)).run(units, seeds)
    synchronize(device)
    start = time.perf_counter()
    PixelSampler(target=target, config=config).run(units, seeds)
    synchronize(device)
    seconds = time.perf_counter() - start
    return {
        "batch": args.batch,
        "iterations": args.iterations,
        "seconds": seconds,
        "image_iterations_per_s": args.batch * args.iterations / seconds,
        "images_per_s": args.batch / seconds,
    }


def gflop_per_image_iteration(sampler: PPGNSampler) -> float:
    """Floating-point operations of one step for one chain (G and the network, forward and
    the backward to h), counted by torch on a batch of 2 before any compilation."""
    from torch.utils.flop_counter import FlopCounterMode

    # The same work as PPGNSampler.gradients, with backward() in place of autograd.grad (which
    # the counter's module tracking does not support); no parameter needs a gradient. G runs
    # uncompiled: a compiled G called at batch 2 would be recompiled for dynamic shapes.
    h = sampler.start([1, 2], [1, 2]).h.requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        values, _ = sampler._forward(sampler.generator.images(h))
        values[:, 1].sum().backward()
    return counter.get_total_flops() / 2 / 1e9


def _peak_memory(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**30


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=256, help="our chains run together")
    parser.add_argument("--iterations", type=int, default=200, help="steps, for both")
    parser.add_argument("--bf16", action="store_true", help="our sampler under bf16 autocast")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the generator")
    parser.add_argument("--lucent-batch", default="1,100", help="Lucent batch sizes, e.g. 1,100")
    parser.add_argument("--lucent", dest="lucent", action="store_true", default=True)
    parser.add_argument("--no-lucent", dest="lucent", action="store_false")
    parser.add_argument("--pixel", action="store_true", help="also time our pixel method")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    figures = {
        "device": _device_name(device),
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "ours": ours_speed(args, device),
    }
    print(f"ours:   {_line(figures['ours'])}", flush=True)
    _save(args.json, figures)
    if args.pixel:
        figures["pixel"] = pixel_speed(args, device)
        print(f"pixel:  {_line(figures['pixel'])}", flush=True)
        _save(args.json, figures)
    if args.lucent:
        figures["lucent"] = []
        for batch in args.lucent_batch.split(","):
            lucent = lucent_speed(
                random_alexnet(device).model,
                layer="classifier_6",
                unit=1,
                batch=int(batch),
                steps=args.iterations,
                device=device,
            )
            figures["lucent"].append(lucent)
            print(f"lucent: {_line(lucent)}", flush=True)
            _speedups(figures)
            _save(args.json, figures)  # so a run cut short keeps the batches it measured
        for batch, speedup in figures["speedup_by_lucent_batch"].items():
            print(f"ours / lucent at batch {batch}, images per second: {speedup:.1f}x")
        for batch, speedup in figures.get("pixel_speedup_by_lucent_batch", {}).items():
            print(f"our pixel method / lucent at batch {batch}, images/s: {speedup:.1f}x")
        print(
            f"ours / fastest lucent (batch {figures['fastest_lucent_batch']}) images per "
            f"second: {figures['speedup_images_per_s']:.1f}x"
        )
    return figures


def _speedups(figures: dict) -> None:
    """Our images/s over Lucent's, at each Lucent batch measured and at its fastest."""
    ours = figures["ours"]["images_per_s"]
    figures["speedup_by_lucent_batch"] = {
        str(lucent["batch"]): ours / lucent["images_per_s"] for lucent in figures["lucent"]
    }
    if "pixel" in figures:
        pixel = figures["pixel"]["images_per_s"]
        figures["pixel_speedup_by_lucent_batch"] = {
            str(lucent["batch"]): pixel / lucent["images_per_s"] for lucent in figures["lucent"]
        }
    fastest = max(figures["lucent"], key=lambda lucent: lucent["images_per_s"])
    figures["fastest_lucent_batch"] = fastest["batch"]
    figures["speedup_images_per_s"] = ours / fastest["images_per_s"]


def _save(path: Path | None, figures: dict) -> None:
    if path is not None:
        path.write_text(json.dumps(figures, indent=2) + "\n")


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def _line(figures: dict) -> str:
    return (
        f"{figures['image_iterations_per_s']:.1f} image-iterations/s, "
        f"{figures['images_per_s']:.3f} images/s (batch {figures['batch']}, "
        f"{figures['seconds']:.2f} s)"
    )


if __name__ == "__main__":
    main()
