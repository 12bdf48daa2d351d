"""Images that arrive from a browser or a client: uploads and painted regions, checked before use.

An upload is named by the path Gradio gave it in its upload folder. `read_upload` is the only way
the server reads a file a caller names: where the path lies is decided from its text and its real
location before anything is opened or stat'ed, and every path outside the upload folder gets the
same line, so an answer never tells whether a path exists.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import stat
from pathlib import Path, PurePath
from typing import Any, Iterable

from PIL import Image

from ..core.domain import StudioError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 4096 * 4096
UPLOAD_FORMATS = {"PNG", "JPEG", "WEBP"}
Image.MAX_IMAGE_PIXELS = max(
    Image.MAX_IMAGE_PIXELS or 0, MAX_UPLOAD_PIXELS
)  # the bomb guard stays on


NOT_AN_UPLOAD = (
    "The studio opens only files uploaded to it: drop the PNG on the page, or send it with "
    "gradio_client's handle_file."
)
MAX_PATH_CHARS = 4096


def upload_folder() -> Path:
    """Gradio's upload folder (GRADIO_TEMP_DIR, else <temp>/gradio), as Gradio itself names it."""
    from gradio.utils import get_upload_folder

    return Path(os.path.abspath(get_upload_folder()))


def _within(path: str, folder: str) -> bool:
    return path != folder and os.path.commonpath([path, folder]) == folder


def upload_location(path: Any, store: Any = None, refused: Iterable[Path] = ()) -> str | None:
    """The real path of an upload named by `path`, or None when it is not one: not an absolute path
    inside Gradio's upload folder (by its text and by its real location, so no `..` and no symlink
    leads out), or inside one of the `refused` folders, or one of `store`'s own files. Nothing is
    opened; only the real location of a path that lies inside the folder is looked up."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH_CHARS or "\x00" in path:
        return None
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if not os.path.isabs(path) or ".." in PurePath(path).parts:
        return None
    folder = str(upload_folder())
    real_folder = os.path.realpath(folder)
    lexical = os.path.normpath(path)
    if not (_within(lexical, folder) or _within(lexical, real_folder)):
        return None
    real = os.path.realpath(lexical)
    if not _within(real, real_folder):
        return None
    kept = [Path(p) for p in refused]
    if store is not None:
        kept.append(Path(store.images_dir))
    if any(_within(real, os.path.realpath(k)) for k in kept):
        return None
    database = _sqlite_file(store)
    if database is not None and real.startswith(os.path.realpath(database)):
        return None  # studio.db and its -wal, -shm and -journal, wherever they were put
    return real


def _sqlite_file(store: Any) -> str | None:
    if store is None:
        return None
    from ..store.opening import parse_url, sqlite_file

    found = sqlite_file(parse_url(store.url))
    return str(found) if found is not None else None


def read_upload(path: Any, store: Any = None, refused: Iterable[Path] = ()) -> bytes:
    """The bytes of a file a caller uploaded to Gradio and names by its path; NOT_AN_UPLOAD for any
    other path, whether or not it exists. Only a plain file with one name (no hard link to another
    file, such as the database) is opened, and only once its place is known."""
    real = upload_location(path, store, refused)
    if real is None:
        raise StudioError(NOT_AN_UPLOAD)
    try:
        seen = os.lstat(real)
    except OSError:
        raise StudioError(NOT_AN_UPLOAD) from None
    if not stat.S_ISREG(seen.st_mode) or seen.st_nlink != 1:
        raise StudioError(NOT_AN_UPLOAD)
    _check_size(seen.st_size)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        handle = os.open(real, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        raise StudioError(NOT_AN_UPLOAD) from None
    with os.fdopen(handle, "rb") as file:
        opened = os.fstat(file.fileno())
        if (opened.st_dev, opened.st_ino) != (seen.st_dev, seen.st_ino):
            raise StudioError(NOT_AN_UPLOAD)  # replaced since it was looked at
        data = file.read(MAX_UPLOAD_BYTES + 1)
    _check_size(len(data))
    return data


def _check_size(size: int) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise StudioError(
            f"That file is {size / 2**20:.1f} MB; images up to {MAX_UPLOAD_BYTES // 2**20} MB are accepted."
        )


def check_upload(source: str | Path | bytes) -> Image.Image:
    """Open an uploaded image only if it is a real PNG/JPEG/WebP of sane size; else say what is wrong."""
    data = source if isinstance(source, bytes) else None
    _check_size(len(data) if data is not None else Path(source).stat().st_size)
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
