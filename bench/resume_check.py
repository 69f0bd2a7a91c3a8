"""How long does a resume take to check the units already finished in a folder?

Before a run skips a finished unit it checks it (`unit_check.done_units_check`): its JSON files,
its settings, and the last bytes of its panel, web copy and 100 pictures (a copy cut short lacks
the end every PNG or JPEG file has). The paper's 3,299 units are checked before the first batch
samples, so the check must stay a matter of seconds.

Units here are written by `outputs.unit_write` (100 pictures of noise, 32x32: the check reads
only each file's last bytes, so the pictures' size does not matter), then checked twice: the
first pass as it comes (the files just written sit in the page cache, as on a machine that made
them), the second the same. `--folder` puts the units on the disk to measure (default: a
temporary folder).

    PYTHONPATH=. python bench/resume_check.py [--units 200] [--folder DIR]
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch

from generator.am import outputs, unit_check
from generator.am.chains import chain_seed


def units_write(root: Path, count: int, images: int = 100) -> dict:
    """Write `count` units of `images` pictures into root; returns the settings recorded."""
    settings = {"iterations": 5, "images_per_unit": images}
    generator = torch.Generator().manual_seed(0)
    pictures = torch.rand(images, 3, 32, 32, generator=generator)
    for unit in range(count):
        seeds = [chain_seed(0, unit, index) for index in range(images)]
        result = outputs.UnitResult(unit, pictures, seeds, [0.0] * images, [1.0] * images)
        report = outputs.quality_report(result, reference_max=None, output_layer=False)
        outputs.unit_write(
            root, result, settings=settings, quality=report.as_dict(), rows=10, cols=10
        )
    return settings


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--folder", type=Path, help="where the units go (default: a temp folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        root = Path(folder)
        settings = units_write(root, args.units)
        units = list(range(args.units))
        for attempt in (1, 2):
            started = time.perf_counter()
            unit_check.done_units_check(root, units, settings)
            seconds = time.perf_counter() - started
            print(
                f"check {attempt}: {args.units} units in {seconds:.2f} s, "
                f"{1000 * seconds / args.units:.2f} ms a unit "
                f"(3,299 units: {3299 * seconds / args.units:.1f} s)"
            )


if __name__ == "__main__":
    main()
