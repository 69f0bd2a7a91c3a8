"""Several GPUs or machines under torchrun: each rank's place, its share of the units, its GPU,
and waiting for every rank. Django-free, as the rest of `generator/am/`."""

import os
import re
from datetime import timedelta

import torch


def shard_units(units: list[int], rank: int, world_size: int) -> list[int]:
    """This rank's share of the units: every world_size-th, so shards are disjoint and complete."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not within a world of size {world_size}")
    return units[rank::world_size]


def distributed_rank(environ: dict | None = None) -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) when run alone."""
    environ = os.environ if environ is None else environ
    try:
        rank = int(environ.get("RANK", 0))
        world_size = int(environ.get("WORLD_SIZE", 1))
        local_rank = int(environ.get("LOCAL_RANK", 0))
    except ValueError as error:
        raise ValueError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers ({error})") from error
    shard_units([], rank, world_size)  # validates the pair
    unset = [
        name for name in ("MASTER_ADDR", "MASTER_PORT") if world_size > 1 and not environ.get(name)
    ]
    if unset:  # found now, not when the ranks wait for each other after all their work
        raise ValueError(
            f"WORLD_SIZE is {world_size} but {' and '.join(unset)} is not set: start the ranks "
            "with torchrun (which sets them), or unset WORLD_SIZE to run alone"
        )
    return rank, world_size, local_rank


def device_for_rank(requested: str | None, *, world_size: int, local_rank: int) -> str:
    """cpu, or this rank's GPU (torchrun's LOCAL_RANK) when cuda is asked for or present, made
    the current device. ValueError saying what to do for a device this machine lacks."""
    available = torch.cuda.is_available()
    requested = requested or ("cuda" if available else "cpu")
    if requested not in ("cpu", "cuda") and not re.fullmatch(r"cuda:\d+", requested):
        raise ValueError(f"--device {requested!r}: use cuda, cuda:N or cpu")
    if requested.startswith("cuda") and not available:
        raise ValueError(f"--device {requested}: no CUDA device here; use --device cpu")
    if requested == "cpu":
        return requested
    if requested != "cuda" and world_size > 1:
        raise ValueError(
            f"--device {requested} under torchrun would put every rank on one GPU; "
            "use --device cuda (each rank takes its LOCAL_RANK's GPU)"
        )
    index = local_rank if requested == "cuda" else int(requested.split(":")[1])
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"GPU {index} does not exist: this machine has {torch.cuda.device_count()} "
            "(start at most that many ranks per node)"
        )
    torch.cuda.set_device(index)  # lazy CUDA set-up must not land on GPU 0
    return f"cuda:{index}"


# How long ranks wait for each other to connect at the start (machines may start a little
# apart), and at the end for the slowest rank's units (runs may take days).
CONNECT_TIMEOUT = timedelta(minutes=30)
FINISH_TIMEOUT = timedelta(days=2)


def ranks_connect() -> None:
    """Connect to the other ranks (gloo, so no GPU is needed) and wait until all have, at the
    start: a network between machines that does not let them reach each other (a wrong
    MASTER_ADDR route, a firewall) then fails within CONNECT_TIMEOUT, not after the whole
    run's work."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=CONNECT_TIMEOUT)
    dist.barrier()


def wait_for_all_ranks() -> None:
    """Block until every rank has got here (all have written their units), at most
    FINISH_TIMEOUT; a rank that fails stops all. Connects first where ranks_connect has not."""
    import torch.distributed as dist

    if not dist.is_initialized():
        ranks_connect()
    dist.monitored_barrier(timeout=FINISH_TIMEOUT)
