"""The studio page and its HTTP API, declared in one place; what each action does lives in `actions`.

The page is one `gr.HTML` component (static/page.html, page.css, and the script in `SCRIPT`):
a storyboard of the loop, a large canvas for the selected step, the branch tree, the
session gallery and a branch comparison. Its script calls quick actions as Gradio
server functions, each with an object of named fields (`call("accept", {session_id, version,
step_id, have})` in static/core.js), and starts model work as a streamed event; every reply is a
`board.View` that the script merges (only new or changed cards travel).

The HTTP API (for `gradio_client`) has one named endpoint per action, each returning
the same named view: /new_session, /open_session, /step, /run, /stop, /edit_plan,
/accept, /reject, /override, /refine, /fork, /switch_branch, /list_sessions, /rename,
/delete, /compare, /export, /import_png. Page and API go through one boundary (`api`): the same
declared arguments, the same checks, one error path. Images and export zips are served by the
studio's own routes (`routes`), by hash and by name, never by a server path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from .. import engines as registry
from ..core.domain import MAX_PROMPT_CHARS, Mode, RunSettings, StudioError
from ..runner import PausePolicy, Runner
from . import api, bodies
from .actions import EXPORT_FORMATS, Studio, clean, failure
from .auth import login_name
from .board import View
from .routes import studio_routes

STATIC = Path(__file__).parent / "static"  # the page: page.html, page.css and the script's files
# The page's script, one file per thing it draws, joined in this order into gr.HTML's one js_on_load body
# (so they share one scope: the core's state `S`, `call` and `apply` first, the start last).
SCRIPT = (
    "core.js",  # state S, call / work, apply, the status line, the URL, esc / bdi / iso, toast
    "storyboard.js",  # the head line and the board of cards
    "tree.js",  # the branch tree
    "canvas.js",  # the large image, evidence boxes, the region brush
    "panel.js",  # the selected step's fields and actions, rating
    "controls.js",  # the left column, run controls, keyboard
    "gallery.js",  # the views, the sessions gallery, export and import
    "compare.js",  # two branches side by side, preferences
    "start.js",  # who the page acts for, the first drawing, the session in the URL
)
# The page has the window to itself: no footer, and none of Gradio's own margins around the one component.
CSS = (
    "footer { display: none !important; } .gradio-container { padding: 0 8px !important; } "
    ".gradio-container .main { padding: 4px 0 0 !important; } #studio .html-container { padding: 0 !important; }"
)
PAUSES = [
    ["every", "after every stage"],
    ["inspect", "at each verdict"],
    ["never", "never (run to the end)"],
]
SHORTCUTS = [
    ["s", "Step"],
    ["r", "Run to end"],
    ["a", "Accept the selected image"],
    ["x", "Reject & redraw"],
    ["j / k", "next / previous step"],
    ["b", "toggle evidence boxes"],
    ["n", "toggle the names of what was drawn"],
]


def engine_note(name: str) -> dict[str, Any]:
    """What the engine picker says about an engine: its label and what it can do, or why it cannot run."""
    try:
        engine = registry.load(name)
    except Exception as error:  # noqa: BLE001 — shown to the person choosing the engine
        return {"name": name, "ok": False, "note": clean(str(error))}
    flags = [
        f
        for f, on in (
            ("region refine", engine.capabilities.region_edit),
            ("needs a GPU", engine.capabilities.needs_gpu),
        )
        if on
    ]
    return {
        "name": name,
        "ok": True,
        "region": engine.capabilities.region_edit,
        "note": engine.label + (f" ({', '.join(flags)})" if flags else ""),
    }


def page_script() -> str:
    """The page's script: the files of `SCRIPT`, joined in order into one js_on_load body."""
    return "\n".join((STATIC / name).read_text() for name in SCRIPT)


def launch_options(demo: gr.Blocks) -> dict[str, Any]:
    """What `launch()` needs for this page (`demo` from `build_ui`): the CSS, and the studio's own
    routes for images and export zips (`routes`). No folder is served through Gradio's
    `allowed_paths`: the images and the database stay out of its reach."""
    app_kwargs = {"routes": list(demo.studio_routes), "middleware": bodies.middleware()}
    return dict(css=CSS, ssr_mode=False, app_kwargs=app_kwargs)


def build_ui(
    runner: Runner, default_engine: str = registry.DEFAULT_ENGINE, accounts: Any = None
) -> gr.Blocks:
    """The page and the API. With `accounts` (studio.core.accounts.Accounts; launch with auth=accounts.check) every
    action acts as the logged-in person; without, as the local user, who sees every session."""
    studio = Studio(runner)

    def who(request: Any):
        if accounts is None:
            return None
        name = login_name(request)
        # Gradio checked the login before the call; a lost cookie must not widen what is seen.
        if not name:
            raise StudioError(
                "You are not logged in (or your login expired): reload the page and log in."
            )
        return accounts.person(name)

    names = registry.names()
    settings = RunSettings()
    with gr.Blocks(title="Stroke Studio", fill_width=True) as demo:
        page = gr.HTML(
            None,
            elem_id="studio",
            html_template=(STATIC / "page.html").read_text(),
            css_template=(STATIC / "page.css").read_text(),
            js_on_load=page_script(),
            apply_default_css=False,
            server_functions=api.page_functions(studio, who),
            engines=[engine_note(n) for n in names],
            default_engine=default_engine,
            max_prompt=MAX_PROMPT_CHARS,
            pauses=PAUSES,
            default_pause=PausePolicy.NEVER.value,
            default_rounds=settings.max_rounds,
            modes=[m.value for m in Mode],
            formats=list(EXPORT_FORMATS),
            shortcuts=SHORTCUTS,
        )

        # Model work from the page: one streamed event; each yield is a view the script merges.
        def work(event: gr.EventData, request: gr.Request) -> Iterator[dict]:
            data = event._data if isinstance(event._data, dict) else {}
            try:
                acting = studio.acting_as(who(request))
            except Exception as error:  # noqa: BLE001 — turned into one line by `failure`
                view = View(error=failure(error, "work"), full=False)
                yield {**view.to_dict(), "seq": data.get("seq")}
                return
            yield from api.page_work(acting, data)

        page.submit(
            work,
            None,
            page,
            show_progress="hidden",
            api_name=False,
            concurrency_id="models",
            concurrency_limit="default",
        )

        api.register(studio, who)
    demo.studio_routes = studio_routes(studio, accounts)  # type: ignore[attr-defined]
    return demo
