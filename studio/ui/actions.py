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

import logging
import os
import queue
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .. import limits
from ..export import FORMATS as EXPORT_FORMATS
from ..domain import Conflict, Mode, Stage, StudioError, Trajectory, last
from ..engines.base import CancelToken, Cancelled
from ..runner import Event, PausePolicy, Runner
from . import board
from .board import View
from .uploads import check_upload, region_mask

log = logging.getLogger("studio.ui")

INTERNAL = "Something went wrong inside the studio; the server log has the details."
_HIDDEN = re.compile(r"[a-z][a-z0-9+.-]*://\S*|(?:[A-Za-z]:)?(?:[/\\][^\s/\\'\"]+){2,}[/\\]?")


def clean(message: str) -> str:
    """A message fit for a browser: database URLs and file paths are cut out, one line."""
    return " ".join(_HIDDEN.sub("…", str(message)).split()) or "That did not work."


def exports_dir() -> Path:
    """Where export zips wait for their download (served by the page; see `studio.ui.launch_options`)."""
    folder = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Activity:
    """Stop buttons: one cancel token per session with a stage in flight."""

    def __init__(self) -> None:
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()

    def start(self, session_id: str) -> CancelToken:
        with self._lock:
            if session_id in self._tokens:
                raise StudioError("This session is already running; press Stop, or wait for it to finish.")
            token = self._tokens[session_id] = CancelToken()
            return token

    def stop(self, session_id: str) -> bool:
        with self._lock:
            token = self._tokens.get(session_id)
        if token is not None:
            token.cancel()
        return token is not None

    def running(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._tokens

    def finish(self, session_id: str, token: CancelToken) -> None:
        with self._lock:
            if self._tokens.get(session_id) is token:
                del self._tokens[session_id]


def failure(error: Exception, where: str) -> str:
    """The one error path: the line a person sees. A StudioError says what to fix; anything else is
    logged here with its traceback and reported without internals. Paths and URLs never get through."""
    if isinstance(error, StudioError):
        return clean(str(error))
    log.error("studio %s failed", where, exc_info=error)
    return INTERNAL


def answer(action: Callable[..., Any]) -> Callable[..., dict]:
    """A page server function: the reply is a view (or `{"result": data}`); a failure is its `error`."""

    def wrapped(args: Any = None) -> dict:
        # The page's script sends one value: a list of positional arguments (see `call` in page.js).
        try:
            result = action(*args) if isinstance(args, list) else action(args)
            return result.to_dict() if isinstance(result, View) else {"result": result, "error": None}
        except Exception as error:  # noqa: BLE001 — turned into one line by `failure`
            return View(error=failure(error, action.__name__), full=False).to_dict()

    wrapped.__name__ = action.__name__
    wrapped.__doc__ = action.__doc__
    return wrapped


class Studio:
    """Every action the page and the HTTP API can take; logic lives in the runner."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.store = runner.store
        self.activity = Activity()

    # -- views -------------------------------------------------------------------------------

    def view(self, trajectory: Trajectory | None, note: str = "", have: Iterable[str] = (),
             selected: str | None = None) -> View:
        view = board.board(self.store, trajectory, have=have or (), selected=selected, note=note)
        if trajectory is not None:
            view.running = self.activity.running(trajectory.session.id)
        return view

    def _open(self, session_id: str, version: Any) -> Trajectory:
        if not isinstance(session_id, str) or not session_id.strip():
            raise StudioError("No session is open: type a prompt and press New session, or open one under Sessions.")
        trajectory = self.runner.open(limits.session_id(session_id))
        if version is not None and version != "" and limits.version(version) != trajectory.session.version:
            raise Conflict("This session was changed in another tab or window; the view now shows the latest "
                           "state. Your unsaved text is kept: check it, then try again.")
        return trajectory

    def _act(self, session_id: str, version: Any, have: Iterable[str],
             action: Callable[[Trajectory], tuple[str, str | None]]) -> View:
        """A quick human action on the session the page shows; a conflict answers with the fresh view."""
        try:
            trajectory = self._open(session_id, version)
        except Conflict as conflict:
            view = self.view(self.runner.open(session_id), "reloaded", have)
            view.conflict = str(conflict)
            return view
        note, selected = action(trajectory)
        return self.view(trajectory, note, have, selected)

    # -- sessions ----------------------------------------------------------------------------

    def open_session(self, session_id: str, step_id: str = "", have: Iterable[str] = ()) -> View:
        """The session as it is now (a reload, a shared link, a click in the gallery)."""
        return self.view(self._open(session_id, None), "opened", have, limits.step_id(step_id) if step_id else None)

    def new_session(self, prompt: str, engine: str, seed: Any = None, random_seed: bool = True, rounds: Any = 6,
                    mode: str = Mode.PROCESS.value, params: str | dict = "{}") -> View:
        text, name, chosen_seed, settings = limits.new_session(prompt, engine, seed, random_seed, rounds, mode, params)
        trajectory = self.runner.new_session(text, name, chosen_seed, settings)
        return self.view(trajectory, "ready: press Step or Run to end")

    def list_sessions(self, search: str = "", batch: str = "", limit: int = 60) -> list[dict[str, Any]]:
        """Gallery cards, newest first: thumbnail, title, prompt, engine, dates, rounds, status; optionally
        only the sessions of one batch (`studio batch`)."""
        tag = f"batch:{limits.batch_name(batch)}" if batch else None
        found = self.store.list_sessions(search=limits.search(search), tag=tag, limit=limit)
        cards = []
        for session in found:
            trajectory = self.runner.open(session.id)
            branch = trajectory.branch() if session.head_id else []
            shown = next((s for s in reversed(branch) if s.image is not None), None)
            cards.append({
                "id": session.id, "title": session.title, "prompt": session.prompt, "engine": session.engine,
                "created": session.created_at, "updated": session.updated_at,
                "thumb": board.image_url(self.store, shown.image.sha256) if shown else None,
                **board.status(trajectory),
            })
        return cards

    def list_batches(self) -> list[str]:
        """Batch names, for the gallery's filter."""
        return self.store.list_batches()

    def rename(self, session_id: str, version: Any, title: str, have: Iterable[str] = ()) -> View:
        def action(trajectory):
            self.runner.rename(trajectory, limits.title(title))
            return f"renamed to “{trajectory.session.title}”", None

        return self._act(session_id, version, have, action)

    def delete(self, session_id: str) -> View:
        full_id = self.store.resolve_id(limits.session_id(session_id))
        if self.activity.running(full_id):
            raise StudioError("That session is running; press Stop before deleting it.")
        self.store.delete_session(full_id)
        return View(note=f"deleted session {full_id[:8]}", full=False)

    def export(self, session_id: str, format: str, scope: str = "this session") -> dict[str, Any]:
        """A zip of the chosen format for download, and what went into it."""
        import zipfile

        from ..export import export_zip

        if format not in EXPORT_FORMATS:
            raise StudioError(f"Export formats: {', '.join(EXPORT_FORMATS)}.")
        if scope not in ("this session", "all sessions"):
            raise StudioError("Export scope is 'this session' or 'all sessions'.")
        sessions = None
        if scope == "this session":
            if not (session_id or "").strip():
                raise StudioError("No session is chosen; open one, or export all sessions.")
            sessions = [self.store.resolve_id(limits.session_id(session_id))]
        folder = exports_dir()
        handle, name = tempfile.mkstemp(dir=folder, prefix=f"stroke-studio-{format}-", suffix=".zip")
        os.close(handle)
        path = export_zip(self.store, format, name, sessions=sessions)
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir()]
        subsets = {}
        for entry in names:
            parts = entry.split("/")
            key = parts[1] if len(parts) > 2 else "(top)"
            subsets[key] = subsets.get(key, 0) + 1
        return {"path": str(path), "files": len(names), "bytes": path.stat().st_size, "subsets": subsets,
                "scope": scope, "format": format,
                "note": f"exported {len(names)} files ({path.stat().st_size / 1024:.0f} KB) as {format}"}

    def import_png(self, path: str) -> View:
        """A final PNG dropped on the page reopens the session it carries."""
        from ..export import import_path

        check_upload(path)
        report = import_path(self.store, path)
        return self.view(self.runner.open(report.session_ids[0]), "reopened from the PNG")

    def compare(self, session_id: str, left: str, right: str) -> dict[str, Any]:
        """Two branches of one session, aligned round by round (nothing is committed)."""
        trajectory = self._open(session_id, None)
        sides = []
        for leaf in (left, right):
            if not leaf or leaf not in trajectory.steps:
                raise StudioError("Choose two branches of this session to compare.")
            sides.append(trajectory.branch(leaf))
        rounds = sorted({s.round for side in sides for s in side})
        rows = [{"round": r, "left": [s.id for s in sides[0] if s.round == r],
                 "right": [s.id for s in sides[1] if s.round == r]} for r in rounds]
        shared = next((i for i, (a, b) in enumerate(zip(*sides)) if a.id != b.id), min(map(len, sides)))
        return {"rows": rows, "fork_after": sides[0][shared - 1].id if shared else None,
                "cards": {s.id: board.card(self.store, trajectory, s) for side in sides for s in side}}

    # -- human actions on one step ---------------------------------------------------------

    def edit_plan(self, session_id: str, version: Any, step_id: str, instruction: str, description: str,
                  have: Iterable[str] = ()) -> View:
        def action(trajectory):
            plan = self.runner.target(trajectory, _step_id(step_id), Stage.PLAN)
            edited = self.runner.edit_plan(trajectory, plan.id, limits.note(instruction, "instruction"),
                                           limits.note(description, "description"))
            if edited.id != plan.id:
                return "plan edited as a new branch (the old plan was already drawn; it stays on its branch)", edited.id
            return "plan edited", edited.id

        return self._act(session_id, version, have, action)

    def accept(self, session_id: str, version: Any, step_id: str, have: Iterable[str] = ()) -> View:
        def action(trajectory):
            image = self.runner.target(trajectory, _step_id(step_id), Stage.SKETCH, Stage.REFINE, Stage.FINAL)
            self.runner.accept(trajectory, image.id)
            return f"accepted the {image.stage.value} of round {image.round}", image.id

        return self._act(session_id, version, have, action)

    def override(self, session_id: str, version: Any, step_id: str, plan_passed: Any, plan_critique: str,
                 sketch_passed: Any, sketch_critique: str, have: Iterable[str] = ()) -> View:
        def action(trajectory):
            verdict = self.runner.target(trajectory, _step_id(step_id), Stage.INSPECT)
            changed = self.runner.override(
                trajectory, verdict.id, plan_passed=_flag(plan_passed), plan_critique=limits.note(plan_critique, "critique"),
                sketch_passed=_flag(sketch_passed), sketch_critique=limits.note(sketch_critique, "critique"))
            if changed.id != verdict.id:
                return (f"verdict of round {verdict.round} overridden as a new branch (later steps were built on "
                        "the old verdict; they stay on their branch)"), changed.id
            return f"verdict of round {verdict.round} overridden", changed.id

        return self._act(session_id, version, have, action)

    def fork(self, session_id: str, version: Any, step_id: str, have: Iterable[str] = ()) -> View:
        def action(trajectory):
            if not step_id:
                raise StudioError("Choose a step to rewind to.")
            step = self.runner.fork(trajectory, limits.step_id(step_id))
            return f"rewound to the {step.stage.value} of round {step.round}: the next Step starts a new branch", step.id

        return self._act(session_id, version, have, action)

    def switch_branch(self, session_id: str, version: Any, step_id: str, have: Iterable[str] = ()) -> View:
        """Make the newest branch through a step the current one (a click on the tree)."""
        def action(trajectory):
            leaf = self.runner.switch_branch(trajectory, limits.step_id(step_id))
            number = next((b["number"] for b in board.branches(trajectory) if b["leaf"] == leaf), None)
            return f"switched to branch {number}" if number else "switched branch", step_id

        return self._act(session_id, version, have, action)

    # -- model work, streamed ----------------------------------------------------------------

    def stop(self, session_id: str) -> View:
        stopping = self.activity.stop(self.store.resolve_id(limits.session_id(session_id)) if session_id else "")
        return View(note="stopping: the stage in flight is dropped, committed stages are kept" if stopping
                    else "nothing is running", full=False)

    def step(self, session_id: str, version: Any, have: Iterable[str] = ()) -> Iterator[View]:
        def work(trajectory, listener, token):
            if trajectory.session.head_id and board.status(trajectory)["finished"]:
                raise StudioError("This branch is finished; rewind to a step to continue from there, "
                                  "or start a new session.")
            step = self.runner.advance(trajectory, listener, token)
            return ("finished", None) if step is None else (f"paused after {step.stage.value}", step.id)

        yield from self._stream(session_id, version, have, work)

    def run(self, session_id: str, version: Any, pause: str = PausePolicy.NEVER.value,
            have: Iterable[str] = ()) -> Iterator[View]:
        try:
            policy = PausePolicy(pause or PausePolicy.NEVER.value)
        except ValueError:
            raise StudioError("Pause is one of: every, inspect, never.") from None

        def work(trajectory, listener, token):
            outcome = self.runner.run(trajectory, policy, listener, token)
            notes = {"paused": f"paused after {outcome.step.stage.value}" if outcome.step else "paused",
                     "finished": "finished", "cancelled": "stopped"}
            return notes[outcome.status], outcome.step.id if outcome.step else None

        yield from self._stream(session_id, version, have, work)

    def reject(self, session_id: str, version: Any, step_id: str, note: str = "",
               have: Iterable[str] = ()) -> Iterator[View]:
        def work(trajectory, listener, token):
            image_step = self.runner.target(trajectory, _step_id(step_id), Stage.SKETCH, Stage.REFINE)
            redrawn = self.runner.reject(trajectory, image_step.id, limits.note(note, "reason"), listener=listener,
                                         cancel=token)
            return "rejected and redrawn with a new seed", redrawn.id

        yield from self._stream(session_id, version, have, work)

    def refine(self, session_id: str, version: Any, step_id: str, instruction: str, region: Any = None,
               have: Iterable[str] = ()) -> Iterator[View]:
        def work(trajectory, listener, token):
            target = self.runner.target(trajectory, _step_id(step_id), Stage.INSPECT, Stage.SKETCH, Stage.REFINE)
            before = last(trajectory.branch(target.id), Stage.SKETCH, Stage.REFINE)
            mask = region_mask(region, (before.image.width, before.image.height)) if before else None
            refined = self.runner.refine_with(trajectory, target.id, limits.note(instruction, "refine instruction"),
                                              mask, listener, token)
            changed = self.runner.region_changed(before, refined, mask) if before else 1
            where = " inside the painted region" if mask is not None else ""
            if not changed:
                return f"the refine changed no pixel{where}: try other words, or a larger region", refined.id
            return f"refined{where} ({changed} pixels changed)", refined.id

        yield from self._stream(session_id, version, have, work)

    def _stream(self, session_id: str, version: Any, have: Iterable[str],
                work: Callable[[Trajectory, Any, CancelToken], tuple[str, str | None]]) -> Iterator[View]:
        """Run model work in a thread; yield progress and previews while it draws, new cards as stages commit."""
        try:
            trajectory = self._open(session_id, version)
        except Conflict as conflict:
            view = self.view(self.runner.open(session_id), "reloaded", have)
            view.conflict = str(conflict)
            yield view
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
                if event.kind == "started":
                    yield View(running=True, full=False, progress={"stage": event.stage.value, "fraction": 0.0,
                                                                   "message": f"{event.stage.value}…"})
                elif event.kind == "progress" and event.progress is not None:
                    update = event.progress
                    yield View(running=True, full=False, preview=board.preview_url(update.preview)
                               if update.preview is not None else None,
                               progress={"stage": event.stage.value, "fraction": round(update.fraction, 3),
                                         "message": f"{event.stage.value} {update.message}".strip()})
                elif event.kind == "committed":
                    view = self.view(trajectory, f"{event.stage.value} done", sent,
                                     event.step.id if event.step else None)
                    view.running = True
                    sent |= {key for _, key in view.tree}
                    last_tree = view.tree
                    yield view
        finally:
            self.activity.finish(trajectory.session.id, token)
        error = outcome.get("error")
        if isinstance(error, Cancelled):  # Stop pressed during a single stage: nothing of it was committed
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
        if not view.cards and view.tree == last_tree:  # nothing new since the last commit: just say it is done
            view = View(session=view.session, selected=view.selected, note=note, full=False)
        yield view


def _step_id(value: Any) -> str:
    """A step id from a client, or "" (none named: the action takes the latest step of its kind)."""
    return limits.step_id(value) if value else ""


def _flag(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "pass", "yes"):
        return True
    if str(value).lower() in ("false", "0", "fail", "no"):
        return False
    raise StudioError("A verdict is true (pass) or false (fail).")
