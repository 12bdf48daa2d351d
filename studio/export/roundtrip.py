"""`studio import`: whole sessions back into a database, from a `folder`/`hf` export or a final PNG.

A session is restored exactly as it was stored (ids, versions, times, every step of
the tree, the image bytes), so exporting from one machine and importing on another
loses nothing. A session already in the database is left as it is. A final PNG
carries its tree but only its own pixels: the session reopens, and the earlier images
are listed as missing until an export with them is imported too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..domain import ImageRef, Stage, Step, StudioError, Trajectory, rounds_used, trajectory_from_dict
from .output import MANIFEST, image_name, is_export
from .pngmeta import PNG_SIGNATURE, read_png_file
from .rows import session_images
from .select import HEX64

ReadImage = Callable[[str], "bytes | None"]


@dataclass
class ImportReport:
    source: str  # "folder" | "hf" | "png"
    imported: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already in the database, left as they were
    missing_images: dict[str, int] = field(default_factory=dict)  # session → images the source lacked

    @property
    def session_ids(self) -> list[str]:
        return self.imported + self.present


def trajectory_from_export(data: dict[str, Any]) -> Trajectory:
    try:
        return trajectory_from_dict(data)
    except (KeyError, TypeError, ValueError) as error:
        raise StudioError(f"A session in this export is damaged ({error!r}); export it again.") from None


def restore(store, trajectory: Trajectory, read_image: ReadImage) -> tuple[bool, int]:
    """Insert one session as it was; (False, 0) when it is already there. Returns (inserted, images missing)."""
    session = trajectory.session
    if store.has_session(session.id):
        return False, 0
    missing = 0
    for ref in session_images(trajectory):
        if not HEX64.match(ref.sha256):
            raise StudioError(f"Session {session.id} names an image {ref.sha256[:20]!r} that is not a sha256.")
        if store.image_path(ref.sha256).is_file():
            continue
        data = read_image(ref.sha256)
        if data is None:
            missing += 1
            continue
        saved = store.save_image(data)
        if saved.sha256 != ref.sha256:
            raise StudioError(f"Image {ref.sha256[:12]} of session {session.id} is damaged (its bytes hash to "
                              f"{saved.sha256[:12]}); export it again.")
    if not store.insert_trajectory(trajectory):  # imported by someone else meanwhile
        return False, 0
    return True, missing


# -- sources -----------------------------------------------------------------------------------

def _folder_sessions(root: Path) -> Iterator[tuple[Trajectory, ReadImage]]:
    def read(sha256: str) -> bytes | None:
        path = root / image_name(sha256)
        return path.read_bytes() if path.is_file() else None

    try:
        with (root / "sessions.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield trajectory_from_export(json.loads(line)["trajectory"]), read
    except FileNotFoundError:
        raise StudioError(f"{root} has no sessions.jsonl; it is not a complete folder export.") from None


def _hf_sessions(root: Path) -> Iterator[tuple[Trajectory, ReadImage]]:
    import pyarrow.parquet as pq

    files = sorted((root / "sessions").glob("*.parquet"))
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=64, columns=["trajectory", "images"]):
            for row in batch.to_pylist():
                by_hash = {hashlib.sha256(cell["bytes"]).hexdigest(): cell["bytes"] for cell in row["images"] or []}
                yield trajectory_from_export(json.loads(row["trajectory"])), by_hash.get


def _import_png(store, path: Path) -> ImportReport:
    data, payload = read_png_file(path)
    trajectory = trajectory_from_export(payload["trajectory"])
    session = trajectory.session
    report = ImportReport("png")
    if store.has_session(session.id):
        report.present.append(session.id)
        return report
    final_ref: ImageRef = store.save_image(data)
    head = trajectory.head()
    final = Step(
        id=hashlib.sha256(f"{session.id}:{final_ref.sha256}".encode()).hexdigest()[:32], session_id=session.id,
        parent_id=head.id if head else None, stage=Stage.FINAL,
        round=max(1, rounds_used(trajectory.branch())) if head else 1, image=final_ref,
        meta={"restored_from": "png"}, created_at=session.updated_at,
    )
    trajectory.put(final)
    trajectory.session = dataclasses.replace(session, head_id=final.id, version=session.version + 1)
    _, missing = restore(store, trajectory, lambda sha: data if sha == final_ref.sha256 else None)
    report.imported.append(session.id)
    if missing:
        report.missing_images[session.id] = missing
    return report


def import_path(store, path: str | Path, progress: Callable[[int, str], None] | None = None) -> ImportReport:
    """Import a `folder`/`hf` export folder or a final PNG; StudioError naming the fix otherwise."""
    source = Path(path).expanduser()
    if source.is_file():
        with source.open("rb") as handle:
            if handle.read(8) == PNG_SIGNATURE:
                return _import_png(store, source)
        raise StudioError(f"{source} is neither a PNG nor an export folder; pass a folder or hf export "
                          "folder, or a final PNG saved by Stroke Studio.")
    if not source.is_dir():
        raise StudioError(f"{source} does not exist; pass an export folder or a PNG.")
    if not is_export(source):
        raise StudioError(f"{source} is not a Stroke Studio export (no {MANIFEST}); pass the folder "
                          "`studio export --format folder|hf` wrote.")
    kind = json.loads((source / MANIFEST).read_text(encoding="utf-8")).get("format")
    readers = {"folder": _folder_sessions, "hf": _hf_sessions}
    if kind not in readers:
        raise StudioError(f"{source} is a {kind} export: it keeps training rows, not whole sessions. Export with "
                          "--format folder or --format hf to move sessions between databases.")
    report = ImportReport(kind)
    for trajectory, read in readers[kind](source):
        inserted, missing = restore(store, trajectory, read)
        (report.imported if inserted else report.present).append(trajectory.session.id)
        if missing:
            report.missing_images[trajectory.session.id] = missing
        if progress:
            progress(len(report.session_ids), trajectory.session.id)
    return report
