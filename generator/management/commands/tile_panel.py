"""Tile a folder of photographs into one panel, e.g. a practice panel of natural images.

    python manage.py tile_panel photos/dogs --out practice/yes_dog.png [--grid 5x4] [--size 227]

The paper's practice panels showed 20 natural images each; its "no" panels showed images with
no common object. Tiles are laid out as the AM panels are (white lines between square images),
so practice panels look like the panels that follow. Import them with import_panels --practice.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from experiment.files import file_in_the_way, os_error_message, replaced_whole
from generator.am import grid
from generator.am.layer_folder import unit_folder_around
from generator.am.reference import IMAGE_SUFFIXES, image_files


class Command(BaseCommand):
    help = (
        "Tile the first ROWSxCOLS images of a folder (in name order), each centre-cropped to a "
        "square, into one panel PNG, e.g. a practice panel for import_panels --practice."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path, help="folder of images (jpg, png, bmp, webp)")
        parser.add_argument("--out", type=Path, required=True, help="panel file (.png)")
        parser.add_argument("--grid", default="5x4", help="ROWSxCOLS (the paper's practice: 20)")
        parser.add_argument("--size", type=int, default=227, help="side of each tile in px")

    def handle(self, *args, **options):
        folder, out = options["folder"], options["out"]
        try:
            rows, cols = grid.parse_grid(options["grid"])
            if not 16 <= options["size"] <= 1024:
                raise ValueError(f"--size {options['size']}: give 16 to 1024 px")
            photos = _photos(folder, rows * cols)
            _out_check(out, folder)
            panel = grid.tile(
                grid.photos_square(photos[: rows * cols], options["size"]), rows, cols
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        try:
            out.parent.mkdir(parents=True, exist_ok=True)  # practice/, as the docs' example
            with replaced_whole(out, binary=True) as stream:  # an earlier panel kept on failure
                panel.save(stream, format="PNG")
        except OSError as error:
            kept = f"; the earlier {out.name} is kept as it was" if out.exists() else ""
            why = os_error_message(error)
            raise CommandError(f"--out {out} cannot be written: {why}{kept}") from None
        self.stdout.write(
            f"Wrote {out}: {rows} rows of {cols} images of {folder}, "
            f"{panel.width} x {panel.height} px"
        )
        if len(photos) > rows * cols:
            left = [photo.name for photo in photos[rows * cols :]]
            named = ", ".join(left) if len(left) <= 3 else f"{left[0]} ... {left[-1]}"
            self.stdout.write(
                f"Used the first {rows * cols} of {len(photos)} images by name; left out "
                f"{len(left)}: {named}"
            )


def _out_check(out: Path, folder: Path) -> None:
    """ValueError saying what is wrong with `out` as the panel file of `folder`."""
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; name the panel file, e.g. {out / 'panel.png'}")
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out {out}: the panel is written as PNG; name it .png")
    blocking = file_in_the_way(out.parent)
    if blocking is not None:
        raise ValueError(f"--out {out}: {blocking} is a file, not a folder")
    unit = unit_folder_around(out.parent)
    if unit is not None:  # its panel would be replaced, unnoticed by resuming and registering
        raise ValueError(
            f"--out {out} lies in {unit}, a unit generate_panels made; tile_panel must not "
            "change it. Write the panel to another folder, e.g. practice/"
        )
    if out.parent.is_dir() and out.parent.samefile(folder):
        raise ValueError(
            f"--out {out} lies in {folder}, whose images are tiled: the next run would tile the "
            "panel too; write it to another folder, e.g. practice/"
        )


def _photos(folder: Path, count: int) -> list[Path]:
    """The images of `folder` by name; ValueError when it holds fewer than `count`."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    photos = image_files(folder)
    if len(photos) < count:
        raise ValueError(
            f"{folder} holds {len(photos)} images ({', '.join(sorted(IMAGE_SUFFIXES))}); "
            f"the grid takes {count}"
        )
    return photos
