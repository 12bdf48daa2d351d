"""Model work started by a person (Step, Run to end, Reject & redraw, Refine), streamed as views.

The work runs in a thread; the stream yields progress and live previews while a stage draws and the
new cards as each stage commits. Stop cancels the stage in flight through a per-session token;
committed stages are always kept.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterable, Iterator

from ..core import limits
from ..core.domain import Conflict, Stage, StudioError, Trajectory, last_image
from ..engines.base import Cancelled, CancelToken
from ..runner import Event, PausePolicy
from . import board
from .board import View
from .errors import clean
from .inputs import step_or_latest
from .uploads import region_mask


class Activity:
    """Stop buttons: one cancel token per session with a stage in flight."""

    def __init__(self) -> None:
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()

    def start(self, session_id: str) -> CancelToken:
        with self._lock:
            if session_id in self._tokens:
                raise StudioError(
                    "This session is already running; press Stop, or wait for it to finish."
                )
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


class ModelWork:
    """The streamed actions of `actions.Studio` (a mixin: it uses the studio's runner, store and person)."""

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
            return "rejected and redrawn with a new seed", redrawn.id

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
                if event.kind == "started":
                    yield View(
                        running=True,
                        full=False,
                        progress={
                            "stage": event.stage.value,
                            "fraction": 0.0,
                            "message": f"{event.stage.value}…",
                        },
                    )
                elif event.kind == "progress" and event.progress is not None:
                    update = event.progress
                    yield View(
                        running=True,
                        full=False,
                        preview=board.preview_url(update.preview)
                        if update.preview is not None
                        else None,
                        progress={
                            "stage": event.stage.value,
                            "fraction": round(update.fraction, 3),
                            "message": f"{event.stage.value} {update.message}".strip(),
                        },
                    )
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
        if isinstance(
            error, Cancelled
        ):  # Stop pressed during a single stage: nothing of it was committed
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
        if (
            not view.cards and view.tree == last_tree
        ):  # nothing new since the last commit: just say it is done
            view = View(session=view.session, selected=view.selected, note=note, full=False)
        yield view
