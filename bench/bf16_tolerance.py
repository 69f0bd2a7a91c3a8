"""Does bf16 autocast keep the sampler's final activations within tolerance of fp32?

Two checks, on AlexNet + the full-size DeePSiM G (random weights, as in generator_speed.py) and
on the trained demo network when its files exist (AM_MODELS_DIR or var/models; on the GPU
machine carry var/models):
  * one forward pass: the same codes through G and the network in bf16 and in fp32; the error
    of the target activations relative to their spread over the layer's units;
  * whole chains: the same (unit, seed) chains run in bf16 and in fp32, every final image then
    measured in fp32; chains diverge step by step, so what must agree is the mean gain of the
    target activation (final minus start) over the chains.
Tolerance (documented in docs/benchmarks.md): mean forward error <= 2% of the activations' spread,
mean gain of the bf16 chains within 10% of the fp32 chains' gain. The gain is judged on the
trained demo only: with random weights G's images hardly depend on the code, so the chains of
random AlexNet barely move and their gain says nothing (it is reported, not judged).

    python bench/bf16_tolerance.py --device cuda --batch 64 --iterations 200 [--json out.json]
"""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator_speed import random_alexnet  # noqa: E402

from generator.am.config import AMConfig  # noqa: E402
from generator.am.deepsim import DeePSiMFc6  # noqa: E402
from generator.am.networks import layer_vector  # noqa: E402
from generator.am.ppgn import PPGNSampler  # noqa: E402

FORWARD_TOLERANCE = 0.02  # mean error, of the spread (std) of the activations over the units
GAIN_TOLERANCE = 0.10  # relative difference of the mean activation gain of the chains


def forward_error(sampler: PPGNSampler, codes: torch.Tensor) -> dict:
    """Mean and max |bf16 - fp32| of the layer's activations for `codes`, over their std."""
    values = {}
    for precision in ("fp32", "bf16"):
        sampler.config = replace(sampler.config, precision=precision)
        with torch.no_grad(), sampler._autocast():
            images = sampler.generator.images(codes)
            acts = sampler.target.activations(
                sampler.target.preprocess(images), [sampler.layer.alias]
            )
        values[precision] = layer_vector(acts[sampler.layer.alias]).float()
    error = (values["bf16"] - values["fp32"]).abs() / values["fp32"].std().clamp_min(1e-12)
    return {"mean": error.mean().item(), "max": error.max().item()}


def chain_gains(sampler: PPGNSampler, units, seeds) -> dict:
    """Mean start and final activation (measured in fp32) of the chains, in fp32 and bf16."""
    figures = {}
    for precision in ("fp32", "bf16"):
        sampler.config = replace(sampler.config, precision=precision)
        result = sampler.run(units, seeds)
        sampler.config = replace(sampler.config, precision="fp32")
        final = sampler.evaluate(result.images, torch.as_tensor(units, device=result.images.device))
        figures[precision] = {
            "mean_start": result.start_activations.float().mean().item(),
            "mean_final": final.activations.mean().item(),
        }
    gains = {p: f["mean_final"] - f["mean_start"] for p, f in figures.items()}
    figures["gain_relative_difference"] = abs(gains["bf16"] - gains["fp32"]) / max(
        abs(gains["fp32"]), 1e-12
    )
    return figures


def check(name, sampler: PPGNSampler, units: list[int], code_size: int, *, trained: bool) -> dict:
    """Both checks for one sampler; pass/fail against the tolerances (gain: trained only)."""
    seeds = list(range(len(units)))
    codes = torch.randn(len(units), code_size, generator=torch.Generator().manual_seed(0))
    codes = codes.clamp_min(0).to(sampler.target.device)  # fc6 codes are post-ReLU
    figures = {"forward_error": forward_error(sampler, codes)}
    figures.update(chain_gains(sampler, units, seeds))
    passed = figures["forward_error"]["mean"] <= FORWARD_TOLERANCE
    if trained:
        passed = passed and figures["gain_relative_difference"] <= GAIN_TOLERANCE
    figures["gain_judged"], figures["pass"] = trained, bool(passed)
    print(f"{name}: {json.dumps(figures)}", flush=True)
    return figures


def alexnet_sampler(config: AMConfig) -> tuple[PPGNSampler, int]:
    device = torch.device(config.device)
    torch.manual_seed(0)
    target = random_alexnet(device)
    generator = DeePSiMFc6().eval().requires_grad_(False).to(device)
    return PPGNSampler(target=target, generator=generator, encoder=target, config=config), 4096


def demo_sampler(config: AMConfig) -> tuple[PPGNSampler, int] | None:
    from generator.am.demo import load_demo

    try:
        target, generator = load_demo(device=config.device)
    except (FileNotFoundError, ValueError) as error:
        print(f"demo: skipped ({error})")
        return None
    config = replace(config, network="demo", generator="demo")
    sampler = PPGNSampler(target=target, generator=generator, encoder=target, config=config)
    return sampler, generator.code_size


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    config = AMConfig(
        network="alexnet",
        layer="fc8",
        iterations=args.iterations,
        batch_size=args.batch,
        device=args.device,
    )
    figures = {"tolerance": {"forward": FORWARD_TOLERANCE, "gain": GAIN_TOLERANCE}}
    sampler, code_size = alexnet_sampler(config)
    figures["alexnet_deepsim"] = check(
        "alexnet_deepsim", sampler, list(range(args.batch)), code_size, trained=False
    )
    demo = demo_sampler(config)
    if demo is not None:
        units = [unit % 10 for unit in range(args.batch)]
        figures["demo"] = check("demo", demo[0], units, demo[1], trained=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    # A failed check fails the run (gpu_check records the exit status).
    sys.exit(0 if all(f["pass"] for f in main().values() if "pass" in f) else 1)
