"""People and what they say about images: who acted, who may see a session, ratings and preferences.

Pure data like `studio.core.domain` (which re-exports these names): no torch, gradio or sqlalchemy.
A session belongs to the person who started it and is private to them until shared with the
team; an admin sees everything; with no login at all (the CLI, a studio without auth) there is
no viewer and everything is visible. A session with no owner recorded (owner "", as in a database
or an export made without logins) is owned by nobody and visible to all, so turning logins on
hides nothing anyone could see without them.
"""

from __future__ import annotations

import functools
import getpass
import time
from dataclasses import dataclass, field
from typing import Any

ROLES = ("annotator", "admin")
RATING_VALUES = ("up", "down", "1", "2", "3", "4", "5")  # thumbs, or a 1–5 score
PREFERENCE_CHOICES = ("left", "right", "tie")
JUDGEMENT_KINDS = ("rating", "preference")
MAX_NAME_CHARS = 128  # the width of the name columns in the store


@functools.lru_cache(maxsize=1)
def local_user() -> str:
    """The author when nobody logged in: the operating-system user, or "local" when it has none
    (a container started with an unknown uid has no name)."""
    try:
        name = getpass.getuser().strip()
    # getpass raises KeyError or OSError (by Python version) when the uid has no name
    except Exception:
        name = ""
    return name[:MAX_NAME_CHARS] or "local"


@dataclass(frozen=True)
class Person:
    """Someone logged in: their name is recorded as the author of what they do."""

    name: str
    role: str = "annotator"  # or "admin": sees, shares and exports every session

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def can_see(session: Any, person: Person | None) -> bool:
    """Whether `person` may open `session` (a Session or anything with owner and shared).

    None (no login) sees all; an admin sees all; anyone else their own sessions, shared
    ones, and those with no owner recorded (owner "")."""
    if person is None or person.is_admin:
        return True
    return session.shared or session.owner in ("", person.name)


def may_share(session: Any, person: Person | None) -> bool:
    """Only the owner (or an admin, or anyone on an ownerless or login-less studio) shares or unshares."""
    return person is None or person.is_admin or session.owner in ("", person.name)


@dataclass(frozen=True)
class Judgement:
    """A person's rating of one image step, or their preference between two.

    rating: `value` is "up"/"down" or "1".."5" and `other_step_id` is None; preference:
    `step_id` is the left image, `other_step_id` the right one, `value` "left"/"right"/"tie".
    Two people's judgements of the same thing are both kept (agreement needs both); the
    same person judging it again replaces their own earlier judgement (see `same_subject`).
    """

    id: str
    session_id: str
    kind: str
    step_id: str
    other_step_id: str | None
    value: str
    note: str = ""
    annotator: str = ""
    created_at: float = field(default_factory=time.time)

    def same_subject(self, other: "Judgement") -> bool:
        """The same person judging the same thing: a rating of the same step, or a preference
        between the same two steps in either order."""
        return (self.session_id, self.kind, self.annotator) == (
            other.session_id,
            other.kind,
            other.annotator,
        ) and {self.step_id, self.other_step_id} == {other.step_id, other.other_step_id}

    @property
    def preferred_step_id(self) -> str | None:
        """A preference's winning step (None for a tie or a rating)."""
        if self.kind != "preference" or self.value == "tie":
            return None
        return self.step_id if self.value == "left" else self.other_step_id


def judgement_to_dict(judgement: Judgement) -> dict[str, Any]:
    return dict(judgement.__dict__)


def judgement_from_dict(data: dict[str, Any]) -> Judgement:
    return Judgement(
        id=data["id"],
        session_id=data["session_id"],
        kind=data["kind"],
        step_id=data["step_id"],
        other_step_id=data.get("other_step_id"),
        value=data["value"],
        note=data.get("note", ""),
        annotator=data.get("annotator", ""),
        created_at=float(data["created_at"]),
    )
