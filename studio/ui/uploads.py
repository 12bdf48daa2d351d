"""Images that arrive from a browser or a client: uploads and painted regions, checked before use."""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path
from typing import Any

from PIL import Image

from ..domain import StudioError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 4096 * 4096
UPLOAD_FORMATS = {"PNG", "JPEG", "WEBP"}
Image.MAX_IMAGE_PIXELS = max(
    Image.MAX_IMAGE_PIXELS or 0, MAX_UPLOAD_PIXELS
)  # the bomb guard stays on


def check_upload(source: str | Path | bytes) -> Image.Image:
    """Open an uploaded image only if it is a real PNG/JPEG/WebP of sane size; else say what is wrong."""
    data = source if isinstance(source, bytes) else None
    size = len(data) if data is not None else Path(source).stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise StudioError(
            f"That file is {size / 2**20:.1f} MB; images up to {MAX_UPLOAD_BYTES // 2**20} MB are accepted."
        )
    try:
        with Image.open(io.BytesIO(data) if data is not None else source) as image:
            if image.format not in UPLOAD_FORMATS:
                raise StudioError(
                    f"That is a {image.format} file; upload a PNG, JPEG or WebP image."
                )
            if image.width * image.height > MAX_UPLOAD_PIXELS:
                raise StudioError(
                    f"That image is {image.width}×{image.height}; the limit is 4096×4096 pixels."
                )
            image.load()
            return image.copy()
    except (Image.DecompressionBombError, Image.UnidentifiedImageError, OSError, ValueError):
        raise StudioError(
            "That file is not an image this studio can read; upload a PNG, JPEG or WebP."
        ) from None


def region_mask(painted: Any, size: tuple[int, int]) -> Image.Image | None:
    """The region a person painted (a PNG data URL, or an image) as an 'L' mask; None if nothing was painted."""
    if painted is None or painted == "":
        return None
    if isinstance(painted, str):
        header, _, payload = painted.partition(",")
        if not header.startswith("data:image/") or not payload:
            raise StudioError(
                "The painted region must be a PNG image (a data: URL); paint it again."
            )
        try:
            painted = check_upload(base64.b64decode(payload, validate=True))
        except binascii.Error:
            raise StudioError(
                "The painted region is not valid base64 image data; paint it again."
            ) from None
    if not isinstance(painted, Image.Image):
        raise StudioError("The painted region must be an image.")
    layer = painted.convert("RGBA")
    mask = (
        layer.getchannel("A")
        .resize(size, Image.Resampling.NEAREST)
        .point(lambda v: 255 if v else 0)
    )
    return mask if mask.getbbox() else None
