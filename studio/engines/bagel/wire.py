"""The pipe protocol between the studio and its BAGEL worker: JSON headers plus raw bytes, no pickle.

Why not pickle: the worker runs in another Python environment (BAGEL's pinned stack) and either side
may be upgraded alone; a message the other side cannot read must fail with a clear error, never run
code. So each message is one line of JSON (the header) followed by the byte blobs it announces
(PNG images). The worker's first message states PROTOCOL_VERSION; the studio refuses a worker that
speaks another version, naming both.

Wire format of one message:  <header as one line of ASCII JSON>\\n<blob 0><blob 1>...
where header["blobs"] lists the byte length of each blob. Only the standard library is used here:
this module is imported on both sides.
"""

from __future__ import annotations

import io
import json
from typing import Any, BinaryIO

PROTOCOL_VERSION = 1
MAX_HEADER = 16 * 2**20  # a header is settings and text; anything longer is a broken stream
MAX_BLOB = 512 * 2**20  # a PNG of a 4096² image is far below this


class ProtocolError(Exception):
    """The other side sent something that is not a message of this protocol (or closed the pipe)."""


class Closed(ProtocolError):
    """The pipe ended: the other side exited or closed it."""


def write_message(
    stream: BinaryIO, header: dict[str, Any], blobs: list[bytes] | tuple[bytes, ...] = ()
) -> None:
    header = dict(header, blobs=[len(blob) for blob in blobs])
    line = json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"
    stream.write(line)
    for blob in blobs:
        stream.write(blob)
    stream.flush()


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise Closed(f"the pipe ended {left} bytes before the end of a message")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(stream: BinaryIO) -> tuple[dict[str, Any], list[bytes]]:
    line = stream.readline(MAX_HEADER + 1)
    if not line:
        raise Closed("the pipe ended")
    if not line.endswith(b"\n"):
        raise ProtocolError("a message header is too long or cut off")
    try:
        header = json.loads(line)
    except ValueError:
        text = line[:120].decode("utf-8", "replace").strip()
        raise ProtocolError(f"not a protocol message: {text!r}") from None
    if not isinstance(header, dict):
        raise ProtocolError("a message header must be a JSON object")
    sizes = header.pop("blobs", [])
    if not isinstance(sizes, list) or not all(
        isinstance(n, int) and 0 <= n <= MAX_BLOB for n in sizes
    ):
        raise ProtocolError("a message header announces invalid blob sizes")
    return header, [_read_exact(stream, n) for n in sizes]


def png_bytes(image) -> bytes:
    """A PIL image as PNG bytes (lossless: the worker's context gets exactly the stored pixels)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def png_image(data: bytes):
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.load()
    return image
