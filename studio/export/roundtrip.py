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

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from ..domain import (ImageRef, RunSettings, Session, Stage, Step, StudioError, Trajectory, rounds_used,
                      step_from_dict)
from ..store import _insert_ignoring_duplicates, _step_row, images, sessions, steps
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


def session_from_dict(data: dict[str, Any]) -> Session:
    return Session(
        id=data["id"], prompt=data["prompt"], engine=data["engine"], seed=int(data["seed"]),
        title=data.get("title", ""), settings=RunSettings.from_dict(data.get("settings")),
        tags=tuple(data.get("tags", ())), head_id=data.get("head_id"), version=int(data.get("version", 0)),
        created_at=float(data["created_at"]), updated_at=float(data["updated_at"]),
    )


def trajectory_from_dict(data: dict[str, Any]) -> Trajectory:
    try:
        session = session_from_dict(data["session"])
        loaded = [step_from_dict(s) for s in data["steps"]]
    except (KeyError, TypeError, ValueError) as error:
        raise StudioError(f"A session in this export is damaged ({error!r}); export it again.") from None
    return Trajectory(session, {s.id: s for s in loaded})


def _parents_first(found: list[Step]) -> list[Step]:
    """Steps ordered so each parent is inserted before its children (the foreign key needs it)."""
    done: set[str] = set()
    ordered: list[Step] = []
    pending = sorted(found, key=lambda s: (s.created_at, s.id))
    while pending:
        ready = [s for s in pending if s.parent_id is None or s.parent_id in done]
        if not ready:
            raise StudioError("A session in this export has steps whose parents are missing; export it again.")
        ordered += ready
        done |= {s.id for s in ready}
        pending = [s for s in pending if s.id not in done]
    return ordered


def _exists(store, session_id: str) -> bool:
    with store.reader.connect() as conn:
        return conn.execute(select(sessions.c.id).where(sessions.c.id == session_id)).first() is not None


def restore(store, trajectory: Trajectory, read_image: ReadImage) -> tuple[bool, int]:
    """Insert one session as it was; (False, 0) when it is already there. Returns (inserted, images missing)."""
    session = trajectory.session
    if _exists(store, session.id):
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
    try:
        with store.engine.begin() as conn:
            conn.execute(insert(sessions).values(
                id=session.id, title=session.title, prompt=session.prompt, engine=session.engine,
                seed=session.seed, settings=session.settings.to_dict(), tags=list(session.tags),
                head_id=session.head_id, version=session.version, created_at=session.created_at,
                updated_at=session.updated_at,
            ))
            for ref in session_images(trajectory):
                conn.execute(_insert_ignoring_duplicates(conn, images).values(
                    sha256=ref.sha256, width=ref.width, height=ref.height, byte_size=ref.byte_size,
                    created_at=session.created_at))
            for step in _parents_first(list(trajectory.steps.values())):
                conn.execute(insert(steps).values(**_step_row(step)))
    except IntegrityError:
        if _exists(store, session.id):  # imported by someone else meanwhile
            return False, 0
        raise StudioError(f"Session {session.id} does not fit this database (a step id is taken); "
                          "import it into a fresh database.") from None
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
                    yield trajectory_from_dict(json.loads(line)["trajectory"]), read
    except FileNotFoundError:
        raise StudioError(f"{root} has no sessions.jsonl; it is not a complete folder export.") from None


def _hf_sessions(root: Path) -> Iterator[tuple[Trajectory, ReadImage]]:
    import pyarrow.parquet as pq

    files = sorted((root / "sessions").glob("*.parquet"))
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=64, columns=["trajectory", "images"]):
            for row in batch.to_pylist():
                by_hash = {hashlib.sha256(cell["bytes"]).hexdigest(): cell["bytes"] for cell in row["images"] or []}
                yield trajectory_from_dict(json.loads(row["trajectory"])), by_hash.get


def _import_png(store, path: Path) -> ImportReport:
    data, payload = read_png_file(path)
    trajectory = trajectory_from_dict(payload["trajectory"])
    session = trajectory.session
    report = ImportReport("png")
    if _exists(store, session.id):
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
