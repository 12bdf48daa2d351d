"""The session-level actions of the studio: the gallery, rename, delete, share, export and import.

A mixin of `actions.Studio` (it uses the studio's runner, store, person and `_open`/`_act`/`view`);
who may see, share or delete a session is the domain's rule (`can_see`, `may_share`), applied here
to the person the studio acts for.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterable

from ..core import limits
from ..core.domain import Person, StudioError, can_see, may_share
from ..export import FORMATS as EXPORT_FORMATS
from . import board
from .board import View
from .inputs import flag
from .uploads import check_upload, private_copy


def exports_dir() -> Path:
    """Where export zips wait for their download (served by `studio.ui.routes` to the person who made
    each; never an upload, though it lies in Gradio's folder when GRADIO_TEMP_DIR is set)."""
    folder = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Exports:
    """The zips this server wrote, by file name, and who made each (None: nobody was logged in): the
    export route serves a zip only to the person who made it. The newest MAX are remembered."""

    MAX = 1000

    def __init__(self) -> None:
        self._made: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def made(self, name: str, person: Person | None) -> None:
        with self._lock:
            self._made[name] = person.name if person is not None else None
            while len(self._made) > self.MAX:
                del self._made[next(iter(self._made))]

    def path_for(self, name: str, login: str | None) -> Path | None:
        """The zip `name` for a viewer logged in as `login` (None without logins), or None."""
        with self._lock:
            if name not in self._made or self._made[name] != login:
                return None
        path = exports_dir() / name
        return path if path.is_file() else None


class Gallery:
    """Actions on whole sessions (a mixin of `actions.Studio`)."""

    exports: Exports

    def list_sessions(
        self, search: str = "", batch: str = "", limit: Any = 60
    ) -> list[dict[str, Any]]:
        """Gallery cards, newest first: thumbnail, title, prompt, engine, dates, rounds, status; optionally
        only the sessions of one batch (`studio batch`); at most `limit` (1 … limits.MAX_LIST_LIMIT)."""
        tag = f"batch:{limits.batch_name(batch)}" if batch else None
        found = self.store.list_sessions(
            search=limits.search(search),
            tag=tag,
            limit=limits.limit(limit, "number of sessions to list"),
            viewer=self.person,
        )
        cards = []
        for session in found:
            trajectory = self.runner.open(session.id)
            branch = trajectory.branch() if session.head_id else []
            shown = next((s for s in reversed(branch) if s.image is not None), None)
            cards.append(
                {
                    "id": session.id,
                    "title": session.title,
                    "prompt": session.prompt,
                    "engine": session.engine,
                    "owner": session.owner,
                    "shared": session.shared,
                    "created": session.created_at,
                    "updated": session.updated_at,
                    "thumb": board.image_url(shown.image.sha256) if shown else None,
                    **board.status(trajectory),
                }
            )
        return cards

    def list_batches(self) -> list[str]:
        """Batch names, for the gallery's filter."""
        return self.store.list_batches(viewer=self.person)

    def rename(self, session_id: str, version: Any, title: str, have: Iterable[str] = ()) -> View:
        def action(trajectory):
            self.runner.rename(trajectory, limits.title(title), by=self.by)
            # FSI…PDI: an override inside the title cannot reverse the note's own words on the page
            return f"renamed to “\u2068{trajectory.session.title}\u2069”", None

        return self._act(session_id, version, have, action)

    def delete(self, session_id: str) -> View:
        session = self._open(session_id, None).session
        if not may_share(session, self.person):  # the same people may share and delete
            raise StudioError(
                f"Only {session.owner} (the owner) or an admin can delete this session."
            )
        full_id = session.id
        if self.activity.running(full_id):
            raise StudioError("That session is running; press Stop before deleting it.")
        self.store.delete_session(full_id)
        return View(note=f"deleted session {full_id[:8]}", full=False)

    def export(self, session_id: str, format: str, scope: str = "this session") -> dict[str, Any]:
        """A zip of the chosen format for download, and what went into it: its download URL
        (`/studio/export/<name>`, for the person who made it), never its place on the server."""
        return self.export_zip(session_id, format, scope)[1]

    def export_zip(
        self, session_id: str, format: str, scope: str = "this session"
    ) -> tuple[Path, dict[str, Any]]:
        """The zip written in exports_dir() and the report `export` answers with."""
        import zipfile

        from ..export import export_zip

        if format not in EXPORT_FORMATS:
            raise StudioError(f"Export formats: {', '.join(EXPORT_FORMATS)}.")
        if scope not in ("this session", "all sessions"):
            raise StudioError("Export scope is 'this session' or 'all sessions'.")
        sessions: list[str] = []  # none named: every session (the local user, or an admin)
        if scope == "this session":
            if not (session_id or "").strip():
                raise StudioError("No session is chosen; open one, or export all sessions.")
            sessions = [self._open(session_id, None).session.id]
        elif (
            self.person is not None and self.person.role != "admin"
        ):  # an annotator exports their own work
            sessions = [
                s.id
                for s in self.store.list_sessions(limit=limits.MAX_LIST_LIMIT, viewer=self.person)
                if s.owner == self.person.name
            ]
            if not sessions:
                raise StudioError("You own no sessions yet; an admin can export everyone's.")
        folder = exports_dir()
        handle, name = tempfile.mkstemp(
            dir=folder, prefix=f"stroke-studio-{format}-", suffix=".zip"
        )
        os.close(handle)
        path = export_zip(self.store, format, name, sessions=sessions)
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir()]
        subsets = {}
        for entry in names:
            parts = entry.split("/")
            key = parts[1] if len(parts) > 2 else "(top)"
            subsets[key] = subsets.get(key, 0) + 1
        self.exports.made(path.name, self.person)
        return path, {
            "name": path.name,
            "url": f"/studio/export/{path.name}",
            "files": len(names),
            "bytes": path.stat().st_size,
            "subsets": subsets,
            "scope": scope,
            "format": format,
            "note": f"exported {len(names)} files ({path.stat().st_size / 1024:.0f} KB) as {format}",
        }

    def import_png(self, source: str | Path | bytes) -> View:
        """A final PNG dropped on the page reopens the session it carries. From a browser or a client
        `source` is always the upload's bytes (`uploads.read_upload`); a path is for the studio's own
        callers, never one a caller named."""
        from ..export import import_path

        check_upload(source)
        owner = self.person.name if self.person else None
        if isinstance(source, bytes):
            with private_copy(source) as folder:
                report = import_path(self.store, Path(folder) / "upload.png", owner=owner)
        else:
            report = import_path(self.store, source, owner=owner)
        trajectory = self.runner.open(report.session_ids[0])
        if not can_see(trajectory.session, self.person):  # the PNG's own session, here already
            raise StudioError(
                f"This PNG's session is here already, private to {trajectory.session.owner}; "
                "ask them to share it with the team."
            )
        return self.view(trajectory, "reopened from the PNG")

    def share(self, session_id: str, version: Any, shared: Any, have: Iterable[str] = ()) -> View:
        """Share a session with the team, or make it private to its owner again."""

        def action(trajectory):
            on = flag(shared, "Share is true (the team sees it) or false (only its owner does).")
            if on is None:
                raise StudioError(
                    "Share is true (the team sees it) or false (only its owner does)."
                )
            self.runner.share(trajectory, on, by=self.by)
            return ("shared with the team" if on else "private: only you (and admins) see it"), None

        return self._act(session_id, version, have, action)
