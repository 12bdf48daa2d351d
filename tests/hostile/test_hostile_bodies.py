"""Malformed raw bodies on Gradio's endpoints, against the real studio server: each gets a 4xx and
`{"error": "<one line>"}` (studio.ui.bodies), never pydantic's error list, a bare "Internal Server
Error" or a queued event that fails as `{"error": null}`; nothing is changed; a well-formed body
still works.
"""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..kits import hostile_kit as kit
from ..kits.ui_server import running_studio

TALLY = kit.Tally("bodies")
ENDPOINTS = (
    "gradio_api/call/list_sessions",
    "gradio_api/run/list_sessions",
    "gradio_api/queue/join",
    "gradio_api/component_server",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("hostile-bodies") / "data"
    with running_studio(data, "offline") as (url, store):
        config = httpx.get(f"{url}config", timeout=30).json()
        [page] = [c["id"] for c in config["components"] if c["type"] == "html"]  # the page
        yield url, store, data, page
    TALLY.save()


def held(store, data) -> tuple:
    """What the studio holds: its sessions (id, version) and its image files."""
    sessions = sorted((s.id, s.version) for s in store.list_sessions(limit=10_000))
    return sessions, sorted(p.name for p in (data / "images").rglob("*") if p.is_file())


def refused(server, path: str, body: bytes, status: int = 400) -> str:
    """POST `body`, record the case, assert a one-line refusal with `status`; the line."""
    url, store, data, _ = server
    before = held(store, data)
    reply = httpx.post(
        url + path, content=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    try:
        line = reply.json().get("error") if isinstance(reply.json(), dict) else None
    except ValueError:
        line = None
    clean = (
        reply.status_code == status
        and isinstance(line, str)
        and line.strip() != ""
        and "\n" not in line
        and "Traceback" not in reply.text
        and str(data) not in reply.text
    )
    changed = held(store, data) != before
    TALLY.record(refused_cleanly=clean, traceback="Traceback" in reply.text, changed=changed)
    assert clean and not changed, (path, body[:80], reply.status_code, reply.text[:300])
    return line


NOT_JSON = [b"", b"garbage{", b"\xff\xfe", b'{"data": [1,', b"NaN-ish {]"]
NOT_AN_OBJECT = [b"[1, 2]", b'"text"', b"5", b"null", b"true"]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("body", NOT_JSON + NOT_AN_OBJECT)
def test_a_body_that_is_not_a_json_object_is_refused_in_one_line(server, path, body):
    line = refused(server, path, body)
    assert "send a JSON object" in line


@pytest.mark.parametrize("path", ENDPOINTS[:3])
@pytest.mark.parametrize("data", [None, 5, "x", {"a": 1}])
def test_data_that_is_not_a_list_is_refused_in_one_line(server, path, data):
    body = {"session_hash": "s1", "fn_index": 0} if path.endswith("join") else {}
    line = refused(server, path, json.dumps({**body, "data": data}).encode())
    assert 'needs "data": a list' in line


@pytest.mark.parametrize(
    "api, data",
    [("list_sessions", []), ("rename", [None, None]), ("open_session", [[1]]), ("run", [])],
)
def test_too_few_values_are_refused_before_the_queue_not_as_a_null_error(server, api, data):
    """Without show_error (as app.py launches), Gradio's own answer was a queued event whose stream
    said `{"error": null}`."""
    for route in ("call", "run"):
        line = refused(server, f"gradio_api/{route}/{api}", json.dumps({"data": data}).encode())
        assert line.startswith(f"/{api} takes ") and f"{len(data)} w" in line


def test_an_unknown_endpoint_or_event_is_a_404_line_not_an_internal_error(server):
    line = refused(server, "gradio_api/call/nope", b'{"data": [1]}', 404)
    assert "no endpoint 'nope'" in line and "/?view=api" in line
    line = refused(server, "gradio_api/run/list_sessions", b'{"data": [1], "fn_index": 9999}', 404)
    assert "no event 9999" in line
    body = {"data": [], "fn_index": "0", "session_hash": "s1"}
    assert "fn_index" in refused(server, "gradio_api/queue/join", json.dumps(body).encode())


@pytest.mark.parametrize(
    "change, status, said",
    [
        ({"component_id": 99999}, 404, "no component 99999"),
        ({"component_id": "abc"}, 400, '"component_id" as a whole number'),
        ({"component_id": True}, 400, '"component_id" as a whole number'),
        ({"session_hash": 5}, 400, '"session_hash" as text'),
        ({"fn_name": None}, 400, '"fn_name" as text'),
        ({"data": "drop"}, 400, '"data"'),
    ],
)
def test_a_malformed_component_server_body_is_refused_in_one_line(server, change, status, said):
    body = {"session_hash": "s1", "component_id": server[3], "fn_name": "import_png", "data": []}
    body.update(change)
    if change.get("data") == "drop":
        del body["data"]
    assert said in refused(server, "gradio_api/component_server", json.dumps(body).encode(), status)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    path=st.sampled_from(ENDPOINTS),
    body=st.binary(max_size=40)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
        max_leaves=6,
    ).map(lambda v: json.dumps(v).encode()),
)
def test_any_generated_body_that_gradio_would_refuse_gets_one_line(server, path, body):
    url = server[0]
    reply = httpx.post(url + path, content=body, headers={"Content-Type": "application/json"})
    if reply.status_code < 400:
        return  # well-formed enough to reach the studio's own boundary (tests/hostile/test_hostile_http.py)
    TALLY.record(refused_cleanly=True)
    assert reply.status_code < 500 or "error" in reply.json(), reply.text[:300]
    said = reply.json().get("error", reply.json().get("detail"))
    assert isinstance(said, str) and "\n" not in said and "Traceback" not in reply.text


def test_well_formed_bodies_still_reach_the_studio(server):
    url, _, _, page = server
    started = httpx.post(f"{url}gradio_api/call/list_sessions", json={"data": [""]}, timeout=30)
    assert started.status_code == 200 and "event_id" in started.json()
    stream = httpx.get(
        f"{url}gradio_api/call/list_sessions/{started.json()['event_id']}", timeout=60
    )
    assert "event: complete" in stream.text
    body = {
        "session_hash": "s1",
        "component_id": page,
        "fn_name": "list_sessions",
        "data": {"search": "", "batch": ""},
    }
    listed = httpx.post(f"{url}gradio_api/component_server", json=body, timeout=30)
    assert listed.status_code == 200 and listed.json()["error"] in ("", None), listed.text[:300]
