"""A trajectory carried inside a PNG, so a final image can reopen the session that made it.

The JSON goes into one iTXt chunk inserted just before IEND: the pixel data is never
decoded or re-encoded, so stamping costs a copy of the bytes and stripping the chunk
gives back the exact bytes that were stamped. Chunks are parsed here by hand (no
Pillow), so reading a trajectory has no size limit of its own.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .codec import trajectory_to_dict
from .domain import ImageRef, StudioError, Trajectory

if TYPE_CHECKING:
    from ..store import Store

KEYWORD = b"stroke-studio-trajectory"
FORMAT_VERSION = 1
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow refuses to inflate text chunks larger than this (PngImagePlugin.MAX_TEXT_CHUNK), so
# longer trajectories are stored uncompressed and every Pillow reader can still open the image.
COMPRESS_UP_TO = 1024 * 1024
# A trajectory is read from untrusted files: its text may inflate to at most this many bytes (a few
# hundred thousand steps' worth), so a small "zip bomb" chunk cannot take the process's memory.
MAX_PAYLOAD_BYTES = 32 * 1024 * 1024
MAX_FILE_BYTES = 64 * 1024 * 1024


def _chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """(offset, type, end offset) of every chunk; raises StudioError on anything that is not a PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise StudioError(
            "This file is not a PNG; only PNG images saved by Stroke Studio carry a trajectory."
        )
    found, offset = [], len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        end = offset + 12 + length
        if end > len(data):
            raise StudioError("This PNG is truncated; copy the whole file again.")
        found.append((offset, kind, end))
        offset = end
        if kind == b"IEND":
            return found
    raise StudioError("This PNG has no end (IEND chunk); copy the whole file again.")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def _is_ours(data: bytes, offset: int, end: int, kind: bytes) -> bool:
    return kind in (b"iTXt", b"tEXt", b"zTXt") and data[offset + 8 : end - 4].startswith(
        KEYWORD + b"\0"
    )


def strip(data: bytes) -> bytes:
    """The PNG without our trajectory chunk: the exact bytes `stamp` was given."""
    return b"".join(
        [PNG_SIGNATURE] + [data[o:e] for o, k, e in _chunks(data) if not _is_ours(data, o, e, k)]
    )


def stamp(data: bytes, payload: dict[str, Any]) -> bytes:
    """PNG bytes with `payload` as JSON in an iTXt chunk before IEND (any earlier one replaced)."""
    data = strip(data)
    text = json.dumps(
        {"format": KEYWORD.decode(), "version": FORMAT_VERSION, **payload},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    compressed = len(text) <= COMPRESS_UP_TO
    body = (
        KEYWORD
        + b"\0"
        + (b"\1\0" if compressed else b"\0\0")
        + b"\0\0"
        + (zlib.compress(text, 6) if compressed else text)
    )
    return data[:-12] + _chunk(b"iTXt", body) + data[-12:]


def _inflate(compressed: bytes) -> bytes:
    """zlib data inflated to at most MAX_PAYLOAD_BYTES; StudioError when damaged or larger."""
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(compressed, MAX_PAYLOAD_BYTES)
    except zlib.error:
        raise StudioError(
            "The trajectory inside this PNG is damaged (its compressed text does not inflate)."
        ) from None
    if inflater.unconsumed_tail:
        raise StudioError(
            f"The trajectory inside this PNG inflates to more than {MAX_PAYLOAD_BYTES // 2**20} MB; "
            "it is not one Stroke Studio wrote."
        )
    return text


def read(data: bytes) -> dict[str, Any] | None:
    """The payload `stamp` wrote, or None when the PNG carries none. The JSON is parsed, not yet
    checked: `studio.core.untrusted.trajectory` does that before anything is imported."""
    for offset, kind, end in _chunks(data):
        if not _is_ours(data, offset, end, kind):
            continue
        body = data[offset + 8 + len(KEYWORD) + 1 : end - 4]
        if len(body) > MAX_PAYLOAD_BYTES:
            raise StudioError(
                f"The trajectory inside this PNG is over {MAX_PAYLOAD_BYTES // 2**20} MB; "
                "it is not one Stroke Studio wrote."
            )
        if kind == b"tEXt":
            text = body
        elif kind == b"zTXt":
            text = _inflate(body[1:])
        else:
            parts = body[2:].split(b"\0", 2)  # the language tag, the translated keyword, the text
            if len(body) < 2 or len(parts) != 3:
                raise StudioError(
                    "The trajectory chunk inside this PNG is damaged (not an iTXt chunk)."
                )
            text = _inflate(parts[2]) if body[0] else parts[2]
        try:
            payload = json.loads(text)
        except RecursionError:
            raise StudioError(
                "The trajectory inside this PNG is nested too deeply to be Stroke Studio's."
            ) from None
        except ValueError:
            raise StudioError("The trajectory inside this PNG is damaged (not JSON).") from None
        if not isinstance(payload, dict):
            raise StudioError("The trajectory inside this PNG is damaged (not a JSON object).")
        version = payload.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise StudioError(
                "The trajectory inside this PNG is damaged (its format version is not a number)."
            )
        if version > FORMAT_VERSION:
            raise StudioError(
                "This PNG was saved by a newer Stroke Studio; upgrade Stroke Studio to open it."
            )
        return payload
    return None


def stamp_trajectory(data: bytes, trajectory: Trajectory) -> bytes:
    return stamp(data, {"trajectory": trajectory_to_dict(trajectory)})


def read_png_file(path: str | Path) -> tuple[bytes, dict[str, Any]]:
    """A PNG file's bytes and its trajectory payload; StudioError naming the fix otherwise."""
    try:
        if Path(path).stat().st_size > MAX_FILE_BYTES:
            raise StudioError(
                f"{path} is larger than {MAX_FILE_BYTES // 2**20} MB; no final image is that big."
            )
        data = Path(path).read_bytes()
    except OSError as error:
        raise StudioError(f"Cannot read {path}: {error.strerror or error}.") from None
    return data, trajectory_payload(data, str(path))


def trajectory_payload(data: bytes, name: str) -> dict[str, Any]:
    """The trajectory payload of PNG bytes; StudioError naming `name` (the file, or "That PNG")
    when they carry none."""
    payload = read(data)
    if payload is None or "trajectory" not in payload:
        raise StudioError(
            f"{name} carries no Stroke Studio trajectory: a plain PNG has no session to reopen; drop a "
            "session's final image instead (Download PNG on a final step, or a final PNG from an export)."
        )
    return payload


def save_final_image(store: "Store", image: Any, trajectory: Trajectory) -> ImageRef:
    """Store a final image (a PIL image, or the ImageRef of a stored one) stamped with its trajectory.

    The trajectory is the tree the final step joins (the final step itself cannot be inside:
    its image hash would depend on itself). A stored image is stamped byte for byte.
    """
    if isinstance(image, ImageRef):
        path = store.image_path(image.sha256)
        if not path.exists():
            raise StudioError(
                f"Image {image.sha256[:12]} is missing from the image folder; restore the folder."
            )
        data = path.read_bytes()
    else:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data = buffer.getvalue()
    return store.save_image(stamp_trajectory(data, trajectory))
