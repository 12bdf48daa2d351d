"""A person's correction, sent through the HTTP API as the page sends it, shows in the offline engine's
very next model output (fixed seeds, no draft noise), or that output says why it could not use it."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client

from studio.core.domain import Stage, person_input
from studio.engines.offline.analyse import analyse

from ..kits.ui_server import running_studio

CLEAN = json.dumps({"draft_noise": 0})


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    with running_studio(tmp_path_factory.mktemp("ui-api-corrections"), "offline") as (url, store):
        yield Client(url, verbose=False), store


def new(client, prompt):
    view = client.predict(prompt, "offline", 3, False, 6, "process", CLEAN, api_name="/new_session")
    return view["session"]["id"], view


def step(client, sid, view, times=1):
    for _ in range(times):
        view = client.predict(sid, view["session"]["version"], api_name="/step")
    return view


def colours(store, step_, cls):
    return [o.color for o in analyse(store.load_image(step_.image)).of(cls)]


def test_an_overridden_critique_shows_in_the_next_refine(studio):
    client, store = studio
    sid, view = new(client, "a photo of a red cup")
    view = step(client, sid, view, 3)  # plan, sketch, inspect
    verdict = view["selected"]
    view = client.predict(
        sid, view["session"]["version"], verdict, True, "", False,
        "no: the cup should be green", api_name="/override",
    )  # fmt: skip
    view = step(client, sid, view)
    refine = store.load(sid).head()
    assert refine.stage is Stage.REFINE and colours(store, refine, "cup") == ["green"]
    assert person_input(refine).used is True


def test_an_unreadable_critique_is_answered_with_why(studio):
    client, store = studio
    sid, view = new(client, "a photo of a red cup")
    view = step(client, sid, view, 3)
    view = client.predict(
        sid, view["session"]["version"], view["selected"], True, "", False,
        "it looks unbalanced", api_name="/override",
    )  # fmt: skip
    step(client, sid, view)
    refine = store.load(sid).head()
    assert refine.instruction.startswith("Could not use your note")
    assert person_input(refine).used is False


def test_a_reject_reason_shows_in_the_redraw(studio):
    client, store = studio
    sid, view = new(client, "a photo of a clock right of a cup")
    view = step(client, sid, view, 5)  # plan, sketch, inspect, plan, sketch (the clock)
    sketch = store.load(sid).head()
    assert sketch.stage is Stage.SKETCH
    client.predict(
        sid, view["session"]["version"], sketch.id,
        "the clock should be on the left of the cup", api_name="/reject",
    )  # fmt: skip
    redrawn = store.load(sid).head()
    found = analyse(store.load_image(redrawn.image))
    assert found.of("clock")[0].center[0] < found.of("cup")[0].center[0]
    assert person_input(redrawn).used is True


@pytest.mark.parametrize(
    ("instruction", "description"),
    [(None, "a green cup"), ("Draw a green cup.", None)],
    ids=["des", "ins"],
)
def test_an_edited_plan_shows_in_the_next_sketch(studio, instruction, description):
    client, store = studio
    sid, view = new(client, "a photo of a red cup")
    view = step(client, sid, view)
    plan = store.load(sid).steps[view["selected"]]
    view = client.predict(
        sid, view["session"]["version"], plan.id,
        instruction or plan.instruction, description or plan.description, api_name="/edit_plan",
    )  # fmt: skip
    step(client, sid, view)
    sketch = store.load(sid).head()
    assert sketch.stage is Stage.SKETCH and colours(store, sketch, "cup") == ["green"]
