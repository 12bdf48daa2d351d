"""Fault injection through the HTTP API (gradio_client against the real studio in-process).

Every hostile input to /new_session, /list_sessions, /open_session, /rename, /delete, /step,
/refine, /export and /import_png gets a readable one-line error — not Gradio's "upstream app
raised an exception", never a file path or database URL — or is legitimately accepted; the
server logs no traceback; and a refused input leaves the database and image folder as they were.
"""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio import engines
from studio.core import limits
from studio.core.domain import StudioError

from ..kits import hostile_kit as kit
from ..kits.fakes import ScriptedEngine
from ..kits.ui_server import running_studio

ENGINE = "hostile-http"
TALLY = kit.Tally("http")
FUZZ = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LEAKS = re.compile(r"(/tmp/|/work/|/home/|sqlite:|postgresql|\.db\b|Traceback|upstream Gradio)")
HOSTILE_TEXT = st.text(st.characters(exclude_categories=()), max_size=40) | st.builds(
    lambda a, b: a + b, st.text(max_size=8), st.sampled_from(["\udcff", "\ud800", "\x00", "%", "_"])
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    engines.register(ENGINE, ScriptedEngine)
    data = tmp_path_factory.mktemp("hostile-http") / "data"
    with running_studio(data, ENGINE) as (url, store):
        client = Client(url, verbose=False, download_files=False)
        view = client.predict(
            "a cat and a dog", ENGINE, 3, False, 2, "process", "{}", api_name="/new_session"
        )
        client.predict(view["session"]["id"], view["session"]["version"], "never", api_name="/run")
        yield client, store, data, view["session"]["id"], url
    engines.unregister(ENGINE)
    TALLY.save()


def state(data) -> dict:
    """The database rows and image files (Gradio's upload cache and export zips are not data)."""
    return {k: v for k, v in kit.snapshot(data).items() if not k.startswith(".gradio")}


def call(server, api_name: str, *args):
    """(result, error message) of one endpoint call. Plain HTTP with JSON escapes, as any client may send:
    gradio_client cannot send lone surrogates, which JSON's \\ud800 escapes carry fine."""
    client, url = server[0], server[4]
    if any(
        isinstance(a, dict) and "path" in a for a in args
    ):  # an uploaded file: gradio_client uploads it
        try:
            return client.predict(*args, api_name=api_name), None
        except AppError as error:
            return None, str(error)
    name = api_name.strip("/")
    started = httpx.post(
        f"{url}gradio_api/call/{name}",
        content=json.dumps({"data": list(args)}).encode(),
        headers={"content-type": "application/json"},
        timeout=60,
    )
    if started.status_code != 200:
        return None, f"HTTP {started.status_code}: {started.text[:300]}"
    reply = httpx.get(f"{url}gradio_api/call/{name}/{started.json()['event_id']}", timeout=120).text
    event = re.findall(r"^event: (\w+)\ndata: (.*)$", reply, re.M)[-1]
    data = json.loads(event[1])
    if event[0] == "complete":
        return data[0], None
    return None, (data or {}).get("error") or "the upstream Gradio app has raised an exception"


def attempt(server, caplog, api_name: str, *args, should_refuse: bool | None = True):
    """Call an endpoint; a refusal must be one readable line that leaks nothing, and change nothing."""
    data = server[2]
    before = state(data)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        result, message = call(server, api_name, *args)
    refused = (
        message is not None
        and "\n" not in message
        and not LEAKS.search(message)
        and len(message) < 400
    )
    logged = any(record.exc_info for record in caplog.records)
    changed = message is not None and state(data) != before
    expected = refused if should_refuse is None else should_refuse
    TALLY.record(
        refused_cleanly=refused,
        should_refuse=expected,
        traceback=logged or bool(message and "upstream Gradio" in message),
        changed=changed,
    )
    assert not logged, [r.getMessage() for r in caplog.records]
    assert not changed, f"{api_name}{args!r:.200} changed data"
    if message is not None:
        assert refused, message
    assert (message is not None) == expected or should_refuse is None, (api_name, args, message)
    return result, message


@FUZZ
@given(
    prompt=HOSTILE_TEXT,
    seed=st.none() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False),
    rounds=st.integers(-5, 2**70) | st.floats(allow_nan=False),
)
def test_new_session_takes_valid_inputs_and_refuses_the_rest(server, caplog, prompt, seed, rounds):
    try:
        limits.new_session(prompt, ENGINE, seed, False, rounds, "process", "{}", engines=engines)
        valid = True
    except StudioError:
        valid = False
    attempt(
        server,
        caplog,
        "/new_session",
        prompt,
        ENGINE,
        seed,
        False,
        rounds,
        "process",
        "{}",
        should_refuse=not valid,
    )


@pytest.mark.parametrize(
    "params",
    [
        '{"a": ' + "[" * 5000 + "]" * 5000 + "}",
        "[" * 100_000,
        '{"x": 1e999}',
        '{"x": NaN}',
        "not json",
        "[1]",
        json.dumps({"k" * 200: 1}),
        json.dumps({str(i): i for i in range(500)}),
        "\udcff",
    ],
)
def test_new_session_refuses_params_json_that_is_not_plain_small_data(server, caplog, params):
    attempt(server, caplog, "/new_session", "a cat", ENGINE, 1, False, 2, "process", params)


@pytest.mark.parametrize(
    "args",
    [
        ("a cat", ENGINE, "abc", False, 2, "process", "{}"),
        ("a cat", ENGINE, 1, False, "many", "process", "{}"),
        ("a cat", ENGINE, 1, False, 10**30, "process", "{}"),
        ("a cat", ENGINE, 1, False, 2, "paint", "{}"),
        ("a cat", "no-such-engine", 1, False, 2, "process", "{}"),
        ("", ENGINE, 1, False, 2, "process", "{}"),
        ("a" * 100_000, ENGINE, 1, False, 2, "process", "{}"),
    ],
)
def test_new_session_refuses_each_bad_input_in_one_line(server, caplog, args):
    attempt(server, caplog, "/new_session", *args)


@FUZZ
@given(search=HOSTILE_TEXT | st.text(min_size=1000, max_size=100_000))
def test_list_sessions_answers_any_search_or_refuses_it_in_one_line(server, caplog, search):
    result, message = attempt(server, caplog, "/list_sessions", search, should_refuse=None)
    if message is None and search.strip() in ("%", "_"):
        assert result == []  # wildcards match only themselves


@FUZZ
@given(ident=HOSTILE_TEXT | st.text("0123456789abcdef", max_size=40))
def test_any_session_id_opens_a_session_or_is_refused(server, caplog, ident):
    for api_name, args in (
        ("/open_session", (ident, "")),
        ("/rename", (ident, 0, "new")),
        ("/delete", (ident,)),
        ("/step", (ident, 0)),
    ):
        attempt(server, caplog, api_name, *args)  # no session has such an id


@pytest.mark.parametrize("version", ["abc", 2**80, -1, 1.5, "1e30"])
def test_a_version_that_is_not_a_small_whole_number_is_refused(server, caplog, version):
    session_id = server[3]
    attempt(server, caplog, "/rename", session_id, version, "new title")


def test_a_refine_region_that_is_not_an_image_is_refused(server, caplog):
    client, store, _, session_id, _ = server
    trajectory = store.load(session_id)
    sketch = next(s for s in trajectory.steps.values() if s.stage.value == "sketch")
    for region in (
        "not an image",
        "/etc/passwd",
        "data:image/png;base64,AAAA",
        json.dumps({"layers": [1]}),
    ):
        attempt(
            server,
            caplog,
            "/refine",
            session_id,
            trajectory.session.version,
            sketch.id,
            "make it blue",
            region,
        )


@pytest.mark.parametrize(
    "args",
    [
        ("0" * 32, "folder", "this session"),
        ("\udcff", "folder", "this session"),
        ("", "folder", "this session"),
        ("{id}", "zip-bomb", "this session"),
        ("{id}", "folder", "everything"),
    ],
)
def test_export_refuses_unknown_sessions_formats_and_scopes(server, caplog, args):
    args = tuple(a.format(id=server[3]) for a in args)
    attempt(server, caplog, "/export", *args)


@pytest.mark.parametrize(
    "kind",
    [
        "garbage pixels",
        "steps of another session",
        "bad zlib",
        "text-chunk bomb",
        "deep nesting",
        "payload is a list",
        "not a PNG",
        "no trajectory",
    ],
)
def test_import_png_refuses_crafted_files(server, caplog, tmp_path, kind):
    from .test_hostile_import import CRAFTED

    client, store, data, session_id, _ = server
    final = store.image_path(store.load(session_id).head().image.sha256).read_bytes()
    from studio.core import pngmeta

    path = tmp_path / "crafted.png"
    path.write_bytes(CRAFTED[kind]((data, session_id, final, pngmeta.read(final))))
    attempt(server, caplog, "/import_png", handle_file(str(path)))


def test_import_png_never_writes_into_the_session_it_names(server, caplog, tmp_path):
    from studio.core import pngmeta
    from studio.core.codec import trajectory_to_dict

    client, store, data, session_id, _ = server
    final = store.image_path(store.load(session_id).head().image.sha256).read_bytes()
    payload = pngmeta.read(final)
    payload["trajectory"]["session"]["prompt"] = "a forged prompt"
    for step in payload["trajectory"]["steps"]:  # other content: naming this session's images is
        step.update(image=None, region=None)  # refused (tests/hostile/test_hostile_import.py)
    path = tmp_path / "forged.png"
    path.write_bytes(kit.stamped(payload))
    before = trajectory_to_dict(store.load(session_id))
    view, message = attempt(
        server, caplog, "/import_png", handle_file(str(path)), should_refuse=False
    )
    assert trajectory_to_dict(store.load(session_id)) == before
    assert view["session"]["id"] != session_id


# -- invisible text, a failed first stage, the page's list limit (issue 20's smaller families) ------

INVISIBLE = ["\u200b", "\u200b\u200c\u200d", "\ufeff \u2060", "\u3164", "\u202e\u202c"]


@pytest.mark.parametrize("text", INVISIBLE)
def test_a_prompt_or_title_of_invisible_characters_is_refused_as_empty(server, caplog, text):
    _, message = attempt(server, caplog, "/new_session", text, ENGINE, 1, False, 2, "process", "{}")
    assert "empty" in message
    session_id = server[1].load(server[3]).session
    _, message = attempt(server, caplog, "/rename", session_id.id, session_id.version, text)
    assert "title is empty" in message


@pytest.mark.parametrize("prompt", ["0", "!!!"])
def test_run_never_deletes_a_session_whose_first_stage_fails(server, caplog, prompt):
    """The offline engine refuses these prompts at its first stage; the session /new_session
    confirmed stays (with its error said), where /run used to delete it without a word."""
    store = server[1]
    view, _ = attempt(
        server,
        caplog,
        "/new_session",
        prompt,
        "offline",
        1,
        False,
        2,
        "process",
        "{}",
        should_refuse=False,
    )
    session = view["session"]
    _, message = call(server, "/run", session["id"], session["version"], "never")
    kept = store.has_session(session["id"])
    TALLY.record(refused_cleanly=message is not None and kept, changed=not kept)
    assert message and "\n" not in message and not LEAKS.search(message), message
    assert kept, "the session was deleted"
    attempt(server, caplog, "/delete", session["id"], should_refuse=False)  # its person may


def page_call(server, name: str, **fields):
    """(reply, error) of one of the page's server functions, posted as the page's script posts it
    (an object of named fields)."""
    url = server[4]
    config = httpx.get(f"{url}config", timeout=30).json()
    component = next(
        c["id"]
        for c in config["components"]
        if name in (c.get("props") or {}).get("server_fns", [])
    )
    reply = httpx.post(
        f"{url}gradio_api/component_server",
        json={
            "session_hash": "hostile",
            "component_id": component,
            "fn_name": name,
            "data": fields,
        },
        timeout=60,
    )
    if reply.status_code != 200:
        return None, f"HTTP {reply.status_code}"
    body = reply.json()
    return body, body.get("error") if isinstance(body, dict) else None


@pytest.mark.parametrize("limit", [-1, 0, 10**8, "abc", 1.5, None, [1]])
def test_the_pages_session_list_refuses_a_limit_outside_its_range(server, caplog, limit):
    before = state(server[2])
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        reply, message = page_call(server, "list_sessions", search="", batch="", limit=limit)
    logged = any(record.exc_info for record in caplog.records)
    refused = (
        message is not None
        and "\n" not in message
        and "went wrong" not in message
        and not LEAKS.search(message)
    )
    TALLY.record(refused_cleanly=refused, traceback=logged, changed=state(server[2]) != before)
    assert refused and not logged, (reply, message)
