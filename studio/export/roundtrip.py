"""`studio import`: whole sessions back into a database, from a `folder`/`hf` export or a final PNG.

A session is restored exactly as it was stored (ids, versions, times, every step of
the tree, its ratings and preferences, the image bytes), so exporting from one machine and
importing on another loses nothing. A session already in the database is left as it is; only
the ratings and preferences it lacks are added (importing twice keeps one copy of each). A final PNG
carries its tree but only its own pixels: the session reopens, and the earlier images
are listed as missing until an export with them is imported too.

Everything read is untrusted (`studio.core.untrusted` checks it) and an import never writes into a
session that exists: a PNG naming an existing session reopens it, unchanged, only when its bytes
are that session's own final image; otherwise it is imported as a new session with fresh ids.

An import is all or nothing. Every line (or row) of the source is read and checked first: each
session once, each image a new session names carried with bytes that hash to its name (a PNG may
name images it lacks only where this database has no such image, so naming another session's
image by its hash links nothing). Then the image files this store lacks are written and every
row goes in one transaction; on any error the rows roll back and the files written are removed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..core import limits, protocol, untrusted
from ..core.domain import (
    ImageRef,
    Judgement,
    Stage,
    Step,
    StudioError,
    Trajectory,
    new_id,
    rounds_used,
)
from ..core.pngmeta import PNG_SIGNATURE, read_png_file, trajectory_payload
from .output import MANIFEST, image_name, is_export
from .rows import session_images
from .select import HEX64

ReadImage = Callable[[str], "bytes | None"]


@dataclass
class ImportReport:
    source: str  # "folder" | "hf" | "png"
    imported: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already in the database, left as they were
    missing_images: dict[str, int] = field(
        default_factory=dict
    )  # session → images the source lacked
    # new session id → the id it carried (taken here)
    copies: dict[str, str] = field(default_factory=dict)
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


@dataclass
class Carried:
    """One session a source holds, read and checked: its tree, its ratings and preferences, the
    bytes of the images it carries (`read`, by hash; None for one it does not carry) and `where` it
    is, for messages ("line 2 of …/sessions.jsonl"; "" for a PNG)."""

    trajectory: Trajectory
    read: ReadImage
    judgements: list[Judgement]
    where: str = ""


@dataclass
class _Plan:
    """What an import will write, decided before anything is: the new sessions, the judgements it
    adds to sessions already here, and the image files this store lacks (by hash: their reader)."""

    new: list[Carried] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    merged: list[Judgement] = field(default_factory=list)
    files: dict[str, ReadImage] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)


def _refusal(where: str, text: str) -> StudioError:
    """`text` as one line, led by where in the source the wrong thing is."""
    return StudioError(f"{where[:1].upper()}{where[1:]}: {text}" if where else text)


def _references(trajectory: Trajectory) -> Iterator[ImageRef]:
    """Every image reference of a tree (step images and region masks), repeats included."""
    for step in trajectory.steps.values():
        for ref in (step.image, step.region.image if step.region else None):
            if ref is not None:
                yield ref


def _beside(other: str, where: str) -> str:
    """`other` as seen from `where`: "line 1", when both are lines of the same file."""
    head, _, tail = other.partition(" of ")
    return head if tail and tail == where.partition(" of ")[2] else other


def _once_each(sources: Sequence[Carried]) -> None:
    """Each session, step and judgement id at most once in the whole import: two lines with the
    same session are one of them forged (and "the first wins" would let either through), and two
    sessions sharing a step or judgement id cannot both be stored."""
    sessions: dict[str, str] = {}
    steps: dict[str, str] = {}
    judged: dict[str, str] = {}
    for source in sources:
        session_id = source.trajectory.session.id
        if session_id in sessions:
            also = _beside(sessions[session_id], source.where)
            raise _refusal(
                source.where,
                f"session {session_id} is there twice (also {also}); an export holds each session "
                "once: export it again.",
            )
        sessions[session_id] = source.where
        for kind, seen, ids in (
            ("step", steps, source.trajectory.steps),
            ("judgement", judged, [j.id for j in source.judgements]),
        ):
            for item in ids:
                if item in seen:
                    also = _beside(seen[item], source.where)
                    raise _refusal(
                        source.where,
                        f"session {session_id} reuses {kind} id {item} of {also}; export it again.",
                    )
                seen[item] = source.where


def _plan(store, sources: Sequence[Carried], *, may_lack_images: bool = False) -> _Plan:
    """Check a whole import against this store and decide what it writes; StudioError naming the
    first wrong thing (and where it is) before anything is written.

    A new session may name only images its source carries, with bytes that hash to the name,
    decode, and have the sizes its steps give; so an import cannot link an image someone else's
    session holds here by naming its hash. `may_lack_images` (a PNG, which carries only its final
    image): an image it does not carry is allowed when this store has no such image at all; it
    stays missing until an export that carries it is imported."""
    _once_each(sources)
    plan, verified, sizes = _Plan(), set(), {}
    for source in sources:
        trajectory, where = source.trajectory, source.where
        session_id = trajectory.session.id
        if store.has_session(session_id):
            plan.present.append(session_id)
            plan.merged += _merge_into_present(store, trajectory, source.judgements)
            continue
        if store.taken_step_ids(list(trajectory.steps)):
            raise _refusal(
                where,
                f"session {session_id} reuses step ids of another session here; nothing was "
                "imported. Import it into a fresh database.",
            )
        for ref in _references(trajectory):
            sha = ref.sha256
            if not HEX64.match(sha):
                raise _refusal(
                    where, f"session {session_id} names an image {sha[:20]!r} that is not a sha256."
                )
            claimed = (ref.width, ref.height, ref.byte_size)
            if sizes.setdefault(sha, claimed) != claimed:
                raise _refusal(
                    where,
                    f"session {session_id} gives image {sha[:12]} other sizes than the rest of the "
                    "import does; export it again.",
                )
            if sha in verified:
                continue
            data = source.read(sha)
            if data is None:
                if not may_lack_images:
                    raise _refusal(
                        where,
                        f"session {session_id} names image {sha[:12]} that the export does not carry; "
                        "export it again.",
                    )
                if store.known_images([sha]) or store.image_path(sha).exists():
                    raise _refusal(
                        where,
                        f"This PNG names image {sha[:12]} that it does not carry; it can bring in only "
                        "its own image. Import a folder or hf export that carries the session.",
                    )
                plan.missing[session_id] = plan.missing.get(session_id, 0) + 1
                continue
            actual = hashlib.sha256(data).hexdigest()
            if actual != sha:
                raise _refusal(
                    where,
                    f"image {sha[:12]} of session {session_id} is damaged (its bytes hash to "
                    f"{actual[:12]}); export it again.",
                )
            try:
                width, height = untrusted.png_pixels(data)
            except StudioError as error:
                raise _refusal(
                    where, f"image {sha[:12]} of session {session_id}: {error}"
                ) from None
            if claimed != (width, height, len(data)):
                raise _refusal(
                    where,
                    f"session {session_id} says image {sha[:12]} is {ref.width}×{ref.height} pixels "
                    f"and {ref.byte_size:,} bytes; it is {width}×{height} and {len(data):,}. "
                    "Export it again.",
                )
            verified.add(sha)
            if not store.image_path(sha).is_file():
                plan.files[sha] = source.read
        plan.new.append(source)
    return plan


def _write(store, plan: _Plan) -> int:
    """Write what `plan` decided: the missing image files, then every row in one transaction
    (`Store.insert_trajectories`); returns how many judgements were written. On any error nothing
    stays: the rows roll back and the files this import wrote are removed, unless a session here
    holds the image by then (another process stored the same bytes meanwhile). A file that was here
    before the import is never touched."""
    written: list[str] = []
    try:
        for sha, read in plan.files.items():
            if store.image_path(sha).exists():
                continue
            data = read(sha)  # read again: only its hash was kept
            if data is None or hashlib.sha256(data).hexdigest() != sha:
                raise StudioError(
                    f"Image {sha[:12]} changed while it was imported; nothing was imported. "
                    "Import again."
                )
            written.append(sha)
            store.save_image(data)
        return store.insert_trajectories(
            [(source.trajectory, source.judgements) for source in plan.new], plan.merged
        )
    except BaseException:
        try:
            kept = store.known_images(written)
        except Exception:  # the database itself failed: no session can hold them
            kept = set()
        for sha in written:
            if sha not in kept:
                store.image_path(sha).unlink(missing_ok=True)
        raise


def _merge_into_present(
    store, trajectory: Trajectory, judgements: Sequence[Judgement]
) -> list[Judgement]:
    """The judgements of a session already here, for the images it holds with the bytes the export's
    tree gives them (a session that only shares the id is not judged by another's ratings)."""
    if not judgements:
        return []
    here = store.load(trajectory.session.id).steps

    def same_image(step_id: str | None) -> bool:
        ours, theirs = here.get(step_id or ""), trajectory.steps.get(step_id or "")
        return bool(ours and theirs and ours.image and ours.image == theirs.image)

    return [
        j
        for j in judgements
        if same_image(j.step_id) and (j.other_step_id is None or same_image(j.other_step_id))
    ]


# -- sources -----------------------------------------------------------------------------------


def _carried(where: str, data: Any, judged: Any, read: ReadImage) -> Carried:
    """A checked session of an export, or StudioError led by `where`."""
    try:
        tree = trajectory_from_export(data)
        return Carried(tree, read, untrusted.judgements(judged, tree), where)
    except StudioError as error:
        raise _refusal(where, str(error)) from None


def _folder_sessions(root: Path) -> list[Carried]:
    listing = root / "sessions.jsonl"

    def read(sha256: str) -> bytes | None:
        path = root / image_name(sha256)
        if not path.is_file():
            return None
        try:
            if path.stat().st_size > untrusted.MAX_IMAGE_BYTES:
                raise StudioError(
                    f"{path} is larger than {untrusted.MAX_IMAGE_BYTES // 2**20} MB; no image the "
                    "studio stores is. Export it again."
                )
            return path.read_bytes()
        except OSError as error:
            raise StudioError(
                f"Cannot read {path} ({type(error).__name__}); export it again."
            ) from None

    try:
        with listing.open(encoding="utf-8") as handle:
            lines = [line for line in handle if line.strip()]
    except FileNotFoundError:
        raise StudioError(
            f"{root} has no sessions.jsonl; it is not a complete folder export."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise StudioError(
            f"Cannot read {listing} ({type(error).__name__}); export it again."
        ) from None
    found = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            raise StudioError(f"Line {number} of {listing} is not JSON; export it again.") from None
        if not isinstance(row, dict) or "trajectory" not in row:
            raise StudioError(f"Line {number} of {listing} holds no trajectory; export it again.")
        found.append(
            _carried(f"line {number} of {listing}", row["trajectory"], row.get("judgements"), read)
        )
    return found


def _hf_images(where: str, cells: Any) -> dict[str, bytes]:
    """An hf row's image cells by the hash each names (`<sha256>.png`; a cell naming none goes by
    the hash of its bytes), so bytes that do not match their name are found damaged, not missing."""
    if cells is None:
        return {}
    if not isinstance(cells, list) or not all(
        isinstance(cell, dict) and isinstance(cell.get("bytes"), bytes) for cell in cells
    ):
        raise _refusal(where, "its images are not PNG bytes; export it again.")
    carried = {}
    for cell in cells:
        name = str(cell.get("path") or "").removesuffix(".png")
        carried[name if HEX64.match(name) else hashlib.sha256(cell["bytes"]).hexdigest()] = cell[
            "bytes"
        ]
    return carried


def _hf_sessions(root: Path) -> list[Carried]:
    import pyarrow
    import pyarrow.parquet as pq

    found = []
    for path in sorted((root / "sessions").glob("*.parquet")):
        try:
            table = pq.ParquetFile(path)
            columns = [
                "trajectory",
                "images",
            ]  # an export made without judgements has no such column
            columns += ["judgements"] if "judgements" in table.schema_arrow.names else []
            rows = [
                row
                for batch in table.iter_batches(batch_size=64, columns=columns)
                for row in batch.to_pylist()
            ]
        except (pyarrow.ArrowException, OSError, ValueError, TypeError, KeyError) as error:
            raise StudioError(
                f"{path.name} in this hf export is damaged ({type(error).__name__}); "
                "export it again."
            ) from None
        for number, row in enumerate(rows, 1):
            where = f"row {number} of {path}"
            try:
                data = json.loads(row["trajectory"])
                judged = json.loads(row.get("judgements") or "null")
            except (ValueError, TypeError, RecursionError):
                raise _refusal(
                    where, "its trajectory or judgements are not JSON; export it again."
                ) from None
            found.append(_carried(where, data, judged, _hf_images(where, row["images"]).get))
    return found


def _import_png(store, path: Path, owner: str | None) -> ImportReport:
    data, payload = read_png_file(path)
    return _import_png_payload(store, data, payload, owner)


def import_png_bytes(store, data: bytes, owner: str | None = None) -> ImportReport:
    """Import a final PNG given as its bytes (an upload the page or a client sent), as `import_path`
    imports a PNG file."""
    return _import_png_payload(store, data, trajectory_payload(data, "That PNG"), owner)


def _import_png_payload(
    store, data: bytes, payload: dict[str, Any], owner: str | None
) -> ImportReport:
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
    plan = _plan(
        store,
        [Carried(trajectory, lambda sha: data if sha == final_ref.sha256 else None, [])],
        may_lack_images=True,
    )
    _write(store, plan)
    report.imported.append(session.id)
    if session.id != carried:
        report.copies[session.id] = carried
    report.missing_images.update(plan.missing)
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
    plan = _plan(store, readers[kind](source))
    report = ImportReport(kind, present=plan.present, missing_images=plan.missing)
    report.judgements = _write(store, plan)
    for source_session in plan.new:
        report.imported.append(source_session.trajectory.session.id)
        if progress:
            progress(len(report.session_ids), source_session.trajectory.session.id)
    return report
