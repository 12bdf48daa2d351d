"""What each action does: open the session, call the runner, answer with the new view.

Every action is a plain method taking plain values (ids, texts, numbers) and
returning a `board.View`, so the page's script and the HTTP API share one code path.
Every action on a step names that step and the session version the page showed; a
stale version means another tab changed the session first, and the answer is the
fresh view with a conflict message instead of an act. Errors take one path
(`failure`): a person-fixable `StudioError` becomes one line; anything else is logged
here and reported without its internals; no message carries a file path or a URL.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

from ..core import limits
from ..core.domain import Conflict, Mode, Person, Stage, StudioError, Trajectory, local_user
from ..export import FORMATS as EXPORT_FORMATS
from ..runner import Runner
from . import board
from .board import View
from .errors import INTERNAL, clean, failure
from .gallery import Exports, Gallery, exports_dir
from .inputs import flag, step_or_latest
from .work import Activity, ModelWork

__all__ = ["EXPORT_FORMATS", "INTERNAL", "Studio", "clean", "exports_dir", "failure"]


class Studio(Gallery, ModelWork):
    """Every action the page and the HTTP API can take; logic lives in the runner.

    A studio acts for one person (`acting_as`): the name Gradio's login gave, recorded as the
    author of each human action and used to hide other people's private sessions. Without a
    login (`person` None) the runner records the local user and every session is visible.
    """

    def __init__(self, runner: Runner, person: Person | None = None):
        self.runner = runner
        self.store = runner.store
        self.activity = Activity()
        self.exports = Exports()
        self.person = person

    def acting_as(self, person: Person | None) -> "Studio":
        """The same studio (runner, running jobs) acting for `person`."""
        if person == self.person:
            return self
        acting = copy.copy(self)
        acting.person = person
        return acting

    @property
    def by(self) -> Person | None:
        """Who the runner records as the author (None: the local user); a Person, so an admin's role counts."""
        return self.person

    def whoami(self, _: Any = None) -> dict[str, Any]:
        """Who the page acts for: the logged-in name and role, or the local user when there is no login."""
        if self.person is None:
            return {"name": local_user(), "role": "admin", "login": False}
        return {"name": self.person.name, "role": self.person.role, "login": True}

    # -- views -------------------------------------------------------------------------------

    def view(
        self,
        trajectory: Trajectory | None,
        note: str = "",
        have: Iterable[str] = (),
        selected: str | None = None,
    ) -> View:
        view = board.board(self.store, trajectory, have=have or (), selected=selected, note=note)
        if trajectory is not None:
            view.running = self.activity.running(trajectory.session.id)
        return view

    def _open(self, session_id: str, version: Any) -> Trajectory:
        if not isinstance(session_id, str) or not session_id.strip():
            raise StudioError(
                "No session is open: type a prompt and press New session, or open one under Sessions."
            )
        trajectory = self.runner.open(limits.session_id(session_id), viewer=self.person)
        if (
            version is not None
            and version != ""
            and limits.version(version) != trajectory.session.version
        ):
            raise Conflict(
                "This session was changed in another tab or window; the view now shows the latest "
                "state. Your unsaved text is kept: check it, then try again."
            )
        return trajectory

    def _reloaded(self, session_id: str, have: Iterable[str], conflict: Conflict) -> View:
        """The answer to a stale version: the fresh view, with the conflict said, nothing acted on."""
        view = self.view(self.runner.open(session_id, viewer=self.person), "reloaded", have)
        view.conflict = str(conflict)
        return view

    def _act(
        self,
        session_id: str,
        version: Any,
        have: Iterable[str],
        action: Callable[[Trajectory], tuple[str, str | None]],
    ) -> View:
        """A quick human action on the session the page shows; a conflict answers with the fresh view."""
        try:
            trajectory = self._open(session_id, version)
        except Conflict as conflict:
            return self._reloaded(session_id, have, conflict)
        note, selected = action(trajectory)
        return self.view(trajectory, note, have, selected)

    # -- sessions ----------------------------------------------------------------------------

    def open_session(self, session_id: str, step_id: str = "", have: Iterable[str] = ()) -> View:
        """The session as it is now (a reload, a shared link, a click in the gallery)."""
        return self.view(
            self._open(session_id, None),
            "opened",
            have,
            limits.step_id(step_id) if step_id else None,
        )

    def new_session(
        self,
        prompt: str,
        engine: str,
        seed: Any = None,
        random_seed: bool = True,
        rounds: Any = 6,
        mode: str = Mode.PROCESS.value,
        params: str | dict = "{}",
    ) -> View:
        text, name, chosen_seed, settings = limits.new_session(
            prompt, engine, seed, random_seed, rounds, mode, params
        )
        trajectory = self.runner.new_session(text, name, chosen_seed, settings, owner=self.by)
        return self.view(trajectory, "ready: press Step or Run to end")

    def compare(self, session_id: str, left: str, right: str) -> dict[str, Any]:
        """Two branches of one session, aligned round by round (nothing is committed)."""
        trajectory = self._open(session_id, None)
        sides = []
        for leaf in (left, right):
            if not leaf or leaf not in trajectory.steps:
                raise StudioError("Choose two branches of this session to compare.")
            sides.append(trajectory.branch(leaf))
        judged = board.judgements_by_step(self.store, trajectory.session.id)
        rounds = sorted({s.round for side in sides for s in side})
        rows = [
            {
                "round": r,
                "left": [s.id for s in sides[0] if s.round == r],
                "right": [s.id for s in sides[1] if s.round == r],
            }
            for r in rounds
        ]
        shared = next(
            (i for i, (a, b) in enumerate(zip(*sides)) if a.id != b.id), min(map(len, sides))
        )
        return {
            "rows": rows,
            "fork_after": sides[0][shared - 1].id if shared else None,
            "cards": {
                s.id: board.card(self.store, trajectory, s, judged.get(s.id, ()))
                for side in sides
                for s in side
            },
        }

    # -- judgements: ratings and preferences --------------------------------------------------

    def rate(
        self, session_id: str, step_id: str, value: Any, note: str = "", have: Iterable[str] = ()
    ) -> View:
        """Rate an image (thumbs up/down or 1–5): a judgement with its author; the session is not changed."""

        def action(trajectory):
            image = self.runner.target(
                trajectory, step_or_latest(step_id), Stage.SKETCH, Stage.REFINE, Stage.FINAL
            )
            judgement = self.runner.rate(
                trajectory,
                image.id,
                str(value if value is not None else ""),
                limits.note(note),
                by=self.by,
            )
            return (
                f"rated the {image.stage.value} of round {image.round}: {_rating_words(judgement.value)}",
                image.id,
            )

        return self._act(session_id, None, have, action)

    def prefer(
        self, session_id: str, left: str, right: str, choice: str, note: str = ""
    ) -> dict[str, Any]:
        """Compare's verdict on two aligned images: left is better, right is better, or a tie."""
        trajectory = self._open(session_id, None)
        if not left or not right:
            raise StudioError("Choose the two images to compare.")
        self.runner.prefer(
            trajectory,
            limits.step_id(left),
            limits.step_id(right),
            str(choice or ""),
            limits.note(note),
            by=self.by,
        )
        words = {"left": "left is better", "right": "right is better", "tie": "a tie"}
        return {
            "note": f"recorded: {words.get(choice, choice)}",
            "judgements": [
                {
                    "kind": j.kind,
                    "value": j.value,
                    "annotator": j.annotator,
                    "left": j.step_id,
                    "right": j.other_step_id,
                }
                for j in self.store.judgements(trajectory.session.id, kind="preference")
            ],
        }

    # -- human actions on one step ---------------------------------------------------------

    def edit_plan(
        self,
        session_id: str,
        version: Any,
        step_id: str,
        instruction: str,
        description: str,
        have: Iterable[str] = (),
    ) -> View:
        def action(trajectory):
            plan = self.runner.target(trajectory, step_or_latest(step_id), Stage.PLAN)
            edited = self.runner.edit_plan(
                trajectory,
                plan.id,
                limits.note(instruction, "instruction"),
                limits.note(description, "description"),
                by=self.by,
            )
            if edited.id != plan.id:
                return (
                    "plan edited as a new branch (the old plan was already drawn; it stays on its branch)",
                    edited.id,
                )
            return "plan edited", edited.id

        return self._act(session_id, version, have, action)

    def accept(self, session_id: str, version: Any, step_id: str, have: Iterable[str] = ()) -> View:
        def action(trajectory):
            image = self.runner.target(
                trajectory, step_or_latest(step_id), Stage.SKETCH, Stage.REFINE, Stage.FINAL
            )
            self.runner.accept(trajectory, image.id, by=self.by)
            return f"accepted the {image.stage.value} of round {image.round}", image.id

        return self._act(session_id, version, have, action)

    def override(
        self,
        session_id: str,
        version: Any,
        step_id: str,
        plan_passed: Any,
        plan_critique: str,
        sketch_passed: Any,
        sketch_critique: str,
        have: Iterable[str] = (),
    ) -> View:
        def action(trajectory):
            verdict = self.runner.target(trajectory, step_or_latest(step_id), Stage.INSPECT)
            changed = self.runner.override(
                trajectory,
                verdict.id,
                plan_passed=flag(plan_passed),
                plan_critique=limits.note(plan_critique, "critique"),
                sketch_passed=flag(sketch_passed),
                sketch_critique=limits.note(sketch_critique, "critique"),
                by=self.by,
            )
            if changed.id != verdict.id:
                return (
                    f"verdict of round {verdict.round} overridden as a new branch (later steps were built on "
                    "the old verdict; they stay on their branch)"
                ), changed.id
            return f"verdict of round {verdict.round} overridden", changed.id

        return self._act(session_id, version, have, action)

    def fork(self, session_id: str, version: Any, step_id: str, have: Iterable[str] = ()) -> View:
        def action(trajectory):
            if not step_id:
                raise StudioError("Choose a step to rewind to.")
            step = self.runner.fork(trajectory, limits.step_id(step_id), by=self.by)
            return (
                f"rewound to the {step.stage.value} of round {step.round}: the next Step starts a new branch",
                step.id,
            )

        return self._act(session_id, version, have, action)

    def switch_branch(
        self, session_id: str, version: Any, step_id: str, have: Iterable[str] = ()
    ) -> View:
        """Make the newest branch through a step the current one (a click on the tree)."""

        def action(trajectory):
            leaf = self.runner.switch_branch(trajectory, limits.step_id(step_id))
            number = next(
                (b["number"] for b in board.branches(trajectory) if b["leaf"] == leaf), None
            )
            return f"switched to branch {number}" if number else "switched branch", step_id

        return self._act(session_id, version, have, action)


def _rating_words(value: str) -> str:
    return {"up": "thumbs up", "down": "thumbs down"}.get(value, f"{value} of 5")
