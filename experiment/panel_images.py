"""Panel image files: checking that they decode, and the web-friendly display version."""

import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

DISPLAY_MAX_SIDE = 1000  # px; a 10x10 panel stays legible on a laptop and under ~500 KB as JPEG
DISPLAY_JPEG_QUALITY = 85


class PanelImageError(ValueError):
    """An image file that cannot be used as a panel."""


def panel_display_bytes(image: Image.Image) -> bytes:
    """Encode the web-friendly panel: longest side DISPLAY_MAX_SIDE px, progressive JPEG."""
    if image.mode.startswith("I"):  # 16-bit grey: Pillow's convert would clip, not scale, to 8
        image = image.convert("I").point(lambda value: value / 257).convert("L")
    display = image.convert("RGB")
    display.thumbnail((DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    display.save(buffer, "JPEG", quality=DISPLAY_JPEG_QUALITY, optimize=True, progressive=True)
    return buffer.getvalue()


# The formats browsers show (the original is served as it is, for zooming), and the suffix the
# stored file gets: from what the file holds, never from its name (an image named .html would
# be served as a web page on the study's site).
WEB_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp"}


def panel_image_open(path: Path) -> tuple[Image.Image, str]:
    """Open and fully decode an image file: (image, suffix of its format for storing).
    PanelImageError, naming the file, when it is not a readable image in a WEB_FORMATS format."""
    try:
        with Image.open(path) as image:
            image.load()
            found = image.format
            copy = image.copy()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise PanelImageError(f"{path}: not a readable image ({error})") from error
    if found not in WEB_FORMATS:
        raise PanelImageError(
            f"{path}: a {found} image, which browsers do not show; convert it to PNG "
            f"(or {', '.join(sorted(set(WEB_FORMATS) - {'PNG'}))})"
        )
    return copy, WEB_FORMATS[found]
