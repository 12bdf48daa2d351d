"""The store's queries about one session's tree: its steps and the images they point to.

`studio.store.Store` calls these functions inside the transactions it opens, on the tables of
`studio.store.tables`. Images are rows shared by every session that uses the same PNG, so a step
only registers its images here and a deleted session takes only the files nobody else uses.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from ..core.codec import session_to_dict, step_from_dict, step_to_dict
from ..core.domain import (
    ImageRef,
    Session,
    Step,
    Trajectory,
    now,
)
from .opening import insert_ignoring_duplicates
from .tables import images, judgements, session_from_row, sessions, steps

# -- rows <-> domain objects ------------------------------------------------------------------


def step_row(step: Step) -> dict[str, Any]:
    """The step's row: the codec's form with its image and region mask as their hashes' columns."""
    row = step_to_dict(step)
    image, region = row.pop("image"), row.pop("region")
    row["image_sha256"] = image["sha256"] if image else None
    row["region_sha256"] = region["image"]["sha256"] if region else None
    return row


def step_from_row(row: Any, image_rows: dict[str, ImageRef]) -> Step:
    data = dict(row._mapping)
    image, region = data.pop("image_sha256"), data.pop("region_sha256")
    data["image"] = dataclasses.asdict(image_rows[image]) if image else None
    data["region"] = {"image": dataclasses.asdict(image_rows[region])} if region else None
    return step_from_dict(data)


# -- writes -----------------------------------------------------------------------------------


def insert_images(conn: Connection, step: Step) -> None:
    """Register the step's images; one already known (from any session) is left as it is."""
    for ref in (step.image, step.region.image if step.region else None):
        if ref is not None:
            row = dict(
                sha256=ref.sha256,
                width=ref.width,
                height=ref.height,
                byte_size=ref.byte_size,
                created_at=now(),
            )
            conn.execute(insert_ignoring_duplicates(conn, images).values(**row))


def insert_step(conn: Connection, step: Step) -> None:
    insert_images(conn, step)
    conn.execute(insert(steps).values(**step_row(step)))


def insert_session(conn: Connection, trajectory: Trajectory) -> None:
    """A whole session as given (an import): its row, then every step of its tree, parents first."""
    conn.execute(insert(sessions).values(**session_to_dict(trajectory.session)))
    for step in trajectory.tree_order():
        insert_step(conn, step)


def replace_step(conn: Connection, step: Step) -> None:
    insert_images(conn, step)
    conn.execute(update(steps).where(steps.c.id == step.id).values(**step_row(step)))


def delete_session(conn: Connection, session_id: str) -> set[str]:
    """Delete a session's rows (its judgements, steps, and itself) and the image rows no other
    session uses; returns those images' hashes, whose files the caller removes after the commit."""
    used = set(conn.scalars(select(steps.c.image_sha256).where(steps.c.session_id == session_id)))
    used |= set(conn.scalars(select(steps.c.region_sha256).where(steps.c.session_id == session_id)))
    used.discard(None)
    conn.execute(delete(judgements).where(judgements.c.session_id == session_id))
    conn.execute(delete(steps).where(steps.c.session_id == session_id))
    conn.execute(delete(sessions).where(sessions.c.id == session_id))
    still_used = set(
        conn.scalars(select(steps.c.image_sha256).where(steps.c.image_sha256.in_(used)))
    )
    still_used |= set(
        conn.scalars(select(steps.c.region_sha256).where(steps.c.region_sha256.in_(used)))
    )
    orphans = used - still_used
    if orphans:
        conn.execute(delete(images).where(images.c.sha256.in_(orphans)))
    return orphans


# -- reads ------------------------------------------------------------------------------------


def load(conn: Connection, session_id: str) -> Trajectory:
    """A session with every step of its tree, in two queries."""
    session: Session = session_from_row(
        conn.execute(select(sessions).where(sessions.c.id == session_id)).one()
    )
    image_rows = {
        r.sha256: ImageRef(r.sha256, r.width, r.height, r.byte_size)
        for r in conn.execute(
            select(images).where(
                or_(
                    images.c.sha256.in_(
                        select(steps.c.image_sha256).where(steps.c.session_id == session_id)
                    ),
                    images.c.sha256.in_(
                        select(steps.c.region_sha256).where(steps.c.session_id == session_id)
                    ),
                )
            )
        )
    }
    rows = conn.execute(
        select(steps).where(steps.c.session_id == session_id).order_by(steps.c.created_at)
    )
    return Trajectory.of(session, [step_from_row(row, image_rows) for row in rows])


def taken_step_ids(conn: Connection, step_ids: list[str]) -> set[str]:
    """Those of `step_ids` some session here already uses (asked 500 at a time)."""
    taken: set[str] = set()
    for start in range(0, len(step_ids), 500):
        chunk = step_ids[start : start + 500]
        taken |= set(conn.scalars(select(steps.c.id).where(steps.c.id.in_(chunk))))
    return taken


def known_images(conn: Connection, hashes: list[str]) -> set[str]:
    """Those of `hashes` the images table holds, for any session (asked 500 at a time)."""
    known: set[str] = set()
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        known |= set(conn.scalars(select(images.c.sha256).where(images.c.sha256.in_(chunk))))
    return known
