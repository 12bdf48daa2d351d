"""Writing a file so that readers only ever see it whole.

The image store (content-addressed PNGs, below), the GenEval layout and the UI's overlays are read
while they are written (other threads, other processes, GenEval's evaluator walking the folder), so
each file is written under
a temporary name and renamed into place; a failed write leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from .domain import ImageRef, StudioError


def write_atomic(path: Path, data: bytes, temp_dir: Path | None = None) -> None:
    """Write `data` to a dot-file in `temp_dir` (default: `path`'s folder), then rename it onto `path`.

    Both folders are created if missing. `temp_dir` must be on the same file system as `path`; a
    folder outside `path`'s own keeps the half-written file out of sight of anyone listing it."""
    folder = temp_dir or path.parent
    folder.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def png_path(folder: Path, sha256: str) -> Path:
    """Where the store keeps a PNG: by its hash, in 256 subfolders."""
    return folder / sha256[:2] / f"{sha256}.png"


def save_png(folder: Path, image: Any) -> ImageRef:
    """Encode a PIL image (or take PNG bytes) and write it once, atomically, under its sha256."""
    if isinstance(image, (bytes, bytearray)):
        data = bytes(image)
        from PIL import Image as PILImage

        with PILImage.open(io.BytesIO(data)) as decoded:
            width, height = decoded.size
    else:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data, (width, height) = buffer.getvalue(), image.size
    digest = hashlib.sha256(data).hexdigest()
    path = png_path(folder, digest)
    if not path.exists():
        write_atomic(path, data)
    return ImageRef(digest, width, height, len(data))


def load_png(folder: Path, ref: ImageRef):
    from PIL import Image as PILImage

    path = png_path(folder, ref.sha256)
    if not path.exists():
        raise StudioError(
            f"Image {ref.sha256[:12]} is missing from the image folder; restore the folder."
        )
    with PILImage.open(path) as image:
        image.load()
        return image
