"""The studio's HTTP API: one named endpoint per action, for `gradio_client` and scripts.

Each endpoint is a small typed function (the types become the API page's schema) that
calls the same `Studio` method the page calls and replies with the named view
(`view["session"]["version"]`, `view["cards"]`, `view["note"]`, …). Model work answers
once, when it is done; a mistake reaches the client as one readable line.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Iterator

import gradio as gr

from .. import engines as registry
from ..domain import RunSettings, StudioError
from .actions import EXPORT_FORMATS, Studio, failure
from .board import View

Who = Callable[[Any], Any]  # a Gradio request → the Person acting (None: nobody logged in)


def endpoint(function: Callable, studio: Studio, who: Who) -> Callable:
    """An endpoint for `function(studio, ...)`: acts as the logged-in person, answers with the view as a dict;
    StudioError → one line; anything else logged. The request is Gradio's (not an input of the API)."""
    signature = inspect.signature(function)
    # Gradio passes a request only to a positional parameter annotated gr.Request; it is never an API input.
    request = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request
    )
    public = signature.replace(parameters=[*list(signature.parameters.values())[1:], request])

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            inputs = public.bind(*args, **kwargs).arguments
            acting = studio.acting_as(who(inputs.pop("request", None)))
            result = function(acting, **inputs)
            if isinstance(
                result, Iterator
            ):  # model work: one answer, with every card the stream sent
                result = _last_full(result)
            return result.to_dict() if isinstance(result, View) else result
        except Exception as error:  # noqa: BLE001 — turned into one line by `failure`
            raise gr.Error(failure(error, function.__name__)) from None

    call.__signature__ = public  # type: ignore[attr-defined]
    call.__annotations__ = {
        **{k: v for k, v in function.__annotations__.items() if k != "studio"},
        "request": gr.Request,
    }
    del call.__wrapped__  # the API's schema comes from __signature__, not from `function`
    return call


def _last_full(stream: Iterator[View]) -> View:
    full, cards = None, {}
    for view in stream:
        if view.error:
            raise StudioError(view.error)
        if view.full:
            full = view
            cards.update(view.cards)
        elif full is not None and view.session:  # "done": the last full view, with its note
            full.session, full.selected, full.note, full.running = (
                view.session,
                view.selected,
                view.note,
                False,
            )
    full.cards = {step_id: cards[step_id] for step_id, _ in full.tree}
    return full


# One function per endpoint: its name is the API name, its typed parameters after `studio` the API's
# inputs (the person acting is the request's login, never an input).


def new_session(
    studio: Studio,
    prompt: str,
    engine: str = registry.DEFAULT_ENGINE,
    seed: float | None = None,
    random_seed: bool = True,
    rounds: float = RunSettings.max_rounds,
    mode: str = "process",
    params: str = "{}",
) -> dict:
    """Start a session; nothing is drawn until /step or /run."""
    return studio.new_session(prompt, engine, seed, random_seed, rounds, mode, params)


def open_session(studio: Studio, session_id: str, step_id: str = "") -> dict:
    """The whole session view (every card)."""
    return studio.open_session(session_id, step_id)


def step(studio: Studio, session_id: str, version: int | None = None) -> dict:
    """Run the next stage."""
    return studio.step(session_id, version)


def run(studio: Studio, session_id: str, version: int | None = None, pause: str = "never") -> dict:
    """Run until finished, or until the pause policy (every | inspect | never) stops."""
    return studio.run(session_id, version, pause)


def stop(studio: Studio, session_id: str) -> dict:
    """Stop the stage in flight; committed stages are kept."""
    return studio.stop(session_id)


def edit_plan(
    studio: Studio,
    session_id: str,
    version: int | None,
    step_id: str,
    instruction: str,
    description: str,
) -> dict:
    """Edit a plan's <ins>/<des> (empty step_id: the latest plan)."""
    return studio.edit_plan(session_id, version, step_id, instruction, description)


def accept(studio: Studio, session_id: str, version: int | None, step_id: str) -> dict:
    """Accept an image (empty step_id: the latest)."""
    return studio.accept(session_id, version, step_id)


def reject(
    studio: Studio, session_id: str, version: int | None, step_id: str, note: str = ""
) -> dict:
    """Reject an image with a reason, and draw it again."""
    return studio.reject(session_id, version, step_id, note)


def override(
    studio: Studio,
    session_id: str,
    version: int | None,
    step_id: str,
    plan_passed: bool,
    plan_critique: str,
    sketch_passed: bool,
    sketch_critique: str,
) -> dict:
    """Override a verdict's two checks."""
    return studio.override(
        session_id, version, step_id, plan_passed, plan_critique, sketch_passed, sketch_critique
    )


def refine(
    studio: Studio,
    session_id: str,
    version: int | None,
    step_id: str,
    instruction: str,
    region: str = "",
) -> dict:
    """Your own <refine>; region: an optional PNG data URL whose painted (opaque) pixels may change."""
    return studio.refine(session_id, version, step_id, instruction, region or None)


def fork(studio: Studio, session_id: str, version: int | None, step_id: str) -> dict:
    """Rewind to a step: the next stage starts a new branch there."""
    return studio.fork(session_id, version, step_id)


def switch_branch(studio: Studio, session_id: str, version: int | None, step_id: str) -> dict:
    """Continue on the newest branch through a step (a branch's end, or any step on it)."""
    return studio.switch_branch(session_id, version, step_id)


def list_sessions(studio: Studio, search: str = "") -> list:
    """Gallery cards, newest first."""
    return studio.list_sessions(search)


def rename(studio: Studio, session_id: str, version: int | None, title: str) -> dict:
    """Rename a session."""
    return studio.rename(session_id, version, title)


def delete(studio: Studio, session_id: str) -> dict:
    """Delete a session and the images only it used."""
    return studio.delete(session_id)


def compare(studio: Studio, session_id: str, left: str, right: str) -> dict:
    """Two branches (by their end steps) aligned round by round."""
    return studio.compare(session_id, left, right)


def rate(studio: Studio, session_id: str, step_id: str, value: str, note: str = "") -> dict:
    """Rate an image: "up"/"down" or "1".."5", with an optional note (recorded with your name)."""
    return studio.rate(session_id, step_id, value, note)


def prefer(
    studio: Studio, session_id: str, left: str, right: str, choice: str, note: str = ""
) -> dict:
    """Judge two images of a session (e.g. aligned rounds of two branches): "left", "right" or "tie"."""
    return studio.prefer(session_id, left, right, choice, note)


def share(studio: Studio, session_id: str, version: int | None, shared: bool) -> dict:
    """Share a session with the team (true) or make it private to its owner (false)."""
    return studio.share(session_id, version, shared)


def export(studio: Studio, session_id: str, format: str, scope: str) -> str:
    """A zip of one session (or all) in an export format."""
    return studio.export(session_id, format, scope)["path"]


def import_png(studio: Studio, path: str) -> dict:
    """Reopen the session a final PNG carries."""
    return studio.import_png(path)


QUICK = (
    new_session,
    open_session,
    edit_plan,
    accept,
    override,
    fork,
    switch_branch,
    list_sessions,
    rename,
    delete,
    compare,
    rate,
    prefer,
    share,
)
MODEL_WORK = (step, run, reject, refine)  # queued with the page's model work


def register(studio: Studio, who: Who) -> None:
    """Declare every endpoint inside the current `gr.Blocks`."""
    models = dict(concurrency_id="models", concurrency_limit="default")

    for function in QUICK:
        gr.api(endpoint(function, studio, who), api_name=function.__name__)
    for function in MODEL_WORK:
        gr.api(endpoint(function, studio, who), api_name=function.__name__, **models)
    gr.api(endpoint(stop, studio, who), api_name="stop", queue=False)

    # Files travel through file components; hidden, since the page has its own controls.
    with gr.Row(visible=False):
        scope = gr.Radio(["this session", "all sessions"], value="this session")
        export_in = [gr.Textbox(), gr.Dropdown(list(EXPORT_FORMATS), value="folder"), scope]
        export_out, png_in, png_view = gr.File(), gr.File(type="filepath"), gr.JSON()
        export_button, import_button = gr.Button(), gr.Button()

    export_button.click(endpoint(export, studio, who), export_in, export_out, api_name="export")
    import_button.click(endpoint(import_png, studio, who), png_in, png_view, api_name="import_png")
