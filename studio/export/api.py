"""`export()`: stored sessions → training data on disk, for the CLI, the UI and scripts alike.

The run reads every selected session first (steps and image hashes only: cheap), so it
can de-duplicate across sessions and fail on a missing image before writing anything;
then one writer streams the rows, reading each stored PNG as it goes.
"""

from __future__ import annotations

import os
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import protocol
from . import formats
from .output import MANIFEST, MARKER, ImageSource, check_target, staged, write_json
from .reading import OnProgress, read, subset_counts
from .select import TRAIN, VALIDATION, Selection, Skipped, selection_of

EXPORT_VERSION = 1


@dataclass
class ExportReport:
    format: str
    out_dir: Path
    sessions: int = 0  # sessions that gave at least one branch
    # subset → train/validation/positive/negative
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    # sessions left out for missing image files
    skipped: list[Skipped] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def trajectories(self) -> int:
        return sum(self.counts.get("multi_turn", {}).get(s, 0) for s in (TRAIN, VALIDATION))

    def summary(self) -> str:
        parts = [
            f"{n} {name}"
            for name, n in (
                ("trajectories", self.trajectories),
                (
                    "conflict samples",
                    sum(self.counts.get("conflict", {}).get(s, 0) for s in (TRAIN, VALIDATION)),
                ),
                (
                    "alignment samples",
                    sum(self.counts.get("alignment", {}).get(s, 0) for s in (TRAIN, VALIDATION)),
                ),
            )
        ]
        return (
            f"exported {', '.join(parts)} from {self.sessions} sessions as {self.format} to {self.out_dir} "
            f"in {self.elapsed_s:.2f} s"
        )


def export(
    store,
    format: str,
    out_dir: str | Path,
    *,
    selection: Selection | None = None,
    force: bool = False,
    strict: bool = False,
    progress: OnProgress | None = None,
    _info_root: str | None = None,
    **options: Any,
) -> ExportReport:
    """Export the sessions `selection` takes as `format` into `out_dir` (see README "Export");
    returns what was written. Instead of a `selection`, a script may give `Selection.of`'s keywords:

        export(store, "bagel", "out/", human_reviewed=True, val_fraction=0.0)

    Raises StudioError, naming the fix, for a bad folder, an unknown format or filter value,
    or (with strict) a session whose image files are missing; the folder is then untouched.
    """
    writer = formats.load(format)
    selection = selection_of(selection, options)
    database = [Path(store.url[len("sqlite:///") :])] if store.url.startswith("sqlite:///") else []
    target = check_target(
        out_dir, force, protected=[store.data_dir, *database], inside_refused=[store.images_dir]
    )
    report = ExportReport(format, target)
    started = time.perf_counter()
    tell = progress or (lambda done, total, phase: None)
    images = ImageSource(store)
    # only round-trip formats, and those pairing steps across branches, hold whole trees
    keep_trees = getattr(writer, "WRITES_SESSIONS", False) or getattr(
        writer, "READS_SESSIONS", False
    )
    reading = read(store, selection, images, keep_trees=keep_trees, strict=strict, progress=tell)
    subsets, trees = reading.subsets, reading.trees
    report.sessions, report.skipped, report.duplicates = (
        reading.sessions,
        reading.skipped,
        reading.duplicates,
    )
    report.counts = subset_counts(subsets)

    with staged(target) as root:
        job = formats.ExportJob(root, _info_root or str(target), subsets, trees, images)
        total, done = formats.rows_total(job, format), 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            tell(done, total, "writing")

        job.advance = advance
        report.files = writer.write(job)
        write_json(
            root / MANIFEST,
            {
                "marker": MARKER,
                "version": EXPORT_VERSION,
                "protocol": protocol.VERSION,
                "format": format,
                "filters": selection.describe(),
                "sessions": report.sessions,
                "counts": report.counts,
                "duplicates_dropped": report.duplicates,
                "skipped_sessions": [s.session_id for s in report.skipped],
                "files": report.files,
                **job.notes,
            },
        )
        report.files.append(MANIFEST)
    report.elapsed_s = time.perf_counter() - started
    return report


def _zip(folder: Path, zip_path: Path, top: str) -> None:
    """A zip with sorted entries and fixed times (same export, same bytes); PNG and parquet stored as is."""
    part = zip_path.with_name(zip_path.name + ".part")
    try:
        with zipfile.ZipFile(part, "w") as archive:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(
                    f"{top}/{path.relative_to(folder).as_posix()}", (1980, 1, 1, 0, 0, 0)
                )
                info.compress_type = (
                    zipfile.ZIP_STORED
                    if path.suffix in (".png", ".parquet")
                    else zipfile.ZIP_DEFLATED
                )
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
        os.replace(part, zip_path)
    finally:
        part.unlink(missing_ok=True)


def export_zip(store, format: str, zip_path: str | Path | None = None, **options) -> Path:
    """Export into a zip for download (the studio's Export button); returns the zip's path.

    Without `zip_path` the zip goes to a new temporary file. Inside, everything sits under
    `stroke-studio-<format>/`; BAGEL's parquet_info.json is keyed by that relative folder.
    """
    top = f"stroke-studio-{format}"
    made = zip_path is None
    if made:
        handle, name = tempfile.mkstemp(prefix=f"{top}-", suffix=".zip")
        os.close(handle)
        zip_path = name
    zip_path = Path(zip_path)
    try:
        with tempfile.TemporaryDirectory(prefix="stroke-studio-export-") as work:
            export(store, format, Path(work) / top, _info_root=top, **options)
            _zip(Path(work) / top, zip_path, top)
    except BaseException:
        if made:
            zip_path.unlink(missing_ok=True)
        raise
    return zip_path
