"""Where an export is written, and how it appears there all at once.

Everything is written into a hidden temporary folder beside the target and renamed
into place at the end, so an interrupted export leaves the target as it was. Every
file name is built from a fixed name, an index or a sha256 checked to be 64 hex
digits, so nothing read from the database can steer a write outside the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..core.domain import StudioError
from .select import HEX64

MANIFEST = "manifest.json"
MARKER = "stroke-studio-export"


def image_name(sha256: str) -> str:
    """`images/<sha256>.png`, the one way an image is named in an export."""
    if not HEX64.match(sha256):
        raise StudioError(f"Image hash {sha256[:20]!r} is not a sha256; the database is damaged.")
    return f"images/{sha256}.png"


def is_export(folder: Path) -> bool:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("marker") == MARKER
    except (OSError, ValueError, AttributeError):
        return False


def check_target(
    out_dir: str | Path,
    force: bool,
    protected: Iterable[Path] = (),
    inside_refused: Iterable[Path] = (),
) -> Path:
    """The absolute target folder, or a StudioError saying why it cannot be written.

    `protected` paths may be neither the target nor inside it (the database, the data folder);
    no target may lie inside an `inside_refused` folder (the content-addressed images).
    """
    if not str(out_dir).strip():
        raise StudioError("No output folder given; pass --out DIR.")
    target = Path(out_dir).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise StudioError(f"{target} is a file; pass a folder (new or empty) to --out.")
    for path in protected:
        path = Path(path).resolve()
        if target == path or target in path.parents:
            raise StudioError(
                f"{target} holds the studio's own data ({path}); export to another folder."
            )
    for path in inside_refused:
        path = Path(path).resolve()
        if target == path or path in target.parents:
            raise StudioError(
                f"{target} is inside the studio's image store ({path}); export to another folder."
            )
    if target.is_dir() and any(target.iterdir()):
        if not force:
            raise StudioError(
                f"{target} is not empty; pass --force to replace it, or choose an empty folder."
            )
        if not is_export(target):
            raise StudioError(
                f"{target} is not empty and is not a Stroke Studio export, so even --force will "
                "not replace it; choose an empty or new folder."
            )
    return target


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A temporary folder beside `target`, renamed onto it only if the block finishes."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.export-"))
    except OSError as error:
        raise StudioError(
            f"Cannot write to {target.parent} ({error.strerror or error}); "
            "choose a folder you can write to."
        ) from None
    try:
        yield temp
        os.chmod(temp, 0o755)  # mkdtemp makes it private; an export is meant to be shared
        _swap(temp, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _swap(temp: Path, target: Path) -> None:
    if target.is_dir() and any(target.iterdir()):
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
        os.replace(target, old / "previous")
        try:
            os.replace(temp, target)
        except BaseException:
            os.replace(old / "previous", target)
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temp, target)  # rename(2) replaces an empty folder


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


class ImageCopier:
    """Copies stored PNGs into `images/` once each, byte for byte."""

    def __init__(self, source: "ImageSource", root: Path):
        self.source, self.root, self.done = source, root, set()

    def __call__(self, sha256: str) -> str:
        name = image_name(sha256)
        if sha256 not in self.done:
            (self.root / "images").mkdir(exist_ok=True)
            shutil.copyfile(self.source.path(sha256), self.root / name)
            self.done.add(sha256)
        return name


class ImageSource:
    """Stored image bytes by hash (what every writer reads; never decoded)."""

    def __init__(self, store):
        self.store = store

    def path(self, sha256: str) -> Path:
        image_name(sha256)  # refuses anything but a sha256
        return self.store.image_path(sha256)

    def read(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except OSError as error:
            raise StudioError(
                f"Image {sha256[:12]} cannot be read ({error.strerror or error}); "
                "restore the images folder."
            ) from None
