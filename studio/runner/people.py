"""The runner's actions about people: sharing a session, rating an image, preferring one of two.

Mixed into `studio.runner.Runner` (which owns every human action); these use its store and its
`_step` lookup. A judgement is a row of its own, not part of the session's tree: it never bumps the
session's version, so rating in one tab never makes another tab's next edit a conflict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import limits
from ..core.domain import (
    Judgement,
    Person,
    Stage,
    Step,
    StudioError,
    Trajectory,
    local_user,
    may_share,
    new_id,
)

if TYPE_CHECKING:
    from ..store import Store


class PeopleActions:
    """Runner methods; they need the Runner's `store` and its `_step(trajectory, step_id, *stages)`."""

    store: Store

    def share(self, trajectory: Trajectory, shared: bool, by: str | Person | None = None) -> None:
        """Share a session with the team (every login may open it) or make it private to its owner again.

        Only the owner may; an admin (pass a Person with role "admin") may too."""
        person = by if isinstance(by, Person) else Person(author_name(by))
        if by is not None and not may_share(trajectory.session, person):
            raise StudioError("Only the owner can share this session (or make it private).")
        trajectory.session = self.store.commit(trajectory.session, shared=bool(shared))

    def rate(
        self,
        trajectory: Trajectory,
        step_id: str,
        value: str,
        note: str = "",
        by: str | Person | None = None,
    ) -> Judgement:
        """Rate a sketch, refine or final image: "up"/"down" or "1".."5", with an optional note. Rating it
        again replaces your own earlier rating; someone else's rating of it stays beside yours."""
        step = self._image_step(trajectory, step_id)
        return self._judge(trajectory, "rating", step.id, None, limits.rating(value), note, by)

    def prefer(
        self,
        trajectory: Trajectory,
        left_step_id: str,
        right_step_id: str,
        choice: str,
        note: str = "",
        by: str | Person | None = None,
    ) -> Judgement:
        """Say which of two images of this session is better ("left", "right" or "tie"): the finals of two
        branches, or any two aligned rounds in Compare branches."""
        left, right = (
            self._image_step(trajectory, left_step_id),
            self._image_step(trajectory, right_step_id),
        )
        if left.id == right.id:
            raise StudioError("Both sides are the same image; pick two different steps to compare.")
        return self._judge(
            trajectory, "preference", left.id, right.id, limits.preference(choice), note, by
        )

    def _image_step(self, trajectory: Trajectory, step_id: str) -> Step:
        step = self._step(trajectory, step_id, Stage.SKETCH, Stage.REFINE, Stage.FINAL)
        if step.image is None:
            raise StudioError("That step has no image yet; judge it once its image is drawn.")
        return step

    def _judge(
        self,
        trajectory: Trajectory,
        kind: str,
        step_id: str,
        other_step_id: str | None,
        value: str,
        note: str,
        by: str | Person | None,
    ) -> Judgement:
        judgement = Judgement(
            id=new_id(),
            session_id=trajectory.session.id,
            kind=kind,
            step_id=step_id,
            other_step_id=other_step_id,
            value=value,
            note=limits.note(note),
            annotator=author_name(by),
        )
        self.store.add_judgement(judgement)
        return judgement


def author_name(by: str | Person | None) -> str:
    """The name recorded for a human action: the person's (checked: text, no control characters), or the
    local user's when nobody logged in."""
    if by is None:
        return local_user()
    return limits.person_name(by.name if isinstance(by, Person) else by)
