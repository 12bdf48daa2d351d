"""Everything the page can do, through gradio_client against a running studio (scripted engine)."""

from __future__ import annotations

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from studio import engines
from studio.domain import Author, Review, Stage

from .fakes import ScriptedEngine
from .ui_server import running_studio

ENGINE = "ui-api-scripted"


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    engines.register(ENGINE, lambda: ScriptedEngine(fail_rounds=(1,)))
    with running_studio(tmp_path_factory.mktemp("ui-api"), ENGINE) as (url, store):
        yield Client(url, verbose=False), store
    engines.unregister(ENGINE)


def new(client, prompt="a cat and a dog"):
    return client.predict(prompt, ENGINE, 11, False, 6, "process", "{}", api_name="/new_session")


def text_of(view):
    return " ".join(part.get("text", "") for message in view[2] for part in message["content"])


def test_new_session_then_step_through_the_loop(studio):
    client, store = studio
    view = new(client)
    session_id, version = view[0], view[1]
    assert "ready" in view[3]
    for expected in ("plan", "sketch", "inspect"):
        view = client.predict(session_id, version, api_name="/step")
        version = view[1]
        assert f"paused after {expected}" in view[3]
    assert [s.stage for s in store.load(session_id).branch()] == [Stage.PLAN, Stage.SKETCH, Stage.INSPECT]
    assert "sketch vs instruction" in text_of(view)


def test_every_human_action_is_an_endpoint(studio):
    client, store = studio
    view = new(client)
    sid = view[0]
    view = client.predict(sid, view[1], api_name="/step")  # plan
    view = client.predict(sid, view[1], "", "draw a tabby cat", "a tabby cat", api_name="/edit_plan")
    plan = store.load(sid).branch()[0]
    assert plan.instruction == "draw a tabby cat" and plan.original["instruction"] == "draw a cat"
    view = client.predict(sid, view[1], api_name="/step")  # sketch
    view = client.predict(sid, view[1], "", "too dark", api_name="/reject")
    trajectory = store.load(sid)
    assert [s.review for s in trajectory.children(plan.id)] == [Review.REJECTED, None]
    view = client.predict(sid, view[1], "", api_name="/accept")
    assert store.load(sid).head().review is Review.ACCEPTED
    view = client.predict(sid, view[1], "inspect", api_name="/run")
    assert "paused" in view[3]
    view = client.predict(sid, view[1], "", True, "fine", True, "I see the cat.", api_name="/override")
    verdict = store.load(sid).head()
    assert verdict.passed and verdict.author is Author.HUMAN and verdict.sketch_check.critique == "I see the cat."
    view = client.predict(sid, view[1], "", "make the cat orange", None, api_name="/refine")
    assert store.load(sid).head().instruction == "make the cat orange"
    first = store.load(sid).branch()[0]
    view = client.predict(sid, view[1], first.id, api_name="/fork")
    view = client.predict(sid, view[1], api_name="/step")
    assert len(store.load(sid).leaves()) >= 2
    leaves = sorted(store.load(sid).leaves(), key=lambda s: s.created_at)
    left, right = client.predict(sid, leaves[0].id, leaves[-1].id, api_name="/compare")
    assert left != right and left[0] == right[0]  # same prompt, different branches
    view = client.predict(sid, view[1], "Cat study", api_name="/rename")
    rows = client.predict("cat study", api_name="/list_sessions")
    assert [row[0] for row in rows["data"]] == [sid]
    reopened = client.predict(sid, api_name="/open_session")
    assert reopened[0] == sid and reopened[2] == view[2]


def test_a_stale_tab_gets_a_conflict_message_and_the_fresh_view(studio):
    client, store = studio
    view = new(client, "a clock")
    sid, stale_version = view[0], view[1]
    fresh = client.predict(sid, stale_version, api_name="/step")  # the first tab moves on
    reply = client.predict(sid, stale_version, "", "draw a wall clock", "", api_name="/edit_plan")
    assert "conflict" in reply[3] and reply[1] == fresh[1]
    assert store.load(sid).branch()[0].instruction == "draw a clock"  # nothing was applied


def test_errors_name_the_fix(studio):
    client, _ = studio
    with pytest.raises(AppError, match="prompt is empty"):
        client.predict("   ", ENGINE, 1, True, 6, "process", "{}", api_name="/new_session")
    with pytest.raises(AppError, match="JSON object"):
        client.predict("a cat", ENGINE, 1, True, 6, "process", "[1,", api_name="/new_session")
    with pytest.raises(AppError, match="No session"):
        client.predict("nope-nope", api_name="/open_session")
    assert client.predict("", api_name="/stop") == "nothing is running"


def test_delete_removes_the_session(studio):
    client, store = studio
    sid = new(client, "a doomed vase")[0]
    rows, note = client.predict(sid, "doomed", api_name="/delete")
    assert rows["data"] == [] and "deleted" in note
    assert store.list_sessions(search="doomed") == []


def test_only_the_session_image_folder_is_served(studio):
    import httpx

    client, store = studio
    sid = new(client, "a kite")[0]
    view = client.predict(sid, None, "never", api_name="/run")
    image_step = next(s for s in store.load(sid).branch() if s.image is not None)
    base = client.src.rstrip("/")
    inside = httpx.get(f"{base}/gradio_api/file={store.image_path(image_step.image.sha256).resolve()}")
    assert inside.status_code == 200 and inside.content[:4] == b"\x89PNG"
    for outside in ("/etc/passwd", str(store.data_dir.resolve() / "studio.db")):
        assert httpx.get(f"{base}/gradio_api/file={outside}").status_code in (403, 404)
    assert "finished" in view[3]


def test_stop_interrupts_a_run_and_keeps_what_was_committed(tmp_path):
    engines.register("ui-slow", lambda: ScriptedEngine(delay=2.0))
    try:
        with running_studio(tmp_path / "slow", "ui-slow") as (url, store):
            client = Client(url, verbose=False)
            view = client.predict("a cat", "ui-slow", 1, False, 6, "process", "{}", api_name="/new_session")
            job = client.submit(view[0], view[1], "never", api_name="/run")
            import time

            deadline = time.monotonic() + 30
            while store.count_steps(view[0]) < 1:  # the plan is in; the slow sketch is being drawn
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.3)
            assert client.predict(view[0], api_name="/stop") == "stopping…"
            final = job.result(timeout=30)
            assert "stopped" in final[3]
            assert [s.stage for s in store.load(view[0]).branch()] == [Stage.PLAN]
    finally:
        engines.unregister("ui-slow")


def test_export_button_gives_a_zip_and_a_dropped_final_png_reopens_its_session(studio, tmp_path):
    import zipfile

    from gradio_client import handle_file

    client, store = studio
    sid = new(client, "a red kite")[0]
    client.predict(sid, None, "never", api_name="/run")
    archive = client.predict(sid, "folder", "this session", api_name="/export")
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
    assert any(n.endswith(".jsonl") for n in names) and any(n.endswith(".png") for n in names)

    final = store.load(sid).branch()[-1]
    assert final.stage is Stage.FINAL
    copy = tmp_path / "final.png"
    copy.write_bytes(store.image_path(final.image.sha256).read_bytes())
    view = client.predict(handle_file(str(copy)), api_name="/import_png")
    assert view[0] == sid and "reopened" in view[3]
    with pytest.raises(AppError, match="not an image"):
        bogus = tmp_path / "bogus.png"
        bogus.write_text("hello")
        client.predict(handle_file(str(bogus)), api_name="/import_png")


def test_a_saved_session_reopens_exactly_as_it_was_after_a_server_restart(tmp_path):
    engines.register("ui-restart", lambda: ScriptedEngine(fail_rounds=(1,)))
    try:
        with running_studio(tmp_path / "data", "ui-restart") as (url, _):
            client = Client(url, verbose=False)
            view = client.predict("a cat and a dog", "ui-restart", 3, False, 6, "process", "{}",
                                  api_name="/new_session")
            view = client.predict(view[0], view[1], "inspect", api_name="/run")
            view = client.predict(view[0], view[1], "", True, "fine", True, "fine", api_name="/override")
            before = client.predict(view[0], api_name="/open_session")
        with running_studio(tmp_path / "data", "ui-restart") as (url, _):
            after = Client(url, verbose=False).predict(view[0], api_name="/open_session")
        assert after[:10] == before[:10]  # id, version, timeline, status, plan and verdict fields
    finally:
        engines.unregister("ui-restart")
