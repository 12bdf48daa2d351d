"""The store: sessions and steps in SQL (SQLAlchemy 2), images as content-addressed PNGs.

`Store` is the one face the rest of the studio uses. Every write is one short transaction that
ends before any model runs. Each write bumps the session's `version` and checks the version the
writer last saw, so two tabs (or processes) on one session never silently overwrite each other.

The Store opens the database (`opening`), builds or upgrades its schema (`tables`, through
`migrations/`), and runs its queries in `steps` (a session's tree) and `queries` (sessions as a
whole, batches, judgements) inside the transactions it begins. The default database is SQLite in
WAL mode with a busy timeout; any SQLAlchemy URL works (`--db` or `STROKE_STUDIO_DB`).

Example::

    store = Store("sqlite:///sessions/studio.db")
    store.create_session(session)
    trajectory = store.load(session.id[:8])  # a unique prefix of 4 or more characters will do
    store.close()
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..core.codec import session_to_dict
from ..core.domain import (
    Conflict,
    ImageRef,
    Judgement,
    Person,
    Session,
    Step,
    StudioError,
    Trajectory,
    now,
)
from ..core.files import load_png, png_path, save_png
from . import opening
from . import queries as store_queries
from . import steps as store_steps
from .tables import KNOWN_REVISIONS, session_from_row, sessions, steps

DEFAULT_DATA_DIR = Path("sessions")
DB_ENV = "STROKE_STUDIO_DB"
DATA_ENV = "STROKE_STUDIO_DATA"


class Store:
    """Opens (creating or migrating) a database and the image folder beside it."""

    def __init__(self, url: str | None = None, data_dir: str | Path | None = None):
        url = url or os.environ.get(DB_ENV)
        data_dir = data_dir or os.environ.get(DATA_ENV)
        parsed = opening.parse_url(url) if url else None
        sqlite_file = opening.sqlite_file(parsed) if parsed else None
        if data_dir is None:
            data_dir = sqlite_file.parent if sqlite_file else DEFAULT_DATA_DIR
        self.data_dir = Path(data_dir)
        self.images_dir = self.data_dir / "images"
        if parsed is None:
            sqlite_file = self.data_dir / "studio.db"
            parsed = opening.parse_url(f"sqlite:///{sqlite_file}")
        # Everything that could refuse the database runs before anything is created or switched to WAL.
        if sqlite_file is not None:
            opening.check_sqlite_file(sqlite_file, KNOWN_REVISIONS)
        opening.ensure_writable(self.images_dir, DATA_ENV)
        self.url = parsed.render_as_string(hide_password=False)
        self.shown_url = parsed.render_as_string(hide_password=True)  # for messages: no password
        self.db = opening.make_db(self.url)
        # The same database on connections that begin with a plain BEGIN: a read never waits for writers.
        self.readonly_db = self.db.execution_options(readonly=True)
        self._migrate()

    def close(self) -> None:
        self.db.dispose()

    # -- schema ------------------------------------------------------------------------------

    def _migrate(self) -> None:
        opening.migrate(self.db, self.readonly_db, self.shown_url, KNOWN_REVISIONS)

    # -- images: content-addressed PNG files (studio/core/files.py) --------------------------------

    def image_path(self, sha256: str) -> Path:
        return png_path(self.images_dir, sha256)

    def save_image(self, image: Any) -> ImageRef:
        """Encode a PIL image (or take PNG bytes) and write it once, atomically, by its sha256; a full
        disk is one StudioError line (a half-written file is removed by `write_atomic`)."""
        try:
            return save_png(self.images_dir, image)
        except OSError as error:
            if opening.disk_full(error, None):
                raise StudioError(opening.full_disk_message()) from None
            raise

    def load_image(self, ref: ImageRef):
        return load_png(self.images_dir, ref)

    # -- writes ------------------------------------------------------------------------------

    def create_session(self, session: Session) -> None:
        with self.db.begin() as conn:
            conn.execute(insert(sessions).values(**session_to_dict(session)))

    def insert_trajectory(
        self, trajectory: Trajectory, judgements: Iterable[Judgement] = ()
    ) -> bool:
        """Insert a whole session exactly as given, with its ratings and preferences, in one
        transaction; False when it is already here.

        Its image files must already be in the store (`save_image`).
        """
        if self.has_session(trajectory.session.id):
            return False
        self.insert_trajectories([(trajectory, list(judgements))])
        return True

    def insert_trajectories(
        self,
        items: Sequence[tuple[Trajectory, Sequence[Judgement]]],
        merged: Iterable[Judgement] = (),
    ) -> int:
        """An import's writes in one transaction: whole sessions exactly as given, with their ratings
        and preferences, and the judgements it adds to sessions already here (`merged`). All of it
        is written or, on any error, none. Returns how many judgements were written.

        StudioError when a session is here already (imported meanwhile by another process) or a
        step or judgement id is taken. The image files must already be in the store (`save_image`).
        """
        session_id = ""
        try:
            with self.db.begin() as conn:
                written = 0
                for trajectory, judged in items:
                    session_id = trajectory.session.id
                    if conn.execute(
                        select(sessions.c.id).where(sessions.c.id == session_id)
                    ).first():
                        raise StudioError(
                            f"Session {session_id} was imported here meanwhile (by another process); "
                            "nothing was imported. Import again to add the rest."
                        )
                    store_steps.insert_session(conn, trajectory)
                    written += store_queries.merge_judgements(conn, list(judged))
                session_id = ""
                written += store_queries.merge_judgements(conn, list(merged))
        except IntegrityError:
            which = f"Session {session_id}" if session_id else "The import"
            raise StudioError(
                f"{which} does not fit this database (a step or judgement id is taken); nothing "
                "was imported. Import it into a fresh database."
            ) from None
        return written

    def commit(
        self,
        session: Session,
        *,
        add: Step | None = None,
        replace: Step | None = None,
        head_id: str | None = None,
        **session_fields: Any,
    ) -> Session:
        """One transaction: insert or update a step, move the head, set plain session columns
        (`session_fields`, e.g. title), bump the version.

        Raises Conflict when the session changed since `session.version` was read.
        Returns the session as it now is in the database.
        """
        changes = dict(session_fields, version=session.version + 1, updated_at=now())
        if head_id is not None:
            changes["head_id"] = head_id
        with self.db.begin() as conn:
            result = conn.execute(
                update(sessions)
                .where(sessions.c.id == session.id, sessions.c.version == session.version)
                .values(**changes)
            )
            if result.rowcount != 1:
                raise Conflict(
                    f"Session {session.id[:8]} was changed elsewhere (another tab or process) since you "
                    "loaded it. Reload it to see the change, then try again."
                )
            if add is not None:
                store_steps.insert_step(conn, add)
            if replace is not None:
                store_steps.replace_step(conn, replace)
        return dataclasses.replace(session, **changes)

    def delete_session(self, session_id: str) -> None:
        """Delete a session, its steps, and image files no other session uses."""
        session_id = self.resolve_id(session_id)
        with self.db.begin() as conn:
            orphans = store_steps.delete_session(conn, session_id)
        for digest in orphans:
            self.image_path(digest).unlink(missing_ok=True)

    # -- reads -------------------------------------------------------------------------------

    def resolve_id(self, session_id: str, viewer: Person | None = None) -> str:
        """A full id, or a unique prefix of at least 4 characters (like git).

        With a `viewer`, sessions they may not see do not exist: same message, and a prefix is never
        "ambiguous" because of someone else's private session."""
        with self.readonly_db.connect() as conn:
            return store_queries.resolve_id(conn, session_id, viewer)

    def taken_step_ids(self, step_ids: list[str]) -> set[str]:
        """Those of `step_ids` some session here already uses."""
        with self.readonly_db.connect() as conn:
            return store_steps.taken_step_ids(conn, step_ids)

    def known_images(self, hashes: Iterable[str]) -> set[str]:
        """Those of `hashes` some session here holds (a row in the images table, file or not)."""
        with self.readonly_db.connect() as conn:
            return store_steps.known_images(conn, list(hashes))

    def has_session(self, session_id: str) -> bool:
        with self.readonly_db.connect() as conn:
            return (
                conn.execute(select(sessions.c.id).where(sessions.c.id == session_id)).first()
                is not None
            )

    def session(self, session_id: str) -> Session:
        session_id = self.resolve_id(session_id)
        with self.readonly_db.connect() as conn:
            return session_from_row(
                conn.execute(select(sessions).where(sessions.c.id == session_id)).one()
            )

    def load(self, session_id: str, viewer: Person | None = None) -> Trajectory:
        """A session with every step of its tree, in two queries; `session_id` as `resolve_id` takes
        it (a prefix; with a `viewer`, one they may not see reads like an unknown id)."""
        session_id = self.resolve_id(session_id, viewer)
        with self.readonly_db.connect() as conn:
            return store_steps.load(conn, session_id)

    def list_sessions(
        self,
        search: str | None = None,
        tag: str | None = None,
        limit: int = 100,
        offset: int = 0,
        viewer: Person | None = None,
    ) -> list[Session]:
        """Newest first; `search` matches prompt or title text, case-insensitively; with a `viewer`, only
        the sessions they may see (`domain.can_see`)."""
        with self.readonly_db.connect() as conn:
            return store_queries.list_sessions(conn, search, tag, viewer, limit, offset)

    def list_batches(self, viewer: Person | None = None) -> list[str]:
        """The names of the batches this store holds, newest first (for the gallery's filter)."""
        with self.readonly_db.connect() as conn:
            return store_queries.list_batches(conn, viewer)

    def image_visible(self, sha256: str, viewer: Person | None = None) -> bool:
        """Whether a session `viewer` may see holds this image (as a step's image or painted region);
        without a viewer, whether any session holds it. What the page's image route serves by."""
        with self.readonly_db.connect() as conn:
            return store_queries.image_visible(conn, sha256, viewer)

    def count_sessions(self, search: str | None = None, viewer: Person | None = None) -> int:
        """How many sessions `list_sessions(search, viewer=viewer)` would give without a limit."""
        with self.readonly_db.connect() as conn:
            return store_queries.count_sessions(conn, search, viewer)

    def count_steps(self, session_id: str) -> int:
        with self.readonly_db.connect() as conn:
            return (
                conn.scalar(
                    select(func.count()).select_from(steps).where(steps.c.session_id == session_id)
                )
                or 0
            )

    # -- judgements (ratings and preferences) -----------------------------------------------------

    def add_judgement(self, judgement: Judgement) -> None:
        """Keep a judgement; it replaces only the same annotator's earlier one on the same subject."""
        with self.db.begin() as conn:
            store_queries.add_judgement(conn, judgement)

    def merge_judgements(self, items: Iterable[Judgement]) -> int:
        """Judgements an import carries for sessions already here (see `queries.merge_judgements`);
        returns how many were written."""
        with self.db.begin() as conn:
            return store_queries.merge_judgements(conn, list(items))

    def judgements(
        self, session_id: str | None = None, *, kind: str | None = None
    ) -> list[Judgement]:
        """A session's judgements (None: every session's, for exports), oldest first; `kind`: "rating" or
        "preference" only."""
        with self.readonly_db.connect() as conn:
            return store_queries.list_judgements(conn, session_id, kind)
