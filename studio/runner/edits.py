"""The runner's actions that change what a person sees without running a model: editing a plan,
overriding a verdict, accepting an image, and moving along the session's tree (switch branch, fork,
rename), with the look-ups they share (`_step`, `target`).

Mixed into `studio.runner.Runner` (which owns every human action, and keeps those that draw:
reject and refine). A person's change keeps the model's original beside it, and forks rather than
rewrites a step something was already built on, so no branch loses what it was made from.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from ..core.domain import (
    Author,
    Check,
    Person,
    Review,
    Stage,
    Step,
    StudioError,
    Trajectory,
    last,
    new_id,
)
from .people import author_name

if TYPE_CHECKING:
    from ..store import Store


class EditActions:
    """Runner methods; they need the Runner's `store` and its `_commit`."""

    store: Store

    if TYPE_CHECKING:

        def _commit(
            self,
            trajectory: Trajectory,
            *,
            add: Step | None = None,
            replace: Step | None = None,
            head_id: str | None = None,
        ) -> None: ...

    def _step(self, trajectory: Trajectory, step_id: str, *stages: Stage) -> Step:
        step = trajectory.steps.get(step_id)
        if step is None:
            raise StudioError(f"Step {step_id} is not part of session {trajectory.session.id[:8]}.")
        if stages and step.stage not in stages:
            wanted = " or ".join(s.value for s in stages)
            raise StudioError(
                f"That is a {step.stage.value} step; this action needs a {wanted} step."
            )
        return step

    def _amend(self, trajectory: Trajectory, step: Step, changes: dict[str, Any], by: str) -> Step:
        """A person's change to a step, keeping the model's original beside it.

        A step nothing was built on yet is updated in place; otherwise the change becomes
        a sibling (a new branch), so what was built on the old version stays intact.
        """
        changes = {k: v for k, v in changes.items() if getattr(step, k) != v}
        if not changes:
            return step
        original = dict(step.original)
        if (
            step.author is Author.MODEL or step.original
        ):  # fields not in `original` still hold the model's values
            for name in changes:
                original.setdefault(name, getattr(step, name))
        amended = step.replace(author=Author.HUMAN, annotator=by, original=original, **changes)
        if trajectory.children(step.id):
            amended = amended.replace(id=new_id(), created_at=time.time())
            self._commit(trajectory, add=amended, head_id=amended.id)
        else:
            self._commit(trajectory, replace=amended, head_id=amended.id)
        return amended

    def edit_plan(
        self,
        trajectory: Trajectory,
        step_id: str,
        instruction: str | None = None,
        description: str | None = None,
        complete: bool | None = None,
        by: str | Person | None = None,
    ) -> Step:
        """Change `<ins>` / `<des>` before the sketch is drawn (or fork a new plan if it was)."""
        step = self._step(trajectory, step_id, Stage.PLAN)
        changes: dict[str, Any] = {}
        for name, value in (("instruction", instruction), ("description", description)):
            if value is not None:
                if not value.strip():
                    raise StudioError(f"The {name} is empty; write one, or leave it as it was.")
                changes[name] = value.strip()
        if complete is not None:
            changes["complete"] = complete
        return self._amend(trajectory, step, changes, author_name(by))

    def override(
        self,
        trajectory: Trajectory,
        step_id: str,
        *,
        plan_passed: bool | None = None,
        plan_critique: str | None = None,
        sketch_passed: bool | None = None,
        sketch_critique: str | None = None,
        by: str | Person | None = None,
    ) -> Step:
        """Flip a verdict and/or rewrite its critique; evidence boxes stay as the model found them."""
        step = self._step(trajectory, step_id, Stage.INSPECT)
        changes = {}
        for name, passed, critique in (
            ("plan_check", plan_passed, plan_critique),
            ("sketch_check", sketch_passed, sketch_critique),
        ):
            check = getattr(step, name) or Check(passed=True)
            updated = dataclasses.replace(
                check,
                passed=check.passed if passed is None else passed,
                critique=check.critique if critique is None else critique.strip(),
            )
            changes[name] = updated
        return self._amend(trajectory, step, changes, author_name(by))

    def accept(
        self, trajectory: Trajectory, step_id: str, note: str = "", by: str | Person | None = None
    ) -> Step:
        """Mark an image good. A review is not content: it never forks."""
        step = self._step(trajectory, step_id, Stage.SKETCH, Stage.REFINE, Stage.FINAL)
        reviewed = step.replace(
            review=Review.ACCEPTED, review_note=note.strip(), annotator=author_name(by)
        )
        self._commit(trajectory, replace=reviewed, head_id=trajectory.session.head_id or step.id)
        return reviewed

    def target(self, trajectory: Trajectory, step_id: str | None, *stages: Stage) -> Step:
        """The step an action applies to: exactly the one named, or (none named) the head branch's latest of a kind.

        A page always names the step it shows; naming none is for scripts that mean "the latest".
        """
        if step_id:
            return self._step(trajectory, step_id, *stages)
        found = last(trajectory.branch(), *stages) if trajectory.session.head_id else None
        if found is None:
            raise StudioError(
                f"There is no {' or '.join(s.value for s in stages)} step on this branch yet."
            )
        return found

    def region_changed(self, before: Step, after: Step, region: Any = None) -> int:
        """How many pixels a refine changed (inside its region, when it had one): 0 means it did nothing."""
        from PIL import ImageChops

        if before.image is None or after.image is None:
            return 0
        old, new = (
            self.store.load_image(before.image).convert("RGB"),
            self.store.load_image(after.image).convert("RGB"),
        )
        if old.size != new.size:
            return old.width * old.height
        diff = ImageChops.difference(old, new).convert("L").point(lambda v: 255 if v else 0)
        if region is not None:
            diff = ImageChops.multiply(
                diff, region.convert("L").resize(old.size).point(lambda v: 255 if v else 0)
            )
        return sum(diff.histogram()[1:])

    def switch_branch(
        self, trajectory: Trajectory, step_id: str, by: str | Person | None = None
    ) -> str:
        """Continue on the newest live branch through a step (the step itself if all below it were rejected).

        Returns the branch end that became the head. (Moving the head changes no step: `by` is checked,
        not recorded; the same holds for fork and rename.)
        """
        author_name(by)
        pending, ends = [self._step(trajectory, step_id).id], []
        while pending:
            current = trajectory.steps[pending.pop()]
            children = trajectory.children(current.id)
            if not children and current.review is not Review.REJECTED:
                ends.append(current)
            pending += [c.id for c in children]
        leaf = max(ends, key=lambda s: s.created_at).id if ends else step_id
        self._commit(trajectory, head_id=leaf)
        return leaf

    def fork(self, trajectory: Trajectory, step_id: str, by: str | Person | None = None) -> Step:
        """Rewind to any step: the next stage continues from there, as a new branch beside the old."""
        author_name(by)
        step = self._step(trajectory, step_id)
        self._commit(trajectory, head_id=step.id)
        return step

    def rename(self, trajectory: Trajectory, title: str, by: str | Person | None = None) -> None:
        author_name(by)
        title = (title or "").strip()
        if not title:
            raise StudioError("The title is empty.")
        trajectory.session = self.store.commit(trajectory.session, title=title[:200])
