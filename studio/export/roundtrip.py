"""`studio import`: whole sessions back into a database, from a `folder`/`hf` export or a final PNG.

A session is restored exactly as it was stored (ids, versions, times, every step of
the tree, its ratings and preferences, the image bytes), so exporting from one machine and
importing on another loses nothing. A session already in the database is left as it is; only
the ratings and preferences it lacks are added (importing twice keeps one copy of each). A final PNG
carries its tree but only its own pixels: the session reopens, and the earlier images
are listed as missing until an export with them is imported too.

Everything read is untrusted (`studio.untrusted` checks it) and an import never writes into a
session that exists: a PNG naming an existing session reopens it, unchanged, only when its bytes
are that session's own final image; otherwise it is imported as a new session with fresh ids.
All checks run before the first image file or row is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .. import limits, protocol, untrusted
from ..domain import (
    ImageRef,
    Judgement,
    Stage,
    Step,
    StudioError,
    Trajectory,
    new_id,
    rounds_used,
)
from ..pngmeta import PNG_SIGNATURE, read_png_file
from .output import MANIFEST, image_name, is_export
from .rows import session_images
from .select import HEX64

ReadImage = Callable[[str], "bytes | None"]
Carried = tuple[Trajectory, ReadImage, list[Judgement]]  # a session an export holds


@dataclass
class ImportReport:
    source: str  # "folder" | "hf" | "png"
    imported: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already in the database, left as they were
    missing_images: dict[str, int] = field(
        default_factory=dict
    )  # session → images the source lacked
    copies: dict[str, str] = field(
        default_factory=dict
    )  # new session id → the id it carried (taken here)
    judgements: int = 0  # ratings and preferences written (those already here are not counted)

    @property
    def session_ids(self) -> list[str]:
        return self.imported + self.present


def trajectory_from_export(data: Any) -> Trajectory:
    return untrusted.trajectory(data)


def renumbered(trajectory: Trajectory) -> Trajectory:
    """The same tree under a fresh session id and fresh step ids (for an import whose ids are taken)."""
    ids = {old: new_id() for old in trajectory.steps}
    session = dataclasses.replace(
        trajectory.session,
        id=new_id(),
        head_id=ids.get(trajectory.session.head_id) if trajectory.session.head_id else None,
    )
    return Trajectory.of(
        session,
        [
            step.replace(
                id=ids[step.id],
                session_id=session.id,
                parent_id=ids[step.parent_id] if step.parent_id else None,
            )
            for step in trajectory.steps.values()
        ],
    )


def restore(
    store, trajectory: Trajectory, read_image: ReadImage, judgements: Sequence[Judgement] = ()
) -> tuple[bool, int, int]:
    """Insert one session as it was, with its judgements; returns (inserted, images missing,
    judgements written).

    A session already here is left as it is (False, 0, n): only the judgements it lacks are added,
    those of images it holds with the same bytes (`store.merge_judgements`). Every image is read,
    hashed and decoded before the first one is written, so a damaged source leaves the image
    folder as it was."""
    session = trajectory.session
    if store.has_session(session.id):
        return False, 0, _merge_into_present(store, trajectory, judgements)
    missing, pending = 0, {}
    for ref in session_images(trajectory):
        if not HEX64.match(ref.sha256):
            raise StudioError(
                f"Session {session.id} names an image {ref.sha256[:20]!r} that is not a sha256."
            )
        if ref.sha256 in pending or store.image_path(ref.sha256).is_file():
            continue
        data = read_image(ref.sha256)
        if data is None:
            missing += 1
            continue
        actual = hashlib.sha256(data).hexdigest()
        if actual != ref.sha256:
            raise StudioError(
                f"Image {ref.sha256[:12]} of session {session.id} is damaged (its bytes hash to "
                f"{actual[:12]}); export it again."
            )
        untrusted.png_pixels(data)
        pending[ref.sha256] = data
    if store.taken_step_ids(list(trajectory.steps)):
        raise StudioError(
            f"Session {session.id} reuses step ids of another session here; nothing was imported."
        )
    written = [sha for sha in pending if not store.image_path(sha).exists()]
    try:
        for data in pending.values():
            store.save_image(data)
        # False: imported by someone else meanwhile
        inserted = store.insert_trajectory(trajectory, judgements)
    except BaseException:
        for sha in written:  # leave the image folder as it was
            store.image_path(sha).unlink(missing_ok=True)
        raise
    if not inserted:
        return False, 0, _merge_into_present(store, trajectory, judgements)
    return True, missing, len(store.judgements(session.id))


def _merge_into_present(store, trajectory: Trajectory, judgements: Sequence[Judgement]) -> int:
    """The judgements of a session already here, for the images it holds with the bytes the export's
    tree gives them (a session that only shares the id is not judged by another's ratings)."""
    if not judgements:
        return 0
    here = store.load(trajectory.session.id).steps

    def same_image(step_id: str | None) -> bool:
        ours, theirs = here.get(step_id or ""), trajectory.steps.get(step_id or "")
        return bool(ours and theirs and ours.image and ours.image == theirs.image)

    return store.merge_judgements(
        j
        for j in judgements
        if same_image(j.step_id) and (j.other_step_id is None or same_image(j.other_step_id))
    )


# -- sources -----------------------------------------------------------------------------------


def _folder_sessions(root: Path) -> Iterator[Carried]:
    def read(sha256: str) -> bytes | None:
        path = root / image_name(sha256)
        return path.read_bytes() if path.is_file() else None

    try:
        with (root / "sessions.jsonl").open(encoding="utf-8") as handle:
            lines = [line for line in handle if line.strip()]
    except FileNotFoundError:
        raise StudioError(
            f"{root} has no sessions.jsonl; it is not a complete folder export."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise StudioError(
            f"Cannot read {root / 'sessions.jsonl'} ({type(error).__name__}); export it again."
        ) from None
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            raise StudioError(
                f"Line {number} of {root / 'sessions.jsonl'} is not JSON; export it again."
            ) from None
        if not isinstance(row, dict) or "trajectory" not in row:
            raise StudioError(
                f"Line {number} of {root / 'sessions.jsonl'} holds no trajectory; export it again."
            )
        tree = trajectory_from_export(row["trajectory"])
        yield tree, read, untrusted.judgements(row.get("judgements"), tree)


def _hf_sessions(root: Path) -> Iterator[Carried]:
    import pyarrow
    import pyarrow.parquet as pq

    files = sorted((root / "sessions").glob("*.parquet"))
    for path in files:
        try:
            table = pq.ParquetFile(path)
            columns = ["trajectory", "images"]  # exports from before people carry no judgements
            columns += ["judgements"] if "judgements" in table.schema_arrow.names else []
            rows = [
                row
                for batch in table.iter_batches(batch_size=64, columns=columns)
                for row in batch.to_pylist()
            ]
            parsed = [
                (
                    json.loads(row["trajectory"]),
                    json.loads(row.get("judgements") or "null"),
                    {
                        hashlib.sha256(cell["bytes"]).hexdigest(): cell["bytes"]
                        for cell in row["images"] or []
                    },
                )
                for row in rows
            ]
        except (
            pyarrow.ArrowException,
            OSError,
            ValueError,
            TypeError,
            KeyError,
            RecursionError,
        ) as error:
            raise StudioError(
                f"{path.name} in this hf export is damaged ({type(error).__name__}); "
                "export it again."
            ) from None
        for data, judged, by_hash in parsed:
            tree = trajectory_from_export(data)
            yield tree, by_hash.get, untrusted.judgements(judged, tree)


def _import_png(store, path: Path, owner: str | None) -> ImportReport:
    data, payload = read_png_file(path)
    trajectory = trajectory_from_export(payload["trajectory"])
    width, height = untrusted.png_pixels(data)
    report = ImportReport("png")
    final_ref = ImageRef(hashlib.sha256(data).hexdigest(), width, height, len(data))
    carried = trajectory.session.id
    if store.has_session(carried):
        if final_ref.sha256 in {ref.sha256 for ref in session_images(store.load(carried))}:
            report.present.append(carried)  # this session's own final image: reopen it, unchanged
            return report
        trajectory = renumbered(trajectory)  # the id is taken by other content: never write into it
    elif store.taken_step_ids(list(trajectory.steps)):
        trajectory = renumbered(trajectory)
    session = trajectory.session
    head = trajectory.head()
    final = Step(
        id=hashlib.sha256(f"{session.id}:{final_ref.sha256}".encode()).hexdigest()[:32],
        session_id=session.id,
        parent_id=head.id if head else None,
        stage=Stage.FINAL,
        round=max(1, rounds_used(trajectory.branch())) if head else 1,
        image=final_ref,
        meta={"restored_from": "png"},
        created_at=session.updated_at,
    )
    trajectory.put(final)
    trajectory.session = dataclasses.replace(session, head_id=final.id, version=session.version + 1)
    if owner is not None:  # the copy is the importer's, private until they share it
        trajectory.session = dataclasses.replace(trajectory.session, owner=owner, shared=False)
    _, missing, _ = restore(
        store, trajectory, lambda sha: data if sha == final_ref.sha256 else None
    )
    report.imported.append(session.id)
    if session.id != carried:
        report.copies[session.id] = carried
    if missing:
        report.missing_images[session.id] = missing
    return report


def import_path(
    store,
    path: str | Path,
    progress: Callable[[int, str], None] | None = None,
    owner: str | None = None,
) -> ImportReport:
    """Import a `folder`/`hf` export folder or a final PNG; StudioError naming the fix otherwise.

    Sessions keep the owner they carry (moving sessions between databases changes no one's work),
    except a PNG's session written anew when `owner` is given: a person who drops a PNG on the page
    gets a copy of their own. Its steps keep the names of who made each correction."""
    source = Path(path).expanduser()
    if source.is_file():
        with source.open("rb") as handle:
            if handle.read(8) == PNG_SIGNATURE:
                return _import_png(store, source, owner)
        raise StudioError(
            f"{source} is neither a PNG nor an export folder; pass a folder or hf export "
            "folder, or a final PNG saved by Stroke Studio."
        )
    if not source.is_dir():
        raise StudioError(f"{source} does not exist; pass an export folder or a PNG.")
    if not is_export(source):
        raise StudioError(
            f"{source} is not a Stroke Studio export (no {MANIFEST}); pass the folder "
            "`studio export --format folder|hf` wrote."
        )
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise StudioError(
            f"{source / MANIFEST} is damaged (not readable JSON); export the folder again."
        ) from None
    kind = manifest.get("format") if isinstance(manifest, dict) else None
    written_in = manifest.get("protocol", 1) if isinstance(manifest, dict) else 1
    if not isinstance(written_in, int) or written_in > protocol.VERSION:
        raise StudioError(
            f"{source} was exported with version {limits.shown(written_in)} of the loop's text protocol; "
            f"this studio reads up to version {protocol.VERSION}. Update the studio, then import it."
        )
    readers = {"folder": _folder_sessions, "hf": _hf_sessions}
    if not isinstance(kind, str):
        raise StudioError(f"{source / MANIFEST} names no export format; export the folder again.")
    if kind not in readers:
        raise StudioError(
            f"{source} is a {limits.shown(kind)[1:-1]} export: it keeps training rows, not whole sessions. Export with "
            "--format folder or --format hf to move sessions between databases."
        )
    report = ImportReport(kind)
    for trajectory, read, judgements in readers[kind](source):
        inserted, missing, judged = restore(store, trajectory, read, judgements)
        report.judgements += judged
        (report.imported if inserted else report.present).append(trajectory.session.id)
        if missing:
            report.missing_images[trajectory.session.id] = missing
        if progress:
            progress(len(report.session_ids), trajectory.session.id)
    return report
