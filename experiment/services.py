"""State changes of the experiment app: panels, lists, participants and their answers."""

import io
from pathlib import Path

from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, UnidentifiedImageError

from experiment.models import Experiment, Panel

DISPLAY_MAX_SIDE = 1000  # px; a 10x10 panel stays legible on a laptop and under ~500 KB as JPEG
DISPLAY_JPEG_QUALITY = 85


class PanelImageError(ValueError):
    """An image file that cannot be used as a panel."""


def panel_display_bytes(image: Image.Image) -> bytes:
    """Encode the web-friendly panel: longest side DISPLAY_MAX_SIDE px, progressive JPEG."""
    display = image.convert("RGB")
    display.thumbnail((DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    display.save(buffer, "JPEG", quality=DISPLAY_JPEG_QUALITY, optimize=True, progressive=True)
    return buffer.getvalue()


def panel_image_open(path: Path) -> Image.Image:
    """Open and fully decode an image file, or raise PanelImageError naming the file."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise PanelImageError(f"{path}: not a readable image ({error})") from error


def panel_register(
    *,
    experiment: Experiment,
    image_path: Path,
    source: str,
    network: str = "",
    layer: str = "",
    unit: int | None = None,
    is_practice: bool = False,
    intended_answer: str = "",
    intended_label: str = "",
    metadata: dict | None = None,
) -> Panel | None:
    """Store an image file as a panel of the experiment; None when `source` is already imported.

    The full-resolution file is kept as it is (for zooming) and a display version is made.
    Raises PanelImageError when the file is not a readable image; nothing is stored then.
    """
    if Panel.objects.filter(experiment=experiment, source=source).exists():
        return None
    image_path = Path(image_path)
    image = panel_image_open(image_path)
    panel = Panel(
        experiment=experiment,
        source=source,
        network=network,
        layer=layer,
        unit=unit,
        is_practice=is_practice,
        intended_answer=intended_answer,
        intended_label=intended_label,
        metadata=metadata or {},
    )
    stem = f"{experiment.slug}-{Path(source).stem}"
    panel.image.save(
        f"{stem}{image_path.suffix.lower()}", ContentFile(image_path.read_bytes()), save=False
    )
    panel.display_image.save(f"{stem}.jpg", ContentFile(panel_display_bytes(image)), save=False)
    try:
        with transaction.atomic():
            panel.save()
    except Exception:
        panel.image.delete(save=False)
        panel.display_image.delete(save=False)
        raise
    return panel
