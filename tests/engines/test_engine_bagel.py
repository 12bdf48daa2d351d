"""The bagel engine against BAGEL's real code: a tiny random BAGEL, in BAGEL's own environment, in a worker.

tests/kits/bagel_kit.py builds BAGEL's environment in a second venv (transformers 4.49.0, the CPU torch
2.13.0) and a tiny snapshot from BAGEL's own classes (random weights, BAGEL's file layout); the engine
starts its worker with that venv's python, exactly as it would with a user's, without flash_attn (the studio's
SDPA path). Only four
torchvision transforms are test stand-ins (tests/kits/bagel_standins/). The model is random, so the tests
check the mechanics: what each stage costs (model calls, prefills), that a rebuilt context equals the
kept one (greedy decoding gives the same text from both), previews, limits, cancellation, and a
worker that dies mid-stage.
"""

from __future__ import annotations

import os
import signal

import pytest
from PIL import Image, ImageStat

from studio import engines
from studio.core import protocol
from studio.core.domain import Check, RunSettings, Stage, StudioError
from studio.engines.bagel import transcript
from studio.engines.bagel.contexts import image_mark
from studio.engines.base import CancelToken

from ..kits import bagel_kit

PARAMS = {
    "num_timesteps": 4,
    "image_size": 64,
    "preview_every": 1,
    "max_think_tokens": 24,
    "cfg_interval": [0.0, 1.0],
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    python = bagel_kit.bagel_python()
    return python, bagel_kit.build_snapshot(python, tmp_path_factory.mktemp("bagel") / "snapshot")


@pytest.fixture(scope="module")
def shared_engine(tiny):
    """One worker for the tests that only count deltas (starting one costs seconds)."""
    engine = bagel_kit.make_engine(*tiny, cache_gb=1.0)
    engines.register("bagel-tiny", lambda: engine)
    yield engine
    engines.unregister("bagel-tiny")


@pytest.fixture
def fresh_engine(tiny):
    made = []

    def make(name="bagel-fresh", **kwargs):
        engine = bagel_kit.make_engine(*tiny, **kwargs)
        engines.register(name, lambda: engine)
        made.append(name)
        return engine

    yield make
    for name in made:
        engines.unregister(name)


def session(runner, prompt="a red cup left of a blue clock", engine="bagel-tiny", **params):
    return runner.new_session(
        prompt,
        engine=engine,
        seed=5,
        settings=RunSettings(max_rounds=3, engine_params={**PARAMS, **params}),
    )


def delta(engine, before):
    return {k: engine.calls[k] - before[k] for k in engine.calls}


def test_plan_sketch_inspect_refine_fork_and_resume_through_the_worker(
    runner, store, shared_engine, tiny, fresh_engine
):
    engine = shared_engine
    t = session(runner)
    engine.worker()  # started here, so the counts below are the stages' own
    before = dict(engine.calls)
    events = []
    plan = runner.advance(t, listener=events.append)
    sketch = runner.advance(t, listener=events.append)
    inspect = runner.advance(t, listener=events.append)
    assert [plan.stage, sketch.stage, inspect.stage] == [Stage.PLAN, Stage.SKETCH, Stage.INSPECT]
    refine = runner.refine_with(t, inspect.id, "make the cup red", listener=events.append)
    # Four stages, one model call each (the person wrote the refine text), nothing prefilled.
    assert delta(engine, before) == {"gen_text": 2, "gen_image": 2, "prefill": 0, "workers": 0}

    image = store.load_image(sketch.image)
    assert (
        image.size == (64, 64) and sketch.sampling_steps == 3 and sketch.meta["num_timesteps"] == 4
    )
    assert max(ImageStat.Stat(image).stddev) > 1  # BAGEL's VAE decoded something, not a flat fill
    # A refine draws at the size BAGEL resized the sketch to in its context (ImageTransform(1024, 512, 16)).
    assert refine.instruction == "make the cup red" and refine.meta["image_shape"] == [512, 512]
    assert (
        "refines of this 64×64 sketch are drawn at 512×512" in sketch.meta["note"]
    )  # said, not hidden
    previews = [
        e.progress.preview
        for e in events
        if e.kind == "progress" and e.progress.preview is not None
    ]
    assert len(previews) >= 4 and all(isinstance(p, Image.Image) for p in previews)
    # linear latent→RGB previews (no decode), at the sketch's size when it is under PREVIEW_SIZE
    assert {p.size for p in previews[:2]} == {(64, 64)}
    assert max(ImageStat.Stat(previews[0]).stddev) > 1
    assert (
        engine.info["device"] == "cpu"
        and engine.info["max_side"] == 1024
        and engine.info["stride"] == 16
    )
    assert engine.info["vae"] == "cpu float32"  # no GPU: as BAGEL's app.py
    assert engine.info["attention"] == "sdpa"  # no flash_attn in this environment: PyTorch's SDPA
    stats = engine.stats()
    assert stats["entries"] >= 1 and 0 < stats["bytes"] <= stats["budget"]

    # Fork at the sketch: one prefill (root, plan, the sketch's PNG) and one model call for the new inspect.
    before, prefilled = dict(engine.calls), dict(engine.prefilled)
    runner.fork(t, sketch.id)
    assert engine.calls == before  # forking calls no model
    again = runner.advance(t)
    assert again.stage is Stage.INSPECT and again.parent_id == sketch.id
    assert delta(engine, before) == {"gen_text": 1, "gen_image": 0, "prefill": 1, "workers": 0}
    assert {k: engine.prefilled[k] - prefilled[k] for k in prefilled} == {"texts": 4, "images": 1}
    # The rebuilt context is the kept one: greedy decoding writes the same verdict from it.
    assert (
        again.meta.get("raw") == inspect.meta.get("raw") and again.plan_check == inspect.plan_check
    )

    # Resume in a new process: a fresh worker rebuilds the branch up to the refine and continues.
    other = fresh_engine("bagel-resume")
    t2 = store.load(t.session.id)
    t2.session.engine = "bagel-resume"
    runner.fork(t2, refine.id)
    nxt = runner.advance(t2)
    assert nxt.parent_id == refine.id
    assert other.calls["workers"] == 1 and other.calls["prefill"] == 1
    # root, plan, inspect (its request, and its verdict when the tiny model's noise happened to be one), refine
    verdict = 1 if inspect.plan_check is not None and inspect.sketch_check is not None else 0
    assert other.prefilled == {
        "texts": 2 + 2 + 1 + verdict + 2,
        "images": 2,
    }  # images: sketch, refine
    other.close()


def inspecting_in_tags(monkeypatch, engine, verdict: str) -> None:
    """Stands in for a trained BAGEL's inspection: the tiny random model writes noise, not the studio's
    tags, so its inspect stage is given `verdict` as the model's answer (the request and the canonical
    answer still go through the worker's context); every other model call is BAGEL's own."""
    original = engine._gen_text

    def gen_text(ctx, w, label):
        return (verdict, 0) if label == "inspecting" else original(ctx, w, label)

    monkeypatch.setattr(engine, "_gen_text", gen_text)


def test_an_edited_plan_is_prefilled_not_regenerated(runner, shared_engine):
    engine = shared_engine
    t = session(runner, "a cat")
    plan = runner.advance(t)
    before = dict(engine.calls)
    edited = runner.edit_plan(t, plan.id, instruction="draw a tabby cat", description="a tabby cat")
    sketch = runner.advance(t)
    assert sketch.stage is Stage.SKETCH
    assert delta(engine, before) == {"gen_text": 0, "gen_image": 1, "prefill": 1, "workers": 0}
    # the sketch was drawn on the edited plan, and says so on its card
    assert engine.last_context[-1] == protocol.plan_text(
        "draw a tabby cat", "a tabby cat", edited.complete
    )
    assert sketch.meta["person_input"]["used"] is True
    assert "edited plan was given to BAGEL in its context" in sketch.meta["person_input"]["note"]


def test_a_persons_verdict_replaces_the_models_in_the_context_and_the_refine_is_asked_to_answer_it(
    runner, store, shared_engine, monkeypatch
):
    engine = shared_engine
    inspecting_in_tags(
        monkeypatch, engine, "<plan>yes</plan><sketch>yes: the cup is red as planned</sketch>"
    )
    t = session(runner)
    runner.advance(t)
    sketch = runner.advance(t)
    inspect = runner.advance(t)
    assert inspect.sketch_check == Check(True, "the cup is red as planned")
    judged = runner.override(
        t, inspect.id, sketch_passed=False, sketch_critique="the cup should be green"
    )
    before, prefilled = dict(engine.calls), dict(engine.prefilled)
    refine = runner.advance(t)
    assert refine.stage is Stage.REFINE and refine.parent_id == inspect.id
    # The override changed the inspect's key: the kept context, which holds the model's verdict, is not
    # continued; the branch is rebuilt from the stored steps (root, plan, sketch, the inspect as stored).
    assert delta(engine, before) == {"gen_text": 1, "gen_image": 1, "prefill": 1, "workers": 0}
    assert {k: engine.prefilled[k] - prefilled[k] for k in prefilled} == {"texts": 6, "images": 1}
    seen = engine.last_context  # what BAGEL's image generation for the refine was conditioned on
    person = protocol.verdict_text(judged.plan_check, Check(False, "the cup should be green"))
    request = transcript.refine_request("the cup should be green")
    assert seen.count(person) == 1 and not any("red as planned" in part for part in seen)
    assert seen[-5:] == [
        image_mark(store.load_image(sketch.image)),
        transcript.INSPECT_REQUEST,
        person,
        request,
        protocol.refine_text(refine.instruction),
    ]
    used = refine.meta["person_input"]
    assert used["kind"] == "verdict" and used["used"] is True
    assert "given to BAGEL in its context, in place of its own" in used["note"]

    # The stored refine says what its context held: the next stage continues the kept context, and a
    # rebuild from the stored steps (a fork there) gives BAGEL the very same texts and images.
    monkeypatch.undo()
    before = dict(engine.calls)
    runner.advance(t)
    kept = engine.last_context
    runner.fork(t, refine.id)
    runner.advance(t)
    assert delta(engine, before) == {"gen_text": 2, "gen_image": 0, "prefill": 1, "workers": 0}
    assert engine.last_context == kept and kept[:-2] == seen


def test_a_reject_reason_and_the_rejected_image_condition_the_redraw_of_a_sketch_and_of_a_refine(
    runner, store, shared_engine, monkeypatch
):
    engine = shared_engine
    inspecting_in_tags(
        monkeypatch,
        engine,
        "<plan>yes: one cup, one clock</plan><sketch>no: the cup is small</sketch>",
    )
    t = session(runner)
    plan = runner.advance(t)
    sketch = runner.advance(t)
    reason = "the clock should be on the left of the cup"
    prefilled = dict(engine.prefilled)
    redrawn = runner.reject(t, sketch.id, note=reason)
    assert redrawn.stage is Stage.SKETCH and redrawn.parent_id == plan.id
    # drawn on the rejected sketch's kept context: only the person's verdict on it was added
    assert {k: engine.prefilled[k] - prefilled[k] for k in prefilled} == {"texts": 2, "images": 0}
    assert engine.last_context[-5:] == [
        protocol.plan_text(plan.instruction, plan.description, plan.complete),
        image_mark(store.load_image(sketch.image)),
        transcript.INSPECT_REQUEST,
        f"<plan>yes</plan><sketch>no: {reason}</sketch>",  # no inspect judged this plan: it stands
        transcript.redraw_request(Stage.SKETCH, reason),
    ]
    used = redrawn.meta["person_input"]
    assert used["kind"] == "reason" and used["used"] is True
    assert "rejected image and your reason were given to BAGEL in its context" in used["note"]

    # The rejection conditioned the redraw only: later stages read the branch as stored.
    runner.advance(t)  # inspect (the stand-in's verdict: the cup is small)
    refine = runner.advance(t)
    assert refine.stage is Stage.REFINE and "person_input" not in refine.meta
    after = engine.last_context
    assert image_mark(store.load_image(redrawn.image)) in after
    assert image_mark(store.load_image(sketch.image)) not in after
    assert not any(reason in part for part in after)

    again = "the cup should be green"
    prefilled = dict(engine.prefilled)
    redone = runner.reject(t, refine.id, note=again)
    assert redone.stage is Stage.REFINE and redone.parent_id == refine.parent_id
    assert {k: engine.prefilled[k] - prefilled[k] for k in prefilled} == {"texts": 2, "images": 0}
    # the refine's verdict keeps the plan check as stored; the person's reason is its sketch check
    assert engine.last_context[-6:] == [
        protocol.refine_text(refine.instruction),
        image_mark(store.load_image(refine.image)),
        transcript.INSPECT_REQUEST,
        f"<plan>yes: one cup, one clock</plan><sketch>no: {again}</sketch>",
        transcript.redraw_request(Stage.REFINE, again),
        protocol.refine_text(redone.instruction),
    ]
    assert redone.meta["person_input"]["used"] is True


def test_an_oversize_or_misaligned_image_size_is_refused_before_the_model_runs(
    runner, shared_engine
):
    with pytest.raises(StudioError, match="image_size"):
        session(runner, image_size=2048)  # the declared schema: BAGEL's table ends at 1024
    t = session(runner, image_size=1000)
    runner.advance(t)
    before = dict(shared_engine.calls)
    with pytest.raises(
        StudioError,
        match=r"image_size is 1000; BAGEL draws 16 to 1024 pixels a side in multiples of 16",
    ):
        runner.advance(t)
    assert delta(shared_engine, before)["gen_image"] == 0
    assert runner.store.count_steps(t.session.id) == 1


def test_cancel_stops_the_worker_between_steps_and_keeps_its_context(runner, store, shared_engine):
    engine = shared_engine
    t = session(runner, "a cat", num_timesteps=12)
    runner.advance(t)
    token = CancelToken()

    def listener(event):
        if (
            event.kind == "progress"
            and event.stage is Stage.SKETCH
            and "step" in event.progress.message
        ):
            token.cancel()

    before = dict(engine.calls)
    assert runner.run(t, listener=listener, cancel=token).status == "cancelled"
    assert store.count_steps(t.session.id) == 1
    assert engine.client.alive  # the worker honoured the cancel message within the grace period
    sketch = runner.advance(t)
    assert sketch.stage is Stage.SKETCH and sketch.sampling_steps == 11
    assert delta(engine, before)["prefill"] == 0  # the untouched context went back to the cache


def test_a_worker_killed_mid_stage_fails_the_stage_and_the_next_stage_starts_a_fresh_one(
    runner, store, fresh_engine
):
    engine = fresh_engine()
    t = session(runner, "a cat", engine="bagel-fresh", num_timesteps=12)
    runner.advance(t)
    first_pid = engine.client.process.pid

    def listener(event):
        if (
            event.kind == "progress"
            and event.stage is Stage.SKETCH
            and "step 2/" in event.progress.message
        ):
            os.kill(engine.client.process.pid, signal.SIGKILL)

    with pytest.raises(
        StudioError, match="worker was killed by signal 9 while sketching.*session is unchanged"
    ):
        runner.advance(t, listener=listener)
    assert store.count_steps(t.session.id) == 1 and not engine.client.alive
    sketch = runner.advance(t)  # a fresh worker, the context rebuilt from the stored plan
    assert sketch.stage is Stage.SKETCH and engine.client.process.pid != first_pid
    assert engine.calls["workers"] == 2 and engine.calls["prefill"] == 1
    engine.close()


def test_bagel_cannot_refine_a_region(runner, shared_engine):
    t = session(runner, "a cat")
    runner.advance(t)
    sketch = runner.advance(t)
    with pytest.raises(StudioError, match="cannot edit a region"):
        runner.refine_with(
            t, sketch.id, "make it orange", region_mask=Image.new("L", (64, 64), 255)
        )


def test_gpu_checks_real_checkpoint_mode_runs_bagel_through_its_worker_and_asserts_each_stage(
    tiny, tmp_path, monkeypatch, capsys
):
    import json
    import sys

    python, snapshot = tiny
    monkeypatch.setenv("STROKE_STUDIO_BAGEL_PYTHON", python)
    monkeypatch.setenv("STROKE_STUDIO_BAGEL_REPO", str(bagel_kit.CLONE))
    monkeypatch.setenv("STROKE_STUDIO_BAGEL_MODEL", str(snapshot))
    sys.path.insert(0, str(bagel_kit.ROOT / "bench"))
    try:
        import gpu_check
        import gpu_real
    finally:
        sys.path.remove(str(bagel_kit.ROOT / "bench"))
    monkeypatch.setattr(
        gpu_real, "BUDGET_S", 0
    )  # every stage passes, the time budget fails: exit 1
    out = tmp_path / "rows.json"
    code = gpu_check.main(
        [
            "--real",
            "--allow-cpu",
            "--only",
            "bagel",
            "--bagel-size",
            "64",
            "--bagel-path",
            str(bagel_kit.STANDINS),
            "--json",
            str(out),
        ]
    )
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    stages = [r for r in lines if r["engine"] == "bagel"]
    assert [r["stage"] for r in stages] == ["plan", "sketch", "inspect", "refine"]
    assert all(r["ok"] for r in stages), stages
    assert (
        stages[1]["sampling_steps"] == 5 and stages[1]["previews"] == 4 + 1
    )  # steps 1-4, then the image
    assert code == 1 and lines[-1]["stage"] == "total" and not lines[-1]["ok"]
    assert json.loads(out.read_text())[:4] == stages


def test_gpu_checks_stage_assertions_catch_flat_images_channel_views_and_wrong_step_counts():
    import sys

    sys.path.insert(0, str(bagel_kit.ROOT / "bench"))
    try:
        import gpu_real
    finally:
        sys.path.remove(str(bagel_kit.ROOT / "bench"))
    noisy = Image.effect_noise((512, 512), 64).convert("RGB")
    decoded = noisy.resize((256, 256))
    assert gpu_real.image_failures(noisy, [decoded], 5, 5) == []
    flat = Image.new("RGB", (512, 512), (128, 128, 128))
    assert "uniform" in gpu_real.image_failures(flat, [decoded], 5, 5)[0]
    channel_view = noisy.resize((64, 64))  # what the latent fallback looks like at 512²
    assert "no preview is a real decode" in gpu_real.image_failures(noisy, [channel_view], 5, 5)[0]
    assert gpu_real.image_failures(noisy, [], None, 5) == ["no previews"]
    assert gpu_real.image_failures(noisy, [decoded], 5, 49) == ["49 sampling steps, expected 5"]


def test_a_worker_that_ignores_cancel_past_the_grace_period_is_ended(runner, store, fresh_engine):
    engine = fresh_engine(
        cancel_grace=0.0
    )  # no grace: the cancel message is sent, then the worker is killed
    t = session(runner, "a cat", engine="bagel-fresh", num_timesteps=12)
    runner.advance(t)
    token = CancelToken()

    def listener(event):
        if (
            event.kind == "progress"
            and event.stage is Stage.SKETCH
            and "step" in event.progress.message
        ):
            token.cancel()

    assert runner.run(t, listener=listener, cancel=token).status == "cancelled"
    assert not engine.client.alive and store.count_steps(t.session.id) == 1
    assert runner.advance(t).stage is Stage.SKETCH and engine.calls["workers"] == 2
    engine.close()
