"""The janus engine with a tiny random-weight Janus-Pro built from transformers' own classes.

The model is saved to a folder and loaded by the engine's own loading code (from
STROKE_STUDIO_JANUS_MODEL, as the registry builds it), then whole sessions run through the real
runner and store. Its outputs are noise; what is checked is the plumbing: stages, image tokens as
sampling steps, previews, a fork, cancellation, out of memory, errors that name their fix.
"""

from __future__ import annotations

import shutil

import pytest
import torch
from PIL import Image

from studio import engines
from studio.core.domain import RunSettings, Stage, StudioError
from studio.engines.base import CancelToken
from studio.engines.janus import JanusEngine
from studio.runner import PausePolicy

from ..kits.gpu_fakes import JANUS_IMAGE, JANUS_PATCH, build_janus, registry_engine

TOKENS = (JANUS_IMAGE // JANUS_PATCH) ** 2
PARAMS = {"max_think_tokens": 12, "preview_every": 4}


@pytest.fixture(scope="module")
def janus_dir(tmp_path_factory):
    return build_janus(tmp_path_factory.mktemp("models") / "janus-tiny")


@pytest.fixture(scope="module")
def janus(janus_dir):
    """The registry's own `janus` engine, configured from the environment; loaded once for the module."""
    with registry_engine("janus", "STROKE_STUDIO_JANUS_MODEL", janus_dir) as engine:
        yield engine


def session(runner, prompt="a red apple and a blue cup", seed=5, **params):
    return runner.new_session(
        prompt,
        engine="janus",
        seed=seed,
        settings=RunSettings(max_rounds=3, engine_params={**PARAMS, **params}),
    )


def test_a_whole_session_plans_draws_inspects_and_refines(runner, store, janus):
    assert isinstance(janus, JanusEngine) and engines.load("janus") is janus
    t = session(runner)
    events = []
    assert runner.run(t, pause=PausePolicy.AT_INSPECT, listener=events.append).status == "paused"
    plan, sketch, verdict = t.branch()
    assert plan.stage is Stage.PLAN and plan.instruction and plan.description and "raw" in plan.meta
    assert sketch.sampling_steps == TOKENS and sketch.meta["image_tokens"] == TOKENS
    image = store.load_image(sketch.image)
    assert image.mode == "RGB" and image.width == image.height > 0
    # The tiny model's answer is noise: a verdict it does not give is recorded as not given, never as a pass.
    readable = verdict.plan_check is not None and verdict.sketch_check is not None
    assert readable or ("could not be read" in verdict.meta["error"] and not verdict.passed)
    previews = [
        e.progress.preview
        for e in events
        if e.kind == "progress" and e.progress.preview is not None
    ]
    assert len(previews) >= 3 and all(isinstance(p, Image.Image) for p in previews)
    fractions = [
        e.progress.fraction for e in events if e.kind == "progress" and e.stage is Stage.SKETCH
    ]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0

    runner.override(t, verdict.id, sketch_passed=False, sketch_critique="The blue cup is missing.")
    refine = runner.advance(t)  # the model writes the <refine> and redraws the whole image
    assert refine.stage is Stage.REFINE and refine.instruction and refine.meta["redrawn"]
    assert "The blue cup is missing" not in refine.instruction or refine.meta["format_ok"] is False
    assert refine.sampling_steps == TOKENS and refine.image != sketch.image
    human = runner.refine_with(t, refine.id, "make the cup bluer")
    assert (
        human.instruction == "make the cup bluer" and "make the cup bluer" in human.meta["prompt"]
    )
    assert runner.run(t).status == "finished" and t.branch()[-1].stage is Stage.FINAL
    assert janus.loaded() is janus.loaded()  # loaded once, shared


def test_a_fork_continues_beside_the_old_branch(runner, store, janus):
    t = session(runner, max_think_tokens=4)
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    plan = t.branch()[0]
    runner.fork(t, plan.id)
    redrawn = runner.advance(t)
    assert redrawn.stage is Stage.SKETCH and redrawn.parent_id == plan.id
    assert len(store.load(t.session.id).leaves()) == 2


def test_a_seed_gives_the_same_image(runner, store, janus):
    a, b = session(runner, "a cat", seed=9), session(runner, "a cat", seed=9)
    for t in (a, b):
        runner.advance(t)
        runner.edit_plan(t, t.head().id, instruction="draw a cat", description="a cat")
        runner.advance(t)
    assert a.branch()[1].image == b.branch()[1].image


def test_cancelling_stops_between_image_tokens_and_keeps_nothing(runner, store, janus):
    t = session(runner, max_think_tokens=4)
    runner.advance(t)
    token = CancelToken()
    seen = []

    def listener(event):
        if event.kind == "progress" and event.stage is Stage.SKETCH:
            seen.append(event.progress.fraction)
            if len(seen) == 3:
                token.cancel()

    assert runner.run(t, listener=listener, cancel=token).status == "cancelled"
    assert len(seen) == 3 and store.count_steps(t.session.id) == 1
    assert runner.advance(t).stage is Stage.SKETCH


def test_out_of_memory_suggests_the_smaller_model_and_leaves_the_session_intact(
    runner, store, janus, monkeypatch
):
    t = session(runner, max_think_tokens=4)
    runner.advance(t)
    generation_head = janus.loaded().model.model.generation_head

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")

    monkeypatch.setattr(generation_head, "forward", out_of_memory)
    with pytest.raises(StudioError, match="Janus-Pro-1B.*STROKE_STUDIO_JANUS_QUANT=nf4"):
        runner.advance(t)
    assert store.count_steps(t.session.id) == 1
    monkeypatch.undo()
    assert runner.advance(t).stage is Stage.SKETCH


def test_janus_cannot_refine_a_region(runner, janus):
    assert not janus.capabilities.region_edit
    t = session(runner, max_think_tokens=4)
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    with pytest.raises(StudioError, match="cannot edit a region"):
        runner.refine_with(t, t.head().id, "fix it", region_mask=Image.new("L", (8, 8), 255))


def test_missing_incomplete_and_uncached_models_name_the_fix(tmp_path, janus_dir, monkeypatch):
    with pytest.raises(StudioError, match="does not exist.*STROKE_STUDIO_JANUS_MODEL"):
        JanusEngine(str(tmp_path / "nowhere")).loaded()
    partial = tmp_path / "partial"
    shutil.copytree(janus_dir, partial)
    (partial / "model.safetensors").unlink()
    with pytest.raises(StudioError, match="incomplete; missing: the weights"):
        JanusEngine(str(partial)).loaded()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("STROKE_STUDIO_JANUS_MODEL", raising=False)  # the default: a hub id
    with pytest.raises(
        StudioError,
        match="not in the local Hugging Face cache.*hf download deepseek-community/Janus-Pro-7B",
    ):
        JanusEngine().loaded()
    with pytest.raises(StudioError, match="nf4 or int8"):
        JanusEngine(str(janus_dir), quantization="fp4").loaded()


def test_cancelling_a_plan_stops_the_text_generation(runner, store, janus):
    t = session(runner, max_think_tokens=64)
    token = CancelToken()
    reports = []

    def listener(event):
        if event.kind == "progress" and event.stage is Stage.PLAN:
            reports.append(event.progress.message)
            token.cancel()

    assert runner.run(t, listener=listener, cancel=token).status == "cancelled"
    assert reports == ["planning: 8 tokens"] and store.count_steps(t.session.id) == 0


def test_on_a_gpu_the_weights_load_straight_onto_it_never_through_the_cpu(janus_dir, monkeypatch):
    """What the engine asks transformers for when the device is CUDA (this machine has none: the
    class method stands in for the load and stops it, so the kwargs are all that is checked)."""
    from transformers import JanusForConditionalGeneration

    asked = {}

    class Stop(Exception):
        pass

    def from_pretrained(source, **kwargs):
        asked.update(kwargs)
        raise Stop

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(JanusForConditionalGeneration, "from_pretrained", from_pretrained)
    engine = JanusEngine(str(janus_dir), device="cuda:0", dtype="bfloat16")
    with pytest.raises(Stop):
        engine.loaded()
    assert asked["device_map"] == {"": "cuda:0"} and asked["dtype"] is torch.bfloat16


def test_an_overridden_verdict_is_in_the_redraws_prompt(runner, janus):
    t = session(runner)
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    runner.override(t, t.head().id, sketch_passed=False, sketch_critique="the cup should be green")
    refine = runner.advance(t)
    assert refine.stage is Stage.REFINE and "the cup should be green" in refine.meta["prompt"]
    assert refine.meta["person_input"]["kind"] == "verdict" and refine.meta["person_input"]["used"]


def test_a_reject_reason_is_in_the_redrawn_sketchs_prompt(runner, janus):
    t = session(runner)
    runner.advance(t)
    sketch = runner.advance(t)
    redraw = runner.reject(t, sketch.id, note="the clock should be on the left of the cup")
    assert redraw.stage is Stage.SKETCH
    assert "the clock should be on the left of the cup" in redraw.meta["prompt"]
    assert redraw.meta["person_input"]["kind"] == "reason" and redraw.meta["person_input"]["used"]
