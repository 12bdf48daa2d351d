"""The store's queries about sessions as a whole and about people: finding, listing and counting
sessions (id prefix, search, tag, who may see them), the batches' names, and the judgements table
(ratings and preferences).

`studio.store.Store` calls these functions, on the tables of `studio.store.tables`. Every filter
is SQL, applied before LIMIT, so a page of sessions is never short because rows were dropped
afterwards, and a session someone may not see is never read at all.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import String, and_, cast, delete, func, insert, or_, select
from sqlalchemy.engine import Connection

from ..core.domain import Judgement, Person, Session, StudioError
from .tables import batches, judgements, session_from_row, sessions, steps

# -- sessions ---------------------------------------------------------------------------------


def searched(query, search: str | None):
    """Sessions whose prompt or title contains `search`, case-insensitively; % and _ match themselves."""
    if not search or not search.strip():
        return query
    term = search.strip().lower()
    return query.where(
        or_(
            func.lower(sessions.c.prompt).contains(term, autoescape=True),
            func.lower(sessions.c.title).contains(term, autoescape=True),
        )
    )


def with_tag(query, tag: str | None):
    """Sessions carrying `tag`, filtered in SQL (before any LIMIT): the tags column holds a JSON list of
    strings, so the tag appears in its text exactly as JSON writes it, quotes included."""
    if tag is None:
        return query
    return query.where(cast(sessions.c.tags, String).contains(json.dumps(tag), autoescape=True))


def visible_to(query, viewer: Person | None):
    """Sessions `viewer` may see — `domain.can_see` as SQL: without a viewer or for an admin all of
    them; else their own, the shared ones and the ownerless ones from before owners were recorded."""
    if viewer is None or viewer.is_admin:
        return query
    return query.where(or_(sessions.c.shared.is_(True), sessions.c.owner.in_(("", viewer.name))))


def resolve_id(conn: Connection, session_id: str, viewer: Person | None) -> str:
    """See `Store.resolve_id`."""
    text = (session_id or "").strip().lower()
    if conn.execute(visible_to(select(sessions.c.id).where(sessions.c.id == text), viewer)).first():
        return text
    prefixed = visible_to(
        select(sessions.c.id).where(sessions.c.id.startswith(text, autoescape=True)), viewer
    )
    matches = [] if len(text) < 4 else list(conn.scalars(prefixed.limit(2)))
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise StudioError(f"Session id {session_id!r} is ambiguous; give more characters.")
    raise StudioError(  # the same words for a deleted id, a typo and someone else's private session
        f"No session {session_id!r} here: open one under Sessions in the studio, or list them with "
        "`studio sessions`."
    )


def list_sessions(
    conn: Connection,
    search: str | None,
    tag: str | None,
    viewer: Person | None,
    limit: int,
    offset: int,
) -> list[Session]:
    query = visible_to(with_tag(searched(select(sessions), search), tag), viewer)
    query = query.order_by(sessions.c.updated_at.desc(), sessions.c.id).limit(limit).offset(offset)
    return [session_from_row(row) for row in conn.execute(query)]


def count_sessions(conn: Connection, search: str | None, viewer: Person | None) -> int:
    return conn.scalar(
        visible_to(searched(select(func.count()).select_from(sessions), search), viewer)
    )


def image_visible(conn: Connection, sha256: str, viewer: Person | None) -> bool:
    """See `Store.image_visible`."""
    holders = select(steps.c.session_id).where(
        or_(steps.c.image_sha256 == sha256, steps.c.region_sha256 == sha256)
    )
    query = visible_to(select(sessions.c.id).where(sessions.c.id.in_(holders)), viewer)
    return conn.execute(query.limit(1)).first() is not None


def list_batches(conn: Connection, viewer: Person | None) -> list[str]:
    """Batch names, newest first; a person who is not an admin gets only those of batches with a
    session they may see (another's private batch is not theirs to know of, nor to pick and find empty)."""
    names = [
        row.name
        for row in conn.execute(select(batches.c.name).order_by(batches.c.created_at.desc()))
    ]
    if viewer is None or viewer.is_admin:
        return names
    batch_tags = cast(sessions.c.tags, String).contains('"batch:', autoescape=True)
    seen = {
        tag.removeprefix("batch:")
        for tags in conn.scalars(visible_to(select(sessions.c.tags).where(batch_tags), viewer))
        for tag in tags
        if tag.startswith("batch:")
    }
    return [name for name in names if name in seen]


# -- judgements -------------------------------------------------------------------------------


def _row(judgement: Judgement) -> dict[str, Any]:
    return {name: getattr(judgement, name) for name in judgements.c.keys()}


def _judgement(row: Any) -> Judgement:
    return Judgement(**row._mapping)


def add_judgement(conn: Connection, judgement: Judgement) -> None:
    """Insert a judgement, replacing the same person's earlier one on the same subject (a rating of the
    same step; a preference between the same two steps, in either order). Other people's stay.

    The session's row is locked first (FOR UPDATE on PostgreSQL; SQLite's writers already queue on
    BEGIN IMMEDIATE), so two saves of the same judgement at once still leave exactly one."""
    conn.execute(
        select(sessions.c.id).where(sessions.c.id == judgement.session_id).with_for_update()
    )
    conn.execute(delete(judgements).where(_same_subject(judgement)))
    conn.execute(insert(judgements).values(**_row(judgement)))


def _same_subject(judgement: Judgement):
    """`Judgement.same_subject` as SQL: the same person's judgement of the same kind of the same
    step (a rating) or the same two steps in either order (a preference), in the same session."""
    pair = {judgement.step_id, judgement.other_step_id} - {None}
    same = and_(
        judgements.c.session_id == judgement.session_id,
        judgements.c.kind == judgement.kind,
        judgements.c.annotator == judgement.annotator,
        judgements.c.step_id.in_(pair),
    )
    if judgement.other_step_id is None:
        return and_(same, judgements.c.other_step_id.is_(None))
    return and_(same, judgements.c.other_step_id.in_(pair))


def merge_judgements(conn: Connection, items: list[Judgement]) -> int:
    """Judgements from an import; returns how many were written. One already here (by id) is left as
    it is, so importing twice keeps one copy; of the same person's judgements of the same subject
    the latest (by created_at) stays, so an import never brings back a judgement its author has
    since replaced. An id another session uses here is refused (StudioError; the caller's
    transaction then writes nothing)."""
    written = 0
    for judgement in sorted(items, key=lambda j: (j.created_at, j.id)):
        conn.execute(
            select(sessions.c.id).where(sessions.c.id == judgement.session_id).with_for_update()
        )
        holder = conn.scalar(select(judgements.c.session_id).where(judgements.c.id == judgement.id))
        if holder is not None and holder != judgement.session_id:
            raise StudioError(
                f"Session {judgement.session_id} carries a judgement whose id another session here "
                "uses; nothing was imported."
            )
        same = _same_subject(judgement)
        newer = select(judgements.c.id).where(same, judgements.c.created_at >= judgement.created_at)
        if holder is not None or conn.execute(newer).first() is not None:
            continue
        conn.execute(delete(judgements).where(same))
        conn.execute(insert(judgements).values(**_row(judgement)))
        written += 1
    return written


def list_judgements(conn: Connection, session_id: str | None, kind: str | None) -> list[Judgement]:
    """Oldest first (id breaks ties, so two runs list them in the same order)."""
    query = select(judgements)
    if session_id is not None:
        query = query.where(judgements.c.session_id == session_id)
    if kind is not None:
        query = query.where(judgements.c.kind == kind)
    return [
        _judgement(row)
        for row in conn.execute(query.order_by(judgements.c.created_at, judgements.c.id))
    ]
