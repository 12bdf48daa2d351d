"""Everything the page can do, through gradio_client against a running studio (scripted engine)."""

from __future__ import annotations

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from studio import engines
from studio.core.domain import Author, Review, Stage, StudioError

from ..kits.fakes import ScriptedEngine
from ..kits.ui_server import running_studio

ENGINE = "ui-api-scripted"


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    engines.register(ENGINE, lambda: ScriptedEngine(fail_rounds=(1,)))
    with running_studio(tmp_path_factory.mktemp("ui-api"), ENGINE) as (url, store):
        yield Client(url, verbose=False), store
    engines.unregister(ENGINE)


def new(client, prompt="a cat and a dog"):
    return client.predict(prompt, ENGINE, 11, False, 6, "process", "{}", api_name="/new_session")


def ids(view):
    return view["session"]["id"], view["session"]["version"]


def test_new_session_then_step_through_the_loop(studio):
    client, store = studio
    view = new(client)
    session_id, version = ids(view)
    assert "ready" in view["note"] and view["session"]["state"] == "new"
    for expected in ("plan", "sketch", "inspect"):
        view = client.predict(session_id, version, api_name="/step")
        version = view["session"]["version"]
        assert f"paused after {expected}" in view["note"]
    branch = store.load(session_id).branch()
    assert [s.stage for s in branch] == [Stage.PLAN, Stage.SKETCH, Stage.INSPECT]
    assert view["branch"] == [s.id for s in branch] and view["selected"] == branch[-1].id
    verdict = view["cards"][branch[-1].id]
    assert verdict["stage"] == "inspect" and verdict["sketch_check"]["passed"] is False
    assert (
        verdict["image"] == view["cards"][branch[1].id]["image"]
    )  # the verdict shows the sketch it judged


def test_every_human_action_is_an_endpoint_and_acts_on_the_step_it_names(studio):
    client, store = studio
    view = new(client)
    sid = view["session"]["id"]
    view = client.predict(sid, view["session"]["version"], api_name="/step")  # plan
    plan_id = view["selected"]
    view = client.predict(
        sid,
        view["session"]["version"],
        plan_id,
        "draw a tabby cat",
        "a tabby cat",
        api_name="/edit_plan",
    )
    plan = store.load(sid).steps[plan_id]
    assert plan.instruction == "draw a tabby cat" and plan.original["instruction"] == "draw a cat"
    view = client.predict(sid, view["session"]["version"], api_name="/step")  # sketch
    sketch_id = view["selected"]
    view = client.predict(
        sid, view["session"]["version"], sketch_id, "too dark", api_name="/reject"
    )
    trajectory = store.load(sid)
    assert [s.review for s in trajectory.children(plan.id)] == [Review.REJECTED, None]
    assert trajectory.steps[sketch_id].review_note == "too dark"
    view = client.predict(
        sid, view["session"]["version"], "", api_name="/accept"
    )  # "": the latest image
    assert store.load(sid).head().review is Review.ACCEPTED
    view = client.predict(sid, view["session"]["version"], "inspect", api_name="/run")
    assert "paused after inspect" in view["note"]
    verdict_id = view["selected"]
    view = client.predict(
        sid,
        view["session"]["version"],
        verdict_id,
        True,
        "fine",
        True,
        "I see the cat.",
        api_name="/override",
    )
    verdict = store.load(sid).steps[verdict_id]
    assert (
        verdict.passed
        and verdict.author is Author.HUMAN
        and verdict.sketch_check.critique == "I see the cat."
    )
    view = client.predict(
        sid, view["session"]["version"], verdict_id, "make the cat orange", "", api_name="/refine"
    )
    assert store.load(sid).head().instruction == "make the cat orange"
    view = client.predict(sid, view["session"]["version"], plan_id, api_name="/fork")
    assert view["session"]["head"] == plan_id
    view = client.predict(sid, view["session"]["version"], api_name="/step")
    assert len(view["branches"]) == 2
    left, right = (b["leaf"] for b in view["branches"])
    compared = client.predict(sid, left, right, api_name="/compare")
    assert (
        compared["rows"][0]["left"][0] == compared["rows"][0]["right"][0] == plan_id
    )  # shared up to the fork
    assert (
        compared["fork_after"] == plan_id
        and compared["rows"][0]["left"] != compared["rows"][0]["right"]
    )
    view = client.predict(sid, view["session"]["version"], left, api_name="/switch_branch")
    assert view["session"]["head"] == left and "switched to branch 1" in view["note"]
    view = client.predict(sid, view["session"]["version"], "Cat study", api_name="/rename")
    cards = client.predict("cat study", api_name="/list_sessions")
    assert (
        [c["id"] for c in cards] == [sid] and cards[0]["title"] == "Cat study" and cards[0]["thumb"]
    )
    reopened = client.predict(sid, api_name="/open_session")
    assert reopened["session"] == view["session"] and reopened["tree"] == view["tree"]
    assert set(reopened["cards"]) == set(store.load(sid).steps)  # a reopen sends every card


def test_an_action_on_a_step_of_the_wrong_kind_is_refused_and_changes_nothing(studio):
    client, store = studio
    view = new(client, "a lamp")
    sid = view["session"]["id"]
    view = client.predict(sid, view["session"]["version"], api_name="/step")
    before = store.load(sid)
    with pytest.raises(AppError, match="That is a plan step; this action needs a inspect step"):
        client.predict(
            sid,
            view["session"]["version"],
            view["selected"],
            True,
            "",
            True,
            "",
            api_name="/override",
        )
    with pytest.raises(AppError, match="not part of session"):
        client.predict(sid, view["session"]["version"], "0" * 32, api_name="/accept")
    assert (
        store.load(sid).steps == before.steps
        and store.load(sid).session.version == before.session.version
    )


def test_a_stale_tab_gets_a_conflict_message_and_the_fresh_view(studio):
    client, store = studio
    view = new(client, "a clock")
    sid, stale_version = ids(view)
    fresh = client.predict(sid, stale_version, api_name="/step")  # the first tab moves on
    reply = client.predict(sid, stale_version, "", "draw a wall clock", "", api_name="/edit_plan")
    assert (
        "another tab" in reply["conflict"]
        and reply["session"]["version"] == fresh["session"]["version"]
    )
    assert store.load(sid).branch()[0].instruction == "draw a clock"  # nothing was applied


def test_errors_name_the_fix_and_never_show_a_path(studio):
    client, store = studio
    with pytest.raises(AppError, match="prompt is empty"):
        client.predict("   ", ENGINE, 1, True, 6, "process", "{}", api_name="/new_session")
    with pytest.raises(AppError, match="engine settings are not JSON"):
        client.predict("a cat", ENGINE, 1, True, 6, "process", "[1,", api_name="/new_session")
    with pytest.raises(AppError, match="not a session id"):
        client.predict("nope-nope", api_name="/open_session")
    with pytest.raises(AppError, match="No session"):
        client.predict("abcd" * 8, api_name="/open_session")
    with pytest.raises(AppError, match="whole number") as raised:
        client.predict("a cat", ENGINE, 1, True, "many", "process", "{}", api_name="/new_session")
    assert str(store.data_dir) not in str(raised.value)
    assert client.predict("", api_name="/stop")["note"] == "nothing is running"


def test_a_finished_branch_says_so_on_step(studio):
    client, _ = studio
    view = new(client, "a kite")
    view = client.predict(view["session"]["id"], None, "never", api_name="/run")
    assert view["session"]["finished"] and view["note"] == "finished"
    with pytest.raises(AppError, match="finished; rewind"):
        client.predict(view["session"]["id"], view["session"]["version"], api_name="/step")


def test_delete_removes_the_session(studio):
    client, store = studio
    sid = new(client, "a doomed vase")["session"]["id"]
    reply = client.predict(sid, api_name="/delete")
    assert "deleted" in reply["note"]
    assert store.list_sessions(search="doomed") == []


def test_only_the_session_image_folder_is_served(studio):
    import httpx

    client, store = studio
    sid = new(client, "a kite")["session"]["id"]
    view = client.predict(sid, None, "never", api_name="/run")
    image_step = next(s for s in store.load(sid).branch() if s.image is not None)
    base = client.src.rstrip("/")
    inside = httpx.get(base + view["cards"][image_step.id]["image"])
    assert inside.status_code == 200 and inside.content[:4] == b"\x89PNG"
    for outside in ("/etc/passwd", str(store.data_dir.resolve() / "studio.db")):
        assert httpx.get(f"{base}/gradio_api/file={outside}").status_code in (403, 404)
    assert "finished" in view["note"]


def test_stop_interrupts_a_run_and_keeps_what_was_committed(tmp_path):
    engines.register("ui-slow", lambda: ScriptedEngine(delay=2.0))
    try:
        with running_studio(tmp_path / "slow", "ui-slow") as (url, store):
            client = Client(url, verbose=False)
            view = client.predict(
                "a cat", "ui-slow", 1, False, 6, "process", "{}", api_name="/new_session"
            )
            sid = view["session"]["id"]
            job = client.submit(sid, view["session"]["version"], "never", api_name="/run")
            import time

            deadline = time.monotonic() + 30
            while store.count_steps(sid) < 1:  # the plan is in; the slow sketch is being drawn
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.3)
            assert client.predict(sid, api_name="/stop")["note"].startswith("stopping")
            final = job.result(timeout=30)
            assert final["note"].startswith("stopped") and "1 committed steps kept" in final["note"]
            assert [s.stage for s in store.load(sid).branch()] == [Stage.PLAN]
    finally:
        engines.unregister("ui-slow")


def test_export_gives_a_zip_and_a_dropped_final_png_reopens_its_session(studio, tmp_path):
    import zipfile

    from gradio_client import handle_file

    client, store = studio
    sid = new(client, "a red kite")["session"]["id"]
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
    assert view["session"]["id"] == sid and "reopened" in view["note"]
    with pytest.raises(AppError, match="not an image"):
        bogus = tmp_path / "bogus.png"
        bogus.write_text("hello")
        client.predict(handle_file(str(bogus)), api_name="/import_png")


def test_a_saved_session_reopens_exactly_as_it_was_after_a_server_restart(tmp_path):
    engines.register("ui-restart", lambda: ScriptedEngine(fail_rounds=(1,)))
    try:
        with running_studio(tmp_path / "data", "ui-restart") as (url, _):
            client = Client(url, verbose=False)
            view = client.predict(
                "a cat and a dog",
                "ui-restart",
                3,
                False,
                6,
                "process",
                "{}",
                api_name="/new_session",
            )
            view = client.predict(view["session"]["id"], None, "inspect", api_name="/run")
            view = client.predict(
                view["session"]["id"], None, "", True, "fine", True, "fine", api_name="/override"
            )
            before = client.predict(view["session"]["id"], api_name="/open_session")
        with running_studio(tmp_path / "data", "ui-restart") as (url, _):
            after = Client(url, verbose=False).predict(
                view["session"]["id"], api_name="/open_session"
            )
        for name in ("session", "tree", "branch", "branches", "selected"):
            assert after[name] == before[name]
        assert {
            k: {f: v for f, v in c.items() if f not in ("image", "judged", "region")}
            for k, c in after["cards"].items()
        } == {
            k: {f: v for f, v in c.items() if f not in ("image", "judged", "region")}
            for k, c in before["cards"].items()
        }
    finally:
        engines.unregister("ui-restart")


def test_the_gallery_lists_one_batch_at_a_time(studio):
    """The page's gallery filter (a server function of the page; /list_sessions keeps its one input)."""
    from studio.batch.workqueue import WorkQueue
    from studio.runner import Runner
    from studio.ui.actions import Studio

    _, store = studio
    WorkQueue(store.db, "gliders-1").ensure({"prompts": "gliders.txt"}, [])
    runner = Runner(store)
    ours = {
        runner.new_session(f"a paraglider {i}", engine=ENGINE, tags=("batch:gliders-1",)).session.id
        for i in range(2)
    }
    runner.new_session("a paraglider outside any batch", engine=ENGINE)
    page = Studio(runner)
    assert {c["id"] for c in page.list_sessions("paraglider", "gliders-1")} == ours
    assert len(page.list_sessions("paraglider", "")) == 3
    assert "gliders-1" in page.list_batches()
    with pytest.raises(StudioError, match="batch name"):
        page.list_sessions("", "no such/../batch")


def test_an_unreadable_verdict_shows_as_unreadable_and_failed_never_as_a_pass(runner):
    """The card of an inspect step whose model answer could not be read carries the reason; the page
    draws it as 'unreadable' and leaves both checks unticked in the override panel."""
    from studio.engines import prompts
    from studio.ui.actions import Studio

    class Mumbling(ScriptedEngine):  # stands in for a model that ignores the verdict tags
        def inspect(self, ctx):
            self._record(Stage.INSPECT)
            return prompts.inspect_result("I think it looks nice, maybe.")

    engines.register("ui-mumbling", Mumbling)
    try:
        studio = Studio(runner)
        view = studio.new_session("a red apple", "ui-mumbling", 3, False, 2)
        sid = view.session["id"]
        for _ in range(3):
            view = list(studio.step(sid, view.session["version"]))[-1]
        card = (
            view.cards[view.selected]
            if view.selected in view.cards
            else studio.open_session(sid).cards[view.selected]
        )
        assert card["stage"] == "inspect" and card["passed"] is False
        assert "could not be read" in card["unreadable"] and card["plan_check"] is None
    finally:
        engines.unregister("ui-mumbling")
