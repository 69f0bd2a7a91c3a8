"""Image-iterations per second of one PPGN step: AlexNet + full DeePSiM fc6, random weights.

Times ``PPGNSampler.step`` alone (no start/final rendering) over a grid of speed settings, so
the settings can be compared on one card in one run. Usage, on a GPU machine:

    PYTHONPATH=. python bench/ppgn_step_speed.py --device cuda
    PYTHONPATH=. python bench/ppgn_step_speed.py --device cpu --batches 8 --steps 3
"""

import argparse
import itertools
import time

import torch

from generator.am.config import AMConfig
from generator.am.deepsim import DeePSiMFc6
from generator.am.networks import TargetNetwork, get_network
from generator.am.ppgn import PPGNSampler


def random_alexnet(device: str) -> TargetNetwork:
    """torchvision AlexNet with random weights, prepared as load_network prepares it."""
    spec = get_network("alexnet")
    model = spec.builder()
    for module in model.modules():
        if isinstance(module, torch.nn.ReLU):
            module.inplace = False
    return TargetNetwork(spec, model.eval().requires_grad_(False).to(device), torch.device(device))


def synchronise(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def step_rate(config: AMConfig, batch: int, steps: int, warmup: int = 3) -> float:
    """Image-iterations per second of ``steps`` sampler steps after ``warmup`` steps."""
    torch.manual_seed(0)
    net = random_alexnet(config.device)
    generator = DeePSiMFc6().eval().requires_grad_(False).to(config.device)
    sampler = PPGNSampler(target=net, generator=generator, encoder=net, config=config)
    state = sampler.start([i % 1000 for i in range(batch)], list(range(batch)))
    for _ in range(warmup):
        state = sampler.step(state)
    synchronise(config.device)
    started = time.perf_counter()
    for _ in range(steps):
        state = sampler.step(state)
    synchronise(config.device)
    return batch * steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batches", default="256,512")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--compile", default="0,1", help="0, 1 or 0,1")
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    print(f"torch {torch.__version__} on {args.device}", flush=True)
    grid = itertools.product(
        [int(b) for b in args.batches.split(",")],
        args.precisions.split(","),
        [c == "1" for c in args.compile.split(",")],
    )
    for batch, precision, compiled in grid:
        config = AMConfig(
            device=args.device, precision=precision, channels_last=True, compile=compiled
        )
        rate = step_rate(config, batch, args.steps)
        print(f"batch {batch} {precision} compile={compiled}: {rate:,.0f} image-iterations/s")


if __name__ == "__main__":
    main()
