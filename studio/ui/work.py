"""Model work in flight: the Stop buttons' cancel tokens, and what the page sees while a stage draws.

The streamed actions themselves (Step, Run to end, Reject & redraw, Refine) are `Studio` methods in
`studio.ui.actions`; they run the work in a thread, register it here so Stop can cancel the stage
in flight, and turn each of the runner's events into a view (`progress_view` while a stage draws,
the new cards when it commits). Committed stages are always kept.
"""

from __future__ import annotations

import threading

from ..core.domain import StudioError
from ..engines.base import CancelToken
from ..runner import Event
from . import board
from .board import View


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


def progress_view(event: Event) -> View | None:
    """The short view a "started" or "progress" event shows (stage, fraction, live preview); None for
    the other events.

    Example: a sketch half drawn,
    `Event("progress", Stage.SKETCH, progress=Progress(Stage.SKETCH, 0.5, "step 10/20"))`, shows
    `{"stage": "sketch", "fraction": 0.5, "message": "sketch step 10/20"}` and the preview.
    """
    if event.kind == "started":
        return View(
            running=True,
            full=False,
            progress={
                "stage": event.stage.value,
                "fraction": 0.0,
                "message": f"{event.stage.value}…",
            },
        )
    if event.kind == "progress" and event.progress is not None:
        update = event.progress
        return View(
            running=True,
            full=False,
            preview=board.preview_url(update.preview) if update.preview is not None else None,
            progress={
                "stage": event.stage.value,
                "fraction": round(update.fraction, 3),
                "message": f"{event.stage.value} {update.message}".strip(),
            },
        )
    return None
