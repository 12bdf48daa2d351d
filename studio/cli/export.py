"""`studio export` and `studio import`, registered on the root app by `register(app)`.

Only the command bodies import the exporters (and through them pyarrow), so adding
these commands costs the light commands nothing. No `from __future__ import annotations`:
typer reads the option types at registration, from this function's locals.
"""

import enum
import json
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from ..export.formats import FORMATS

# The choices of --format: the export registry's names (studio/export/formats), listed nowhere else.
Format = enum.Enum("Format", {name.replace("-", "_"): name for name in FORMATS}, type=str)


def register(app: typer.Typer) -> None:
    from ..core import limits
    from .common import (
        DataOption,
        DbOption,
        JsonOption,
        err,
        open_store,
        out,
        print_json,
        progress_bar,
        safe,
    )

    @app.command("export")
    def export_command(
        format: Annotated[
            Optional[Format], typer.Option("--format", help=" | ".join(f.value for f in Format))
        ] = None,
        out_dir: Annotated[
            Optional[Path],
            typer.Option(
                "--out", help="A new or empty folder (or an earlier export, with --force)."
            ),
        ] = None,
        session: Annotated[
            Optional[List[str]],
            typer.Option("--session", help="Only this session (repeatable; id or prefix)."),
        ] = None,
        since: Annotated[
            Optional[str],
            typer.Option(help="Sessions created on or after, e.g. 2026-11-27 (local time)."),
        ] = None,
        until: Annotated[
            Optional[str],
            typer.Option(help="Sessions created on or before (a bare date: the whole day)."),
        ] = None,
        engine: Annotated[
            Optional[str], typer.Option(help="Only sessions run with this engine.")
        ] = None,
        human_reviewed: Annotated[
            bool,
            typer.Option(
                "--human-reviewed",
                help="Only branches a person edited, overrode, reviewed or refined.",
            ),
        ] = False,
        accepted_only: Annotated[
            bool,
            typer.Option(
                "--accepted-only",
                help="Only finished branches whose final image a person accepted.",
            ),
        ] = False,
        all_branches: Annotated[
            bool,
            typer.Option(
                "--all-branches", help="Every branch of each session, not just the head's."
            ),
        ] = False,
        val_fraction: Annotated[
            float, typer.Option("--val-fraction", help="Share of sessions in the validation split.")
        ] = 0.1,
        force: Annotated[
            bool, typer.Option("--force", help="Replace an earlier export in --out.")
        ] = False,
        strict: Annotated[
            bool,
            typer.Option(
                "--strict",
                help="Fail on a session with missing image files instead of skipping it.",
            ),
        ] = False,
        stats: Annotated[
            bool,
            typer.Option(
                "--stats",
                help="Print counts per subset and per annotator, and agreement (Cohen's kappa); "
                "without --format/--out, only that.",
            ),
        ] = False,
        db: DbOption = None,
        data_dir: DataOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Export sessions as training data (the paper's three subsets, preference pairs) into a folder."""
        from ..export import export
        from ..export.select import Selection

        out_dir = _target(format, out_dir, stats)
        session = [limits.session_id(s) for s in session or ()]
        engine = None if engine is None else limits.text(engine, "engine name", max_chars=64)
        val_fraction = limits.fraction(val_fraction, "--val-fraction")

        bar = progress_bar()
        task = bar.add_task("reading", total=None)

        def progress(done: int, total: int, phase: str) -> None:
            bar.update(task, description=phase, completed=done, total=total)

        store = open_store(db, data_dir)
        selection = Selection.of(
            sessions=session or (),
            since=since,
            until=until,
            engine=engine,
            human_reviewed=human_reviewed,
            accepted_only=accepted_only,
            all_branches=all_branches,
            val_fraction=val_fraction,
        )
        if out_dir is None:
            _print_stats(store, selection, as_json, out)
            return
        with bar:
            report = export(
                store,
                format.value,
                out_dir,
                selection=selection,
                force=force,
                strict=strict,
                progress=progress,
            )
        for skipped in report.skipped:
            err.print(
                f"skipped session {skipped.session_id}: {len(skipped.images)} image file(s) missing "
                "(pass --strict to fail instead)",
                highlight=False,
            )
        if as_json:
            print_json(
                json.dumps(
                    {
                        "format": report.format,
                        "out": str(report.out_dir),
                        "sessions": report.sessions,
                        "counts": report.counts,
                        "duplicates": report.duplicates,
                        "files": report.files,
                        "skipped": [s.session_id for s in report.skipped],
                        "elapsed_s": report.elapsed_s,
                        **({"stats": _stats(store, selection)} if stats else {}),
                    }
                )
            )
            return
        out.print(safe(report.summary()), highlight=False)
        if stats:
            _print_stats(store, selection, as_json, out)

    @app.command("import")
    def import_command(
        path: Annotated[
            Path,
            typer.Argument(
                help="A folder or hf export folder, or a final PNG saved by the studio."
            ),
        ],
        db: DbOption = None,
        data_dir: DataOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Import sessions from a folder/hf export, or reopen the session a final PNG carries."""
        from ..export import import_path

        report = import_path(open_store(db, data_dir), path)
        if as_json:
            print_json(
                json.dumps(
                    {
                        "source": report.source,
                        "imported": report.imported,
                        "copies": report.copies,
                        "present": report.present,
                        "missing_images": report.missing_images,
                        "judgements": report.judgements,
                    }
                )
            )
            return
        for session_id in report.imported:
            carried = report.copies.get(session_id)
            copy = f" (a copy: session {carried} here holds other content)" if carried else ""
            out.print(f"imported {session_id}{copy}", highlight=False)
        for session_id in report.present:
            out.print(f"already here {session_id}", highlight=False)
        if report.judgements:
            out.print(f"{report.judgements} ratings and preferences added", highlight=False)
        for session_id, count in report.missing_images.items():
            err.print(
                f"session {session_id}: {count} earlier image(s) are not in {safe(path)}; import an "
                "export that has them to see every step",
                highlight=False,
            )
        if report.source == "png" and report.session_ids:
            out.print(
                f"session {report.session_ids[0]} is open: studio show {report.session_ids[0]}",
                highlight=False,
            )


def _target(format, out_dir, stats: bool):
    """The checked --out folder, or None for `--stats` alone; one line naming what to pass otherwise."""
    from ..core import limits
    from ..core.domain import StudioError

    if format is not None and out_dir is not None:
        return limits.out_dir(out_dir)
    if stats and format is None and out_dir is None:
        return None
    raise StudioError("Pass --format and --out to export (or --stats alone for the counts).")


def _stats(store, selection) -> dict:
    """`--stats`: the counts and agreement of the sessions `selection` takes (studio/export/stats.py)."""
    from ..export.stats import compute

    return compute(store, selection)


def _print_stats(store, selection, as_json: bool, out) -> None:
    from ..export.stats import render
    from .common import print_json, safe

    result = _stats(store, selection)
    if as_json:
        print_json(json.dumps({"stats": result}))
    else:
        for line in render(result):
            out.print(safe(line), highlight=False)
