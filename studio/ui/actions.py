"""What each action does: open the session, call the runner, answer with the new view.

`Studio` is every action the page's script and the HTTP API can take, each a plain method taking
plain values (ids, texts, numbers) and returning a `board.View` (the streamed ones yield views), so
both share one code path. Every action on a step names that step and the session version the page
showed; a stale version means another tab changed the session first, and the answer is the fresh
view with a conflict message instead of an act. Errors take one path (`failure`): a person-fixable
`StudioError` becomes one line; anything else is logged here and reported without its internals; no
message carries a file path or a URL.

Who may see, share or delete a session is the domain's rule (`can_see`, `may_share`), applied to
the person the studio acts for.

Example usage (what `/accept` does for a page that shows version 4 of a session):

    studio = Studio(Runner(Store()), person=Person("ana"))
    view = studio.accept(session_id, 4, step_id)  # view.note: "accepted the sketch of round 1"
    for view in studio.run(session_id, view.session["version"]):  # progress, then new cards
        ...
"""

from __future__ import annotations

import copy
import os
import queue
import re
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .. import engines as registry
from ..core import limits
from ..core.domain import (
    Conflict,
    Mode,
    Person,
    Stage,
    Step,
    StudioError,
    Trajectory,
    can_see,
    last_image,
    local_user,
    may_share,
    person_input,
)
from ..engines.base import Cancelled, CancelToken
from ..export import FORMATS as EXPORT_FORMATS
from ..export import export_zip as write_export_zip
from ..export import import_png_bytes
from ..runner import Event, PausePolicy, Runner
from . import board
from .board import View
from .errors import INTERNAL, clean, failure
from .exports import Exports, exports_dir
from .inputs import flag, step_or_latest
from .uploads import check_upload, region_mask
from .work import Activity, progress_view

__all__ = ["EXPORT_FORMATS", "INTERNAL", "Gone", "Studio", "clean", "exports_dir", "failure"]
FULL_ID = 32
MIN_STEP_PREFIX = 4
STEP_TEXT = re.compile(r"[0-9a-f]{1,32}")


class Gone(StudioError):
    """The session a page shows is not there for this person any more (deleted, or made private by
    its owner): the page stops showing it. Said in a browser's words, not the command line's."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"No session {session_id[:8]} is available to you any more: it was deleted or made "
            "private by its owner (or never existed). Open another one under Sessions."
        )


class Studio:
    """Every action the page and the HTTP API can take; logic lives in the runner.

    A studio acts for one person (`acting_as`): the name Gradio's login gave, recorded as the
    author of each human action and used to hide other people's private sessions. Without a
    login (`person` None) the runner records the local user and every session is visible.

    Sections, in order: views and the session a request names; sessions; the gallery (whole
    sessions: list, rename, share, delete, export, import); judgements; human actions on one step;
    model work, streamed (step, run, reject, refine, stop).
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
        try:
            wanted = limits.session_id(session_id)
        except StudioError:  # said for a browser (a link's id), not with the command line's words
            raise StudioError(
                f"{limits.shown(session_id)} is not a session id (its 32 characters 0-9, a-f, or at "
                f"least the first {limits.MIN_ID_PREFIX}): open one under Sessions."
            ) from None
        try:
            trajectory = self.runner.open(wanted, viewer=self.person)
        except StudioError:
            if len(wanted) == FULL_ID:  # the page names a session it showed: gone, not mistyped
                raise Gone(wanted) from None
            raise StudioError(
                f"No single session {wanted!r} is here for you (give its id, or enough of it to name "
                "one): open one under Sessions."
            ) from None
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
        """The session as it is now (a reload, a shared link, a click in the gallery); `step_id` is a
        step's id or a unique prefix of one (at least 4 characters, like a short git hash)."""
        trajectory = self._open(session_id, None)
        selected, note = _step_in(trajectory, step_id)
        return self.view(trajectory, note, have, selected)

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
            prompt, engine, seed, random_seed, rounds, mode, params, engines=registry
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

    # -- the gallery: whole sessions ---------------------------------------------------------

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

    def export(
        self,
        session_id: str,
        format: str,
        scope: str = "this session",
        all_branches: Any = False,
    ) -> dict[str, Any]:
        """A zip of the chosen format for download, and what went into it: its download URL
        (`/studio/export/<name>`, for the person who made it), never its place on the server."""
        return self.export_zip(session_id, format, scope, all_branches)[1]

    def export_zip(
        self,
        session_id: str,
        format: str,
        scope: str = "this session",
        all_branches: Any = False,
    ) -> tuple[Path, dict[str, Any]]:
        """The zip written in exports_dir() and the report `export` answers with. `all_branches`:
        every branch of each session (a person's override or reject off the head branch included),
        not only the head's."""
        every_branch = flag(all_branches, "All branches must be true or false.")
        if format not in EXPORT_FORMATS:
            raise StudioError(f"Export formats: {', '.join(EXPORT_FORMATS)}.")
        if scope not in ("this session", "all sessions"):
            raise StudioError("Export scope is 'this session' or 'all sessions'.")
        sessions: list[str] = []  # none named: every session (the local user, or an admin)
        if scope == "this session":
            if not (session_id or "").strip():
                raise StudioError("No session is chosen; open one, or export all sessions.")
            sessions = [self._open(session_id, None).session.id]
        elif self.person is not None and self.person.role != "admin":
            # an annotator exports their own work only
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
        path = write_export_zip(
            self.store, format, name, sessions=sessions, all_branches=every_branch
        )
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir()]
        subsets: dict[str, int] = {}
        for entry in names:
            parts = entry.split("/")
            key = parts[1] if len(parts) > 2 else "(top)"
            subsets[key] = subsets.get(key, 0) + 1
        self.exports.made(path.name, self.person)
        size = path.stat().st_size
        return path, {
            "name": path.name,
            "url": f"/studio/export/{path.name}",
            "files": len(names),
            "bytes": size,
            "subsets": subsets,
            "scope": scope,
            "all_branches": every_branch,
            "format": format,
            "note": f"exported {len(names)} files ({size / 1024:.0f} KB) as {format}"
            + (", every branch" if every_branch else ", the head branch only"),
        }

    def import_png(self, source: str | Path | bytes) -> View:
        """A final PNG dropped on the page reopens the session it carries. From a browser or a client
        `source` is always the upload's bytes (`uploads.read_upload`); a path is for the studio's own
        callers, never one a caller named."""
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        check_upload(data)
        report = import_png_bytes(self.store, data, owner=self.person.name if self.person else None)
        trajectory = self.runner.open(report.session_ids[0])
        if not can_see(trajectory.session, self.person):  # the PNG's own session, here already
            raise StudioError(
                f"This PNG's session is here already, private to {trajectory.session.owner}; "
                "ask them to share it with the team."
            )
        return self.view(trajectory, "reopened from the PNG")

    # -- judgements: ratings and preferences -------------------------------------------------

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

    # -- human actions on one step -----------------------------------------------------------

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

    # -- model work, streamed as views -------------------------------------------------------

    def stop(self, session_id: str) -> View:
        visible = (
            self.store.resolve_id(limits.session_id(session_id), self.person) if session_id else ""
        )
        stopping = self.activity.stop(visible)  # nobody stops a session they cannot see
        return View(
            note="stopping: the stage in flight is dropped, committed stages are kept"
            if stopping
            else "nothing is running",
            full=False,
        )

    def step(self, session_id: str, version: Any, have: Iterable[str] = ()) -> Iterator[View]:
        def work(trajectory, listener, token):
            if trajectory.session.head_id and board.status(trajectory)["finished"]:
                raise StudioError(
                    "This branch is finished; rewind to a step to continue from there, "
                    "or start a new session."
                )
            step = self.runner.advance(trajectory, listener, token)
            return (
                ("finished", None)
                if step is None
                else (f"paused after {step.stage.value}", step.id)
            )

        yield from self._stream(session_id, version, have, work)

    def run(
        self,
        session_id: str,
        version: Any,
        pause: str = PausePolicy.NEVER.value,
        have: Iterable[str] = (),
    ) -> Iterator[View]:
        try:
            policy = PausePolicy(pause or PausePolicy.NEVER.value)
        except ValueError:
            raise StudioError("Pause is one of: every, inspect, never.") from None

        def work(trajectory, listener, token):
            outcome = self.runner.run(trajectory, policy, listener, token)
            notes = {
                "paused": f"paused after {outcome.step.stage.value}" if outcome.step else "paused",
                "finished": "finished",
                "cancelled": "stopped",
            }
            return notes[outcome.status], outcome.step.id if outcome.step else None

        yield from self._stream(session_id, version, have, work)

    def reject(
        self, session_id: str, version: Any, step_id: str, note: str = "", have: Iterable[str] = ()
    ) -> Iterator[View]:
        def work(trajectory, listener, token):
            image_step = self.runner.target(
                trajectory, step_or_latest(step_id), Stage.SKETCH, Stage.REFINE
            )
            redrawn = self.runner.reject(
                trajectory,
                image_step.id,
                limits.note(note, "reason"),
                by=self.by,
                listener=listener,
                cancel=token,
            )
            return f"rejected and redrawn{_answered(redrawn)}", redrawn.id

        yield from self._stream(session_id, version, have, work)

    def refine(
        self,
        session_id: str,
        version: Any,
        step_id: str,
        instruction: str,
        region: Any = None,
        have: Iterable[str] = (),
    ) -> Iterator[View]:
        def work(trajectory, listener, token):
            target = self.runner.target(
                trajectory, step_or_latest(step_id), Stage.INSPECT, Stage.SKETCH, Stage.REFINE
            )
            before = last_image(trajectory.branch(target.id))  # the image the engine refines
            mask = (
                region_mask(region, (before.image.width, before.image.height)) if before else None
            )
            refined = self.runner.refine_with(
                trajectory,
                target.id,
                limits.note(instruction, "refine instruction"),
                mask,
                listener,
                token,
                by=self.by,
            )
            changed = self.runner.region_changed(before, refined, mask) if before else 1
            where = " inside the painted region" if mask is not None else ""
            if not changed:
                return (
                    f"the refine changed no pixel{where}: try other words, or a larger region",
                    refined.id,
                )
            return f"refined{where} ({changed} pixels changed)", refined.id

        yield from self._stream(session_id, version, have, work)

    def _stream(
        self,
        session_id: str,
        version: Any,
        have: Iterable[str],
        work: Callable[[Trajectory, Any, CancelToken], tuple[str, str | None]],
    ) -> Iterator[View]:
        """Run model work in a thread; yield progress and previews while it draws, new cards as stages commit."""
        try:
            trajectory = self._open(session_id, version)
        except Conflict as conflict:
            yield self._reloaded(session_id, have, conflict)
            return
        token = self.activity.start(trajectory.session.id)
        events: queue.Queue[Event | None] = queue.Queue()
        outcome: dict[str, Any] = {}
        sent = set(have or ())
        last_tree: list[list[str]] | None = None

        def target() -> None:
            try:
                outcome["result"] = work(trajectory, events.put, token)
            except Exception as error:  # noqa: BLE001 — reported below, through the one error path
                outcome["error"] = error
            finally:
                events.put(None)

        threading.Thread(target=target, daemon=True, name="studio-stage").start()
        try:
            while (event := events.get()) is not None:
                shown = progress_view(event)
                if shown is not None:
                    yield shown
                elif event.kind == "committed":
                    view = self.view(
                        trajectory,
                        f"{event.stage.value} done",
                        sent,
                        event.step.id if event.step else None,
                    )
                    view.running = True
                    sent |= {key for _, key in view.tree}
                    last_tree = view.tree
                    yield view
        finally:
            self.activity.finish(trajectory.session.id, token)
        error = outcome.get("error")
        if isinstance(error, Cancelled):
            # Stop pressed during a single stage: nothing of it was committed
            error, outcome["result"] = None, ("stopped", None)
        if error is not None:
            kept = self.runner.open(trajectory.session.id)
            if isinstance(error, StudioError):
                view = self.view(kept, "stopped", sent)
                view.error = clean(str(error))
                yield view
                return
            raise error
        note, selected = outcome["result"]
        if note == "stopped":
            note = f"stopped: the stage in flight was dropped; {len(trajectory.branch())} committed steps kept"
        view = self.view(trajectory, note, sent, selected)
        if not view.cards and view.tree == last_tree:
            # nothing new since the last commit: just say it is done
            view = View(session=view.session, selected=view.selected, note=note, full=False)
        yield view


def _step_in(trajectory: Trajectory, step_id: str) -> tuple[str | None, str]:
    """The step a link names in `trajectory` (a full id or a unique prefix), and the note that opens
    the session: "opened", or why the link's step is not the one shown (the latest step is)."""
    wanted = (step_id if isinstance(step_id, str) else "").strip().lower()
    if not wanted:
        return None, "opened"
    found = [i for i in trajectory.steps if i.startswith(wanted)]
    if not STEP_TEXT.fullmatch(wanted):
        why = "the link's step is not a step id (hex characters)"
    elif len(wanted) < MIN_STEP_PREFIX:
        why = f"step {wanted!r} is too short; give at least {MIN_STEP_PREFIX} characters of its id"
    elif len(found) > 1:
        why = f"step {wanted!r} matches {len(found)} steps; give more of its id"
    elif not found:
        why = f"this session has no step {wanted!r}"
    else:
        return found[0], "opened"
    return None, f"opened; {why}, so the latest step is shown: pick another on the storyboard"


def _answered(step: Step) -> str:
    """What a redraw did with the reason it was given, as the status line's tail ("" without one)."""
    given = person_input(step)
    if given is None or given.used is None:
        return " with a new seed"
    return f": {'used' if given.used else 'could not use'} your reason"


def _rating_words(value: str) -> str:
    return {"up": "thumbs up", "down": "thumbs down"}.get(value, f"{value} of 5")
