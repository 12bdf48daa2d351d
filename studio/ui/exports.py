"""The export zips the page's Export button writes, and who may download each.

`exports_dir()` is where they wait for their download; `Exports` remembers who made each, so the
export route (`studio.ui.routes`) serves a zip only to the person who made it. The gallery's actions
themselves (list, rename, delete, share, export, import) are `Studio` methods in `studio.ui.actions`.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from ..core.domain import Person


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
