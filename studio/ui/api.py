"""The studio's one boundary: every action a browser or a client can reach, declared once.

Each action is a small typed function (the types become the API page's schema). The HTTP API
registers one named endpoint per function (`register`); the page's server functions and its
streamed model work are the same functions (`page_functions`, `page_work`), called with an object
of named fields, e.g. `{"session_id": "3f2a…", "version": 4, "step_id": "9c1e…", "have": [...]}`.
Both bind what was sent to the declared signature by name and check each argument's shape there
(`Declared.bind`): text is text, a number is a number or the text of one, a yes/no is one, card
keys are a short list of short strings, a name the action does not declare is refused; the values
themselves are checked by `studio.core.limits` inside the action. A mistake takes
one path (`failure`) and reaches the client as one readable line. A file arrives only as an
upload in Gradio's folder (`uploads.read_upload`); no action opens a path a caller names.
"""

from __future__ import annotations

import functools
import inspect
import re
import types
import typing
from typing import Any, Callable, Iterator

import gradio as gr

from .. import engines as registry
from ..core.domain import RunSettings, StudioError
from .actions import EXPORT_FORMATS, Gone, Studio, exports_dir, failure
from .board import View
from .inputs import flag
from .uploads import read_upload

Who = Callable[[Any], Any]  # a Gradio request → the Person acting (None: nobody logged in)
Have = typing.Optional[list[str]]  # the card keys a page already holds (only new cards are sent)
# Sent by the page only: the HTTP API's inputs stay exactly as they were (a raw client sends them all).
PAGE_ONLY = ("have", "batch")
MAX_HAVE = 10_000
MAX_KEY_CHARS = 64
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")  # a field name safe to repeat in a refusal


def _shape(name: str, hint: Any) -> tuple[Callable[[Any], Any], bool]:
    """How an argument declared as `hint` is checked (returning the value to pass on), and whether
    None is one of its values."""
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        parts = [h for h in typing.get_args(hint) if h is not type(None)]
        optional = len(parts) < len(typing.get_args(hint))
        hint = parts[0] if len(parts) == 1 else Any
    what = name.replace("_", " ")

    def text(value: Any) -> Any:
        if not isinstance(value, str):
            raise StudioError(f"The {what} must be text, not {_kind(value)}.")
        return value

    def number(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise StudioError(f"The {what} must be a number, not {_kind(value)}.")
        return value

    def yes_no(value: Any) -> Any:
        if not isinstance(value, (bool, str, int)):
            raise StudioError(f"The {what} must be true or false, not {_kind(value)}.")
        return flag(value, f"The {what} must be true or false.")

    def keys(value: Any) -> Any:
        if not isinstance(value, list) or len(value) > MAX_HAVE:
            raise StudioError(f"The {what} must be a list of card keys; reload the page.")
        if not all(isinstance(k, str) and len(k) <= MAX_KEY_CHARS for k in value):
            raise StudioError(f"The {what} must be a list of card keys; reload the page.")
        return value

    if typing.get_origin(hint) is list:
        return keys, optional
    checks = {str: text, bool: yes_no, int: number, float: number}
    if hint not in checks:
        raise TypeError(f"{name}: declare it as str, bool, int, float or list[str], not {hint}")
    return checks[hint], optional


def _no_field(name: str) -> str:
    """How a refusal names an unknown field: by its name where it reads as one ("no field 'titel'");
    other text a caller sent as a name (a path, a long string) is not repeated back."""
    return f"no field {name!r}" if FIELD_NAME.fullmatch(name) else "no such field"


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


class Declared:
    """An action's declared arguments (its parameters after `studio`) and their checks."""

    def __init__(self, function: Callable):
        self.function = function
        self.name = function.__name__
        hints = typing.get_type_hints(function)
        parameters = list(inspect.signature(function).parameters.values())[1:]
        self.parameters = parameters
        self.checks = {p.name: _shape(p.name, hints[p.name]) for p in parameters}

    def bind(self, fields: Any) -> dict[str, Any]:
        """The named fields sent, checked: an object whose names are declared parameters, each of
        its declared shape; a missing one, or None, stands for "not given" where the parameter has
        a default. Anything else is refused in one line.

        Example (`rename`): `{"session_id": "3f2a…", "version": 4, "title": "Cats"}` binds to
        `{"session_id": "3f2a…", "version": 4, "title": "Cats", "have": None}`; the list
        `["3f2a…", 4, "Cats"]` is refused ("rename takes named fields, not a list of values;
        reload the page."), and so is `{"titel": "Cats"}` ("rename has no field 'titel' …").
        """
        if isinstance(fields, (list, tuple)):
            raise StudioError(
                f"{self.name} takes named fields, not a list of values; reload the page."
            )
        if not isinstance(fields, dict):
            raise StudioError(
                f"{self.name} takes an object of named fields, not {_kind(fields)}; reload the page."
            )
        names = [p.name for p in self.parameters]
        unknown = [k for k in fields if k not in self.checks]
        if unknown:
            known = f"its fields: {', '.join(names)}" if names else "it takes none"
            raise StudioError(f"{self.name} has {_no_field(unknown[0])} ({known}).")
        bound = {}
        for parameter in self.parameters:
            value = fields.get(parameter.name)
            check, optional = self.checks[parameter.name]
            if value is None and not optional:
                if parameter.default is inspect.Parameter.empty:
                    raise StudioError(f"{self.name} needs its {parameter.name.replace('_', ' ')}.")
                value = parameter.default
            bound[parameter.name] = value if value is None else check(value)
        return bound

    def __call__(self, studio: Studio, bound: dict[str, Any]) -> Any:
        return self.function(studio, **bound)


def endpoint(function: Callable, studio: Studio, who: Who) -> Callable:
    """An endpoint for `function(studio, ...)`: acts as the logged-in person, answers with the view as a dict;
    StudioError → one line; anything else logged. The request is Gradio's (not an input of the API)."""
    declared = Declared(function)
    signature = inspect.signature(function)
    # Gradio passes a request only to a positional parameter annotated gr.Request; it is never an API input.
    request = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request
    )
    inputs = [p for p in list(signature.parameters.values())[1:] if p.name not in PAGE_ONLY]
    public = signature.replace(parameters=[*inputs, request])

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            sent = public.bind_partial(*args, **kwargs).arguments
            acting = studio.acting_as(who(sent.pop("request", None)))
            result = declared(acting, declared.bind(sent))
            # Model work: one answer, with every card the stream sent.
            if isinstance(result, Iterator):
                result = _last_full(result)
            return result.to_dict() if isinstance(result, View) else result
        except Exception as error:  # noqa: BLE001 — turned into one line by `failure`
            raise gr.Error(failure(error, function.__name__)) from None

    call.__signature__ = public  # type: ignore[attr-defined]
    call.__annotations__ = {
        **{
            k: v
            for k, v in function.__annotations__.items()
            if k != "studio" and k not in PAGE_ONLY
        },
        "request": gr.Request,
    }
    del call.__wrapped__  # the API's schema comes from __signature__, not from `function`
    return call


def page_function(function: Callable, studio: Studio, who: Who) -> Callable[..., dict]:
    """A page server function for `function`, acting as the logged-in person. The page's script sends
    one value, an object of the action's named fields (`call` in static/core.js), bound and checked
    as the HTTP endpoint binds its own; the reply is a view (or `{"result": data}`), a failure is its
    `error`. Nothing sent (a function without fields) is an empty object."""
    declared = Declared(function)

    def wrapped(fields: Any = None, request: gr.Request = None) -> dict:
        try:
            bound = declared.bind({} if fields is None else fields)
            result = declared(studio.acting_as(who(request)), bound)
            return (
                result.to_dict() if isinstance(result, View) else {"result": result, "error": None}
            )
        except Exception as error:  # noqa: BLE001 — turned into one line by `failure`
            return _refused(error, declared.name).to_dict()

    wrapped.__name__ = declared.name
    wrapped.__doc__ = function.__doc__
    return wrapped


def page_work(studio: Studio, data: dict[str, Any]) -> Iterator[dict]:
    """Step, Run to end, Reject & redraw or Refine started from the page (a streamed event whose data
    names the action and its arguments by name); each view is answered with the page's `seq`."""
    seq = data.get("seq") if isinstance(data.get("seq"), int) else None
    action = data.get("action")
    try:
        function = next((f for f in MODEL_WORK if f.__name__ == action), None)
        if function is None:
            raise StudioError("Unknown action; reload the page.")
        declared = Declared(function)
        fields = {k: v for k, v in data.items() if k not in ("action", "seq")}
        for view in declared(studio, declared.bind(fields)):
            yield {**view.to_dict(), "seq": seq}
    except Exception as error:  # noqa: BLE001 — turned into one line by `failure`
        yield {**_refused(error, str(action)).to_dict(), "seq": seq}


def _refused(error: Exception, where: str) -> View:
    """A failure's answer to the page: one line; a session that is `Gone` also empties the view
    (a full view without a session), so the page stops showing it."""
    return View(error=failure(error, where), full=isinstance(error, Gone))


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
    full.held = ()  # a client holds nothing: the whole tree, every card
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


def open_session(studio: Studio, session_id: str, step_id: str = "", have: Have = None) -> dict:
    """The whole session view (every card but those whose keys are in `have`)."""
    return studio.open_session(session_id, step_id, have or ())


def step(studio: Studio, session_id: str, version: int | None = None, have: Have = None) -> dict:
    """Run the next stage."""
    return studio.step(session_id, version, have or ())


def run(
    studio: Studio,
    session_id: str,
    version: int | None = None,
    pause: str = "never",
    have: Have = None,
) -> dict:
    """Run until finished, or until the pause policy (every | inspect | never) stops."""
    return studio.run(session_id, version, pause, have or ())


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
    have: Have = None,
) -> dict:
    """Edit a plan's <ins>/<des> (empty step_id: the latest plan)."""
    return studio.edit_plan(session_id, version, step_id, instruction, description, have or ())


def accept(
    studio: Studio, session_id: str, version: int | None, step_id: str, have: Have = None
) -> dict:
    """Accept an image (empty step_id: the latest)."""
    return studio.accept(session_id, version, step_id, have or ())


def reject(
    studio: Studio,
    session_id: str,
    version: int | None,
    step_id: str,
    note: str = "",
    have: Have = None,
) -> dict:
    """Reject an image with a reason, and draw it again."""
    return studio.reject(session_id, version, step_id, note, have or ())


def override(
    studio: Studio,
    session_id: str,
    version: int | None,
    step_id: str,
    plan_passed: bool,
    plan_critique: str,
    sketch_passed: bool,
    sketch_critique: str,
    have: Have = None,
) -> dict:
    """Override a verdict's two checks."""
    return studio.override(
        session_id,
        version,
        step_id,
        plan_passed,
        plan_critique,
        sketch_passed,
        sketch_critique,
        have or (),
    )


def refine(
    studio: Studio,
    session_id: str,
    version: int | None,
    step_id: str,
    instruction: str,
    region: str = "",
    have: Have = None,
) -> dict:
    """Your own <refine>; region: an optional PNG data URL whose painted (opaque) pixels may change."""
    return studio.refine(session_id, version, step_id, instruction, region or None, have or ())


def fork(
    studio: Studio, session_id: str, version: int | None, step_id: str, have: Have = None
) -> dict:
    """Rewind to a step: the next stage starts a new branch there."""
    return studio.fork(session_id, version, step_id, have or ())


def switch_branch(
    studio: Studio, session_id: str, version: int | None, step_id: str, have: Have = None
) -> dict:
    """Continue on the newest branch through a step (a branch's end, or any step on it)."""
    return studio.switch_branch(session_id, version, step_id, have or ())


def list_sessions(studio: Studio, search: str = "", batch: str = "") -> list:
    """Gallery cards, newest first (optionally only one batch's)."""
    return studio.list_sessions(search, batch)


def rename(
    studio: Studio, session_id: str, version: int | None, title: str, have: Have = None
) -> dict:
    """Rename a session."""
    return studio.rename(session_id, version, title, have or ())


def delete(studio: Studio, session_id: str) -> dict:
    """Delete a session and the images only it used."""
    return studio.delete(session_id)


def compare(studio: Studio, session_id: str, left: str, right: str) -> dict:
    """Two branches (by their end steps) aligned round by round."""
    return studio.compare(session_id, left, right)


def rate(
    studio: Studio, session_id: str, step_id: str, value: str, note: str = "", have: Have = None
) -> dict:
    """Rate an image: "up"/"down" or "1".."5", with an optional note (recorded with your name)."""
    return studio.rate(session_id, step_id, value, note, have or ())


def prefer(
    studio: Studio, session_id: str, left: str, right: str, choice: str, note: str = ""
) -> dict:
    """Judge two images of a session (e.g. aligned rounds of two branches): "left", "right" or "tie"."""
    return studio.prefer(session_id, left, right, choice, note)


def share(
    studio: Studio, session_id: str, version: int | None, shared: bool, have: Have = None
) -> dict:
    """Share a session with the team (true) or make it private to its owner (false)."""
    return studio.share(session_id, version, shared, have or ())


def export(
    studio: Studio,
    session_id: str,
    format: str,
    scope: str = "this session",
    all_branches: bool = False,
) -> dict:
    """A zip of one session (or all) in an export format: what went in, and its download URL.
    `all_branches`: every branch of a session, not only the head's."""
    return studio.export(session_id, format, scope, all_branches)


def export_file(
    studio: Studio, session_id: str, format: str, scope: str, all_branches: bool = False
) -> str:
    """A zip of one session (or all) in an export format, as a file the client downloads;
    `all_branches`: every branch of a session, not only the head's."""
    return str(studio.export_zip(session_id, format, scope, all_branches)[0])


def import_png(studio: Studio, path: str) -> dict:
    """Reopen the session a final PNG carries; `path` is where Gradio put the upload (nothing else
    is opened)."""
    return studio.import_png(read_upload(path, studio.store, refused=[exports_dir()]))


def whoami(studio: Studio) -> dict:
    """Who the page acts for: the logged-in name and role, or the local user without logins."""
    return studio.whoami()


def list_batches(studio: Studio) -> list:
    """Batch names, for the gallery's filter."""
    return studio.list_batches()


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
# What the page's script calls directly (`server.accept({...})`); its model work is `page_work`.
PAGE = (*QUICK, stop, list_batches, export, import_png, whoami)


def page_functions(studio: Studio, who: Who) -> list[Callable]:
    """The page's server functions, through the same boundary as the endpoints."""
    return [page_function(function, studio, who) for function in PAGE]


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
        formats = gr.Dropdown(list(EXPORT_FORMATS), value="folder")
        export_in = [gr.Textbox(), formats, scope, gr.Checkbox(value=False)]
        export_out, png_in, png_view = gr.File(), gr.File(type="filepath"), gr.JSON()
        export_button, import_button = gr.Button(), gr.Button()

    export_button.click(
        endpoint(export_file, studio, who), export_in, export_out, api_name="export"
    )
    import_button.click(endpoint(import_png, studio, who), png_in, png_view, api_name="import_png")
