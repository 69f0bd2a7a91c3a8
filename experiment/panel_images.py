"""Panel image files: checking that they decode, 8-bit RGB copies, the web-friendly display
version.

Django- and torch-free: the generator's reference images and practice panels read images
through `image_8bit` too (the web server never loads torch, so this lives here rather than in
generator/am, whose package loads it).
"""

import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

DISPLAY_MAX_SIDE = 1000  # px; a 10x10 panel stays legible on a laptop and under ~500 KB as JPEG
DISPLAY_JPEG_QUALITY = 85


# Greyscale modes of more than 8 bits; "I" is 32-bit, but Pillow also opens 16-bit files so.
WIDE_GREY_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


class PanelImageError(ValueError):
    """An image file that cannot be used as a panel."""


def image_8bit(image: Image.Image, mode: str = "RGB") -> Image.Image:
    """`image` converted to `mode` ("RGB", "RGBA", "L", ...) with 8 bits a channel.

    16-bit greys, and "I" images whose values lie in 0-65535 (16-bit data), are scaled by
    255/65535 first: Pillow's own convert clips them at 255, so a 16-bit photograph would come
    out almost white. Other modes convert as Pillow converts them. ValueError, saying how to
    save the image instead, for an "I" image with values beyond 16 bits and a float ("F") one.
    """
    if image.mode == "F":
        raise ValueError("a 32-bit floating-point image; save it as an 8- or 16-bit image")
    if image.mode in WIDE_GREY_MODES:
        import numpy as np  # here: the web server's workers load no numerical library

        values = np.asarray(image).astype(np.int32)  # (H, W), from any byte order
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(
                f"a 32-bit integer image with values {values.min()} to {values.max()}, beyond "
                "0-65535; save it as an 8- or 16-bit image"
            )
        image = Image.fromarray(((values + 128) // 257).astype(np.uint8))  # 255/65535 = 1/257
    return image.convert(mode)


def panel_display_bytes(image: Image.Image) -> bytes:
    """Encode the web-friendly panel: longest side DISPLAY_MAX_SIDE px, progressive JPEG."""
    display = image_8bit(image)
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
