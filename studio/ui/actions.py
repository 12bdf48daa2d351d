"""What each button does: open the session, call the runner, return the new view.

Handlers take plain values (ids, texts, numbers) so every one is also a named HTTP
endpoint that `gradio_client` can call. The page sends the session version it
shows; a stale version means another tab changed the session first, and the
handler answers with the fresh view and a conflict message instead of acting.
"""

from __future__ import annotations

import json
import os
import queue
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr
from PIL import Image, ImageChops

from ..domain import Conflict, Mode, RunSettings, Stage, StudioError, Trajectory, last
from ..engines.base import CancelToken
from ..runner import Event, PausePolicy, Runner
from . import view

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 4096 * 4096
UPLOAD_FORMATS = {"PNG", "JPEG", "WEBP"}
Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, MAX_UPLOAD_PIXELS)  # the bomb guard stays on

VIEW_SIZE = 17  # the number of outputs `render` returns, in `VIEW_OUTPUTS` order (see studio.ui)


def check_upload(path: str | Path) -> Image.Image:
    """Open an uploaded image only if it is a real PNG/JPEG/WebP of sane size; else say what is wrong."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise StudioError(f"That file is {size / 2**20:.1f} MB; images up to {MAX_UPLOAD_BYTES // 2**20} MB are accepted.")
    try:
        with Image.open(path) as image:
            if image.format not in UPLOAD_FORMATS:
                raise StudioError(f"That is a {image.format} file; upload a PNG, JPEG or WebP image.")
            if image.width * image.height > MAX_UPLOAD_PIXELS:
                raise StudioError(f"That image is {image.width}×{image.height}; the limit is 4096×4096 pixels.")
            image.load()
            return image.copy()
    except (Image.DecompressionBombError, Image.UnidentifiedImageError, OSError) as error:
        raise StudioError(f"That file is not an image this studio can read ({error}).") from None


def region_mask(editor_value: Any, size: tuple[int, int]) -> Image.Image | None:
    """The strokes a person painted on the region editor as an 'L' mask, or None if nothing was painted."""
    if not editor_value or not editor_value.get("layers"):
        return None
    mask = Image.new("L", size, 0)
    for layer in editor_value["layers"]:
        layer_image = check_upload(layer) if isinstance(layer, (str, Path)) else layer
        alpha = layer_image.convert("RGBA").getchannel("A").resize(size, Image.Resampling.NEAREST)
        mask = ImageChops.lighter(mask, alpha)
    return mask if mask.getbbox() else None


class Activity:
    """Stop buttons: one cancel token per session with a stage in flight."""

    def __init__(self) -> None:
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()

    def start(self, session_id: str) -> CancelToken:
        with self._lock:
            token = self._tokens[session_id] = CancelToken()
            return token

    def stop(self, session_id: str) -> bool:
        with self._lock:
            token = self._tokens.get(session_id)
        if token is not None:
            token.cancel()
        return token is not None

    def finish(self, session_id: str, token: CancelToken) -> None:
        with self._lock:
            if self._tokens.get(session_id) is token:
                del self._tokens[session_id]


class Actions:
    def __init__(self, runner: Runner):
        self.runner = runner
        self.store = runner.store
        self.activity = Activity()

    # -- views -------------------------------------------------------------------------------

    def render(self, trajectory: Trajectory | None, note: str = "") -> tuple:
        """All of the view's outputs for a trajectory (order: `studio.ui.VIEW_OUTPUTS`)."""
        branch = trajectory.branch() if trajectory and trajectory.session.head_id else []
        plan = last(branch, Stage.PLAN)
        verdict = last(branch, Stage.INSPECT)
        image_step = next((s for s in reversed(branch) if s.image is not None), None)
        editor = None
        if image_step is not None:
            editor = {"background": str(self.store.image_path(image_step.image.sha256)), "layers": [], "composite": None}
        steps = view.step_choices(trajectory)
        branches = view.branch_choices(trajectory)
        return (
            trajectory.session.id if trajectory else "",
            trajectory.session.version if trajectory else 0,
            view.timeline(self.store, trajectory),
            view.status_line(trajectory, note),
            plan.instruction if plan else "",
            plan.description if plan else "",
            bool(verdict and verdict.plan_check and verdict.plan_check.passed),
            verdict.plan_check.critique if verdict and verdict.plan_check else "",
            bool(verdict and verdict.sketch_check and verdict.sketch_check.passed),
            verdict.sketch_check.critique if verdict and verdict.sketch_check else "",
            gr.update(choices=steps, value=steps[-1][1] if steps else None),
            gr.update(choices=branches, value=trajectory.session.head_id if trajectory else None),
            gr.update(choices=branches, value=branches[0][1] if branches else None),
            gr.update(choices=branches, value=branches[-1][1] if branches else None),
            editor,
            trajectory.session.prompt if trajectory else gr.skip(),
            None,
        )

    def _open(self, session_id: str, version: float | None) -> Trajectory:
        if not (session_id or "").strip():
            raise StudioError("No session is open: type a prompt and press New session, or open one under Sessions.")
        trajectory = self.runner.open(session_id)
        if version is not None and int(version) != trajectory.session.version:
            raise Conflict("This session was changed in another tab or window; the view now shows the latest "
                           "state. Check it, then try again.")
        return trajectory

    def _act(self, session_id: str, version: float | None, action: Callable[[Trajectory], str]) -> tuple:
        """Run a quick human action; errors become a message beside the fresh view."""
        try:
            trajectory = self._open(session_id, version)
            note = action(trajectory)
            return self.render(trajectory, note)
        except Conflict as conflict:
            gr.Warning(str(conflict))
            return self.render(self.runner.open(session_id), "conflict: reloaded")
        except StudioError as error:
            raise gr.Error(str(error)) from None

    def _stream(self, session_id: str, version: float | None, work: Callable[[Trajectory, Any, CancelToken], str],
                progress: gr.Progress) -> Iterator[tuple]:
        """Run model work in a thread; yield a preview as it draws and the timeline as each stage commits."""
        try:
            trajectory = self._open(session_id, version)
        except Conflict as conflict:
            gr.Warning(str(conflict))
            yield self.render(self.runner.open(session_id), "conflict: reloaded")
            return
        except StudioError as error:
            raise gr.Error(str(error)) from None
        token = self.activity.start(trajectory.session.id)
        events: queue.Queue[Event | None] = queue.Queue()
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["note"] = work(trajectory, events.put, token)
            except Exception as error:  # noqa: BLE001 — reported to the page below
                outcome["error"] = error
            finally:
                events.put(None)

        threading.Thread(target=target, daemon=True, name="studio-stage").start()
        skip = tuple(gr.skip() for _ in range(VIEW_SIZE - 1))
        while (event := events.get()) is not None:
            if event.kind == "started":
                progress(0.0, desc=f"{event.stage.value}…")
            elif event.kind == "progress" and event.progress is not None:
                progress(event.progress.fraction, desc=f"{event.stage.value} {event.progress.message}")
                if event.progress.preview is not None:
                    yield skip + (event.progress.preview,)
            elif event.kind == "committed":
                yield self.render(trajectory, f"{event.stage.value} done")
        self.activity.finish(trajectory.session.id, token)
        error = outcome.get("error")
        if isinstance(error, StudioError):
            yield self.render(self.runner.open(trajectory.session.id), "stopped")
            raise gr.Error(str(error))
        if error is not None:
            raise error
        yield self.render(trajectory, outcome.get("note", ""))

    # -- the loop ----------------------------------------------------------------------------

    def new_session(self, prompt: str, engine: str, seed: float | None, random_seed: bool, rounds: float,
                    mode: str, params: str) -> tuple:
        try:
            engine_params = json.loads(params or "{}")
            if not isinstance(engine_params, dict):
                raise ValueError("not an object")
        except ValueError:
            raise gr.Error('Engine parameters must be a JSON object, e.g. {"steps": 20}.') from None
        try:
            settings = RunSettings(max_rounds=int(rounds), mode=Mode(mode), engine_params=engine_params)
            trajectory = self.runner.new_session(prompt, engine, None if random_seed or seed is None else int(seed),
                                                 settings)
        except StudioError as error:
            raise gr.Error(str(error)) from None
        return self.render(trajectory, "ready: press Step or Run to end")

    def step(self, session_id: str, version: float | None, progress=gr.Progress()) -> Iterator[tuple]:
        def work(trajectory, listener, token):
            step = self.runner.advance(trajectory, listener, token)
            return "finished" if step is None else f"paused after {step.stage.value}"

        yield from self._stream(session_id, version, work, progress)

    def run(self, session_id: str, version: float | None, pause: str, progress=gr.Progress()) -> Iterator[tuple]:
        def work(trajectory, listener, token):
            outcome = self.runner.run(trajectory, PausePolicy(pause), listener, token)
            return {"paused": "paused for you", "finished": "finished", "cancelled": "stopped"}[outcome.status]

        yield from self._stream(session_id, version, work, progress)

    def stop(self, session_id: str) -> str:
        return "stopping…" if self.activity.stop(session_id or "") else "nothing is running"

    # -- human actions -----------------------------------------------------------------------

    def _target(self, trajectory: Trajectory, step_id: str | None, *stages: Stage):
        """The chosen timeline step, or the latest step of the wanted kind at or before it."""
        branch = trajectory.branch(step_id or None)
        found = last(branch, *stages)
        if found is None:
            raise StudioError(f"There is no {' or '.join(s.value for s in stages)} step on this branch yet.")
        return found

    def edit_plan(self, session_id: str, version: float | None, step_id: str, instruction: str,
                  description: str) -> tuple:
        def action(trajectory):
            plan = self._target(trajectory, step_id, Stage.PLAN)
            edited = self.runner.edit_plan(trajectory, plan.id, instruction, description)
            return "plan edited" + (" (a new branch: the old plan was already drawn)" if edited.id != plan.id else "")

        return self._act(session_id, version, action)

    def accept(self, session_id: str, version: float | None, step_id: str) -> tuple:
        def action(trajectory):
            self.runner.accept(trajectory, self._target(trajectory, step_id, Stage.SKETCH, Stage.REFINE).id)
            return "accepted"

        return self._act(session_id, version, action)

    def reject(self, session_id: str, version: float | None, step_id: str, note: str,
               progress=gr.Progress()) -> Iterator[tuple]:
        def work(trajectory, listener, token):
            image_step = self._target(trajectory, step_id, Stage.SKETCH, Stage.REFINE)
            self.runner.reject(trajectory, image_step.id, note or "", listener=listener, cancel=token)
            return "rejected and redrawn with a new seed"

        yield from self._stream(session_id, version, work, progress)

    def override(self, session_id: str, version: float | None, step_id: str, plan_passed: bool, plan_critique: str,
                 sketch_passed: bool, sketch_critique: str) -> tuple:
        def action(trajectory):
            verdict = self._target(trajectory, step_id, Stage.INSPECT)
            self.runner.override(trajectory, verdict.id, plan_passed=plan_passed, plan_critique=plan_critique,
                                 sketch_passed=sketch_passed, sketch_critique=sketch_critique)
            return "verdict overridden"

        return self._act(session_id, version, action)

    def refine(self, session_id: str, version: float | None, step_id: str, instruction: str, editor: Any,
               progress=gr.Progress()) -> Iterator[tuple]:
        def work(trajectory, listener, token):
            target = self._target(trajectory, step_id, Stage.INSPECT, Stage.SKETCH, Stage.REFINE)
            image_step = last(trajectory.branch(target.id), Stage.SKETCH, Stage.REFINE)
            mask = region_mask(editor, (image_step.image.width, image_step.image.height)) if image_step else None
            self.runner.refine_with(trajectory, target.id, instruction, mask, listener, token)
            return "refined" + (" inside the drawn region" if mask is not None else "")

        yield from self._stream(session_id, version, work, progress)

    def fork(self, session_id: str, version: float | None, step_id: str) -> tuple:
        def action(trajectory):
            if not step_id:
                raise StudioError("Choose a timeline step (or branch) to rewind to.")
            self.runner.fork(trajectory, step_id)
            return "rewound: the next Step starts a new branch from here"

        return self._act(session_id, version, action)

    # -- sessions ----------------------------------------------------------------------------

    def open_session(self, session_id: str) -> tuple:
        try:
            return self.render(self.runner.open(session_id), "opened")
        except StudioError as error:
            raise gr.Error(str(error)) from None

    def list_sessions(self, search: str) -> list[list[str]]:
        return [[s.id, s.title, s.engine, s.prompt] for s in self.store.list_sessions(search=search or None)]

    def rename(self, session_id: str, version: float | None, title: str) -> tuple:
        return self._act(session_id, version, lambda t: self.runner.rename(t, title) or "renamed")

    def delete(self, session_id: str, search: str) -> tuple[list[list[str]], str]:
        try:
            self.store.delete_session(session_id)
        except StudioError as error:
            raise gr.Error(str(error)) from None
        return self.list_sessions(search), f"deleted {session_id[:8]}"

    def export(self, session_id: str, format: str, scope: str) -> str:
        """A zip of the chosen format, for download: this session, or every session."""
        from ..export import export_zip

        folder = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        if scope == "this session" and not session_id:
            raise gr.Error("No session is open; open one, or export all sessions.")
        sessions = [self.store.resolve_id(session_id)] if scope == "this session" else None
        try:
            handle, name = tempfile.mkstemp(dir=folder, prefix=f"stroke-studio-{format}-", suffix=".zip")
            os.close(handle)
            return str(export_zip(self.store, format, name, sessions=sessions))
        except StudioError as error:
            raise gr.Error(str(error)) from None

    def import_png(self, path: str) -> tuple:
        """A final PNG dropped on the page reopens the session it carries."""
        from ..export import import_path

        try:
            check_upload(path)
            report = import_path(self.store, path)
            return self.render(self.runner.open(report.session_ids[0]), "reopened from the PNG")
        except StudioError as error:
            raise gr.Error(str(error)) from None

    def compare(self, session_id: str, left: str, right: str) -> tuple[list, list]:
        """Two branches of one session side by side."""
        try:
            trajectory = self.runner.open(session_id)
        except StudioError as error:
            raise gr.Error(str(error)) from None
        sides = []
        for leaf in (left, right):
            if leaf and leaf in trajectory.steps:
                trajectory.session.head_id = leaf  # a local view only: nothing is committed
                sides.append(view.timeline(self.store, trajectory))
            else:
                sides.append([])
        return sides[0], sides[1]
