"""How closely does one chain re-run alone repeat the same chain run in a batch?

Every chain's random draws depend only on its seed, so alone and in a batch a chain starts from
the same code and draws the same noise. What differs is float rounding: convolution kernels
round differently for another batch size, and AM dynamics can amplify that. This measures it on
the trained demo (var/models or AM_MODELS_DIR; `make demo-data` or `python -m
generator.am.train_demo` makes them): `--chains` chains of each layer's units run as one batch, then
each chain alone, and the images and final activations are compared after each number of steps.
A chain alone but padded to the batch's size (`pipeline.batch_padded`, what generate_panels and
`image_regenerate` do) should repeat the batch's result bit for bit; that is counted too.

    PYTHONPATH=. python bench/regeneration.py [--chains 10] [--steps 50,100,200] [--method ppgn]
"""

import argparse
import json
import time

import torch

from generator.am.chains import chain_seed
from generator.am.config import AMConfig
from generator.am.demo import load_demo
from generator.am.pipeline import batch_padded
from generator.am.pixel import PixelSampler
from generator.am.ppgn import PPGNSampler

LAYERS = {"fc8": range(10), "fc6": (4, 11, 23, 38, 60, 82), "conv5": (11, 19, 21, 25)}


def compare(net, generator, layer: str, units: list[int], steps: int, method: str) -> dict:
    """Batch against alone for one chain per unit: pixel and activation differences."""
    config = AMConfig(
        network="demo", layer=layer, generator="demo", method=method, iterations=steps
    )
    if method == "pixel":
        sampler = PixelSampler(target=net, config=config)
    else:
        sampler = PPGNSampler(target=net, generator=generator, encoder=net, config=config)
    seeds = [chain_seed(0, unit, 0) for unit in units]
    batch = sampler.run(units, seeds)
    alone = [sampler.run([unit], [seed]) for unit, seed in zip(units, seeds, strict=True)]
    padded = [
        sampler.run(*batch_padded([unit], [seed], len(units)))
        for unit, seed in zip(units, seeds, strict=True)
    ]
    exact = sum(
        torch.equal(p.images[0], batch.images[b]) and torch.equal(p.codes[0], batch.codes[b])
        for b, p in enumerate(padded)
    )
    pixel = torch.stack([(a.images[0] - batch.images[b]).abs().max() for b, a in enumerate(alone)])
    activation = torch.stack(
        [(a.activations[0] - batch.activations[b]).abs() for b, a in enumerate(alone)]
    )
    scale = batch.activations.abs().mean().clamp_min(1e-6)
    return {
        "layer": layer,
        "method": method,
        "steps": steps,
        "chains": len(units),
        "chains_within_one_grey_level": int((pixel <= 1 / 255).sum()),
        "max_pixel_difference": float(pixel.max()),
        "median_pixel_difference": float(pixel.median()),
        "max_activation_difference_relative": float(activation.max() / scale),
        "padded_chains_bit_for_bit": exact,
    }


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=10, help="at most this many units a layer")
    parser.add_argument("--steps", default="50,100,200")
    parser.add_argument("--method", default="ppgn", choices=("ppgn", "pixel"))
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the demo's tensors are tiny (see docs/benchmarks.md)
    net, generator = load_demo()
    rows, started = [], time.perf_counter()
    for layer, units in LAYERS.items():
        for steps in (int(s) for s in args.steps.split(",")):
            row = compare(net, generator, layer, list(units)[: args.chains], steps, args.method)
            rows.append(row)
            print(json.dumps(row))
    print(f"{time.perf_counter() - started:.0f} s on torch {torch.__version__}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return rows


if __name__ == "__main__":
    main()
