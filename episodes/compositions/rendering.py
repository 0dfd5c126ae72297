"""Drawing a composition with Pillow: each asset cover-fitted into its layout cell.

Cover-fit scales an image until it fills its cell and crops what overflows, evenly on both
sides, so no cell shows bars or a stretched picture whatever the asset's shape.
"""

import io
from collections.abc import Sequence
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

from episodes.compositions.layouts import FORMATS, LAYOUTS, OutputFormat

JPEG = "image/jpeg"
PNG = "image/png"
EXTENSIONS = {JPEG: "jpg", PNG: "png"}
_SAVE_AS = {JPEG: ("JPEG", {"quality": 90, "optimize": True}), PNG: ("PNG", {})}

# What shows through transparent parts of an asset.
BACKGROUND = (0, 0, 0)
# No cell is larger than the largest format; a big JPEG decodes at a reduced scale that still
# covers it, several times faster and in a fraction of the memory.
DRAFT_SIZE = max(max(output.width, output.height) for output in FORMATS.values())


class UnreadableImage(Exception):
    """Bytes Pillow cannot decode: damaged, not an image, or too many pixels to open safely."""


def load_image(stream: IO[bytes]) -> Image.Image:
    """Decode an asset upright (as its EXIF orientation says) and opaque, ready to draw."""
    try:
        with Image.open(stream) as opened:
            opened.draft("RGB", (DRAFT_SIZE, DRAFT_SIZE))
            upright = ImageOps.exif_transpose(opened)
            return _opaque(upright)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise UnreadableImage(str(exc) or type(exc).__name__) from exc


def _opaque(image: Image.Image) -> Image.Image:
    if not image.has_transparency_data:
        return image.convert("RGB")
    backdrop = Image.new("RGBA", image.size, (*BACKGROUND, 255))
    return Image.alpha_composite(backdrop, image.convert("RGBA")).convert("RGB")


def render(layout: str, images: Sequence[Image.Image], output: OutputFormat) -> Image.Image:
    """The images drawn into the layout's cells on a canvas of the format's size."""
    canvas = Image.new("RGB", (output.width, output.height), BACKGROUND)
    cells = LAYOUTS[layout].cells(output.width, output.height, len(images))
    for image, (left, top, right, bottom) in zip(images, cells, strict=True):
        fitted = ImageOps.fit(image, (right - left, bottom - top), Image.Resampling.LANCZOS)
        canvas.paste(fitted, (left, top))
    return canvas


def encode(image: Image.Image, content_type: str = JPEG) -> bytes:
    pillow_format, options = _SAVE_AS[content_type]
    buffer = io.BytesIO()
    image.save(buffer, pillow_format, **options)
    return buffer.getvalue()
