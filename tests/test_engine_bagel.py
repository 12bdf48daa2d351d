"""The bagel engine's adapter, tested against a STAND-IN for BAGEL's inferencer (tests/bagel_standin.py).

The real BAGEL code cannot be installed here (not on PyPI, needs flash_attn and a CUDA GPU) and its
weights cannot be downloaded, so these tests check the contract the engine relies on, with a stand-in
that has BAGEL's `InterleaveInferencer` interface and a scripted "model" that reads its context:
the context is kept between stages (each stage encodes only what it adds); after a fork, a resume,
an edit or a reject the context is rebuilt by prefilling the stored texts and images and equals the
original one (counted calls prove nothing is generated again); contexts are evicted least recently
used first when they exceed the memory budget; the text- and image-CFG contexts hold what BAGEL's
own interleaved inference gives them; cancellation and out-of-memory leave the session intact.
Loading the real model is covered only up to its checks (missing clone, missing files, no CUDA).
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from studio import engines
from studio.domain import RunSettings, Stage, StudioError
from studio.engines.bagel import BagelEngine, ContextCache, check_bagel_paths
from studio.engines.base import CancelToken
from studio.runner import PausePolicy

from .bagel_standin import StandInInferencer, pixels_sha

PARAMS = {"num_timesteps": 6, "image_size": 64, "preview_every": 2, "cfg_text_scale": 5.0, "cfg_interval": [0.2, 0.9]}


@pytest.fixture
def bagel():
    made = []

    def make(fail_rounds=(), cache_gb=1.0, name="bagel-standin"):
        inferencer = StandInInferencer(fail_rounds=fail_rounds)
        engine = BagelEngine(inferencer=inferencer, cache_gb=cache_gb)
        engines.register(name, lambda: engine)
        made.append(name)
        return engine, inferencer

    yield make
    for name in made:
        engines.unregister(name)


def session(runner, prompt="a cat and a dog", name="bagel-standin", **params):
    return runner.new_session(prompt, engine=name, seed=11,
                              settings=RunSettings(max_rounds=4, engine_params={**PARAMS, **params}))


def texts(transcript):
    return [value for kind, value in transcript if kind == "text"]


def gens(inferencer, kind):
    return [seen for seen in inferencer.seen if seen["kind"] == kind]


def test_a_continuous_session_encodes_each_stage_once_and_plans_from_its_context(runner, store, bagel):
    engine, inf = bagel(fail_rounds=(1,))
    t = session(runner)
    events = []
    assert runner.run(t, listener=events.append).status == "finished"
    stages = [s.stage for s in t.branch()]
    assert stages == [Stage.PLAN, Stage.SKETCH, Stage.INSPECT, Stage.REFINE, Stage.INSPECT, Stage.PLAN, Stage.SKETCH,
                      Stage.INSPECT, Stage.FINAL]
    plans = [s for s in t.branch() if s.stage is Stage.PLAN]
    # The stand-in counts the plans already in its context: right only if the history is there.
    assert [p.instruction for p in plans] == ["draw a cat", "draw a dog"] and plans[-1].complete
    assert inf.calls["gen_text"] == 6 and inf.calls["gen_image"] == 3  # 2 plans + 3 inspects + 1 refine text
    # Nothing encoded twice: two root texts plus each stage's own texts, into the main and the text-only context.
    own_texts = 2 + 2 * 2 + 2 * 3 + 2
    assert inf.calls["update_context_text"] == 2 * own_texts
    assert inf.calls["update_context_image"] == 3
    assert engine.prefilled == {"texts": 0, "images": 0}
    # Each image step used num_timesteps - 1 denoising steps, with the session's sampling settings.
    assert [s.sampling_steps for s in t.branch() if s.image is not None and s.stage is not Stage.FINAL] == [5, 5, 5]
    sketch = gens(inf, "image")[0]
    assert sketch["settings"]["cfg_text_scale"] == 5.0 and sketch["settings"]["cfg_interval"] == [0.2, 0.9]
    assert sketch["settings"]["cfg_renorm_type"] == "global" and sketch["image_shape"] == (64, 64)
    assert gens(inf, "image")[1]["settings"]["cfg_renorm_type"] == "text_channel"  # the refine: BAGEL's edit defaults
    assert t.branch()[1].meta["num_timesteps"] == 6
    previews = [e.progress.preview for e in events if e.kind == "progress" and e.progress.preview is not None]
    assert previews and all(isinstance(p, Image.Image) for p in previews)


def test_the_guidance_contexts_are_the_ones_bagel_builds(runner, bagel):
    engine, inf = bagel(fail_rounds=(1,))
    t = session(runner)
    runner.run(t)
    sketch, refine = gens(inf, "image")[:2]
    # Text CFG drops the text that conditions this image (the plan's request and answer; the refine's) ...
    assert sketch["cfg_text"] == sketch["transcript"][:-2]
    assert texts(sketch["transcript"])[-1].startswith("<ins>draw a cat</ins>")
    assert refine["cfg_text"] == refine["transcript"][:-2]
    assert texts(refine["transcript"])[-1] == "<refine>add what is missing</refine>"
    # ... and image CFG sees every text but no image.
    for seen in (sketch, refine):
        assert seen["cfg_img"] == [e for e in seen["transcript"] if e[0] == "text"]
    assert ("image", pixels_sha(runner.store.load_image(t.branch()[1].image))) in refine["transcript"]


def test_a_fork_rebuilds_the_context_by_prefilling_and_generates_only_the_new_stage(runner, bagel):
    engine, inf = bagel(fail_rounds=(1,))
    t = session(runner)
    runner.run(t)
    original_refine_text = gens(inf, "text")[2]  # plan, inspect, refine
    verdict = t.branch()[2]
    assert verdict.stage is Stage.INSPECT and not verdict.passed
    before = dict(inf.calls)
    runner.fork(t, verdict.id)
    assert dict(inf.calls) == before  # forking calls no model
    refine = runner.advance(t)
    assert refine.stage is Stage.REFINE and refine.parent_id == verdict.id
    new = {k: inf.calls[k] - before.get(k, 0) for k in inf.calls}
    assert new["gen_text"] == 1 and new["gen_image"] == 1  # the new refine only: nothing regenerated
    # prefilled: the root (2) + plan (2) + inspect (2) texts and the one sketch; then the refine's own two texts
    assert engine.prefilled == {"texts": 6, "images": 1}
    assert new["update_context_text"] == 2 * (6 + 2) and new["update_context_image"] == 2
    # The rebuilt context is the one the continuous run had (the sketch came back from the store's PNG).
    assert gens(inf, "text")[-1]["transcript"] == original_refine_text["transcript"]


def test_a_resumed_session_in_a_new_process_gets_the_same_context(runner, store, bagel):
    engine, inf = bagel(fail_rounds=(1,))
    t = session(runner)
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    runner.run(t, pause=PausePolicy.AT_INSPECT)  # refine, inspect (passes)
    runner.advance(t)  # plan 2
    runner.advance(t)  # sketch 2
    sketch2 = t.head()
    runner.advance(t)  # inspect 2, from the kept context
    reference = gens(inf, "text")[-1]["transcript"]

    engine2, inf2 = bagel(fail_rounds=(1,), name="bagel-standin-2")  # a fresh process: empty cache, new model
    t2 = store.load(t.session.id)
    t2.session.engine = "bagel-standin-2"
    runner.fork(t2, sketch2.id)
    verdict = runner.advance(t2)
    assert verdict.stage is Stage.INSPECT
    assert inf2.calls["gen_text"] == 1 and inf2.calls["gen_image"] == 0
    images_on_branch = sum(1 for s in t2.branch(sketch2.id) if s.image is not None)
    assert inf2.calls["update_context_image"] == images_on_branch == 3
    assert gens(inf2, "text")[-1]["transcript"] == reference


def test_an_edited_plan_is_what_the_sketch_is_conditioned_on(runner, bagel):
    engine, inf = bagel()
    t = session(runner, "a cat")
    plan = runner.advance(t)
    runner.edit_plan(t, plan.id, instruction="draw a tabby cat", description="a tabby cat")
    runner.advance(t)
    seen = gens(inf, "image")[-1]
    assert texts(seen["transcript"])[-1] == "<ins>draw a tabby cat</ins><des>a tabby cat</des><done>yes</done>"
    assert "draw a cat" not in " ".join(texts(seen["transcript"]))
    assert inf.calls["gen_text"] == 1  # the edit was prefilled, not regenerated


def test_a_rejected_sketch_is_redrawn_from_a_context_without_it(runner, bagel):
    engine, inf = bagel()
    t = session(runner, "a cat")
    runner.advance(t)
    sketch = runner.advance(t)
    runner.reject(t, sketch.id, note="too dark")
    seen = gens(inf, "image")[-1]
    assert not any(kind == "image" for kind, _ in seen["transcript"])
    assert inf.calls["gen_text"] == 1 and inf.calls["gen_image"] == 2


def test_contexts_are_evicted_least_recently_used_first_within_the_memory_budget(runner, bagel):
    engine, inf = bagel(cache_gb=1.0)
    a, b = session(runner, "a cat"), session(runner, "a dog")
    runner.advance(a)
    one = engine.cache.total
    assert one > 0
    runner.advance(b)
    assert len(engine.cache.entries) == 2  # both fit in 1 GiB: no rebuilding when switching
    runner.advance(a)
    runner.advance(b)
    assert engine.prefilled == {"texts": 0, "images": 0} and engine.cache.evictions == 0

    small, inf2 = bagel(cache_gb=1.5 * one / 2**30, name="bagel-small")
    a, b = session(runner, "a cat", name="bagel-small"), session(runner, "a dog", name="bagel-small")
    runner.advance(a)
    runner.advance(b)  # b's context pushes a's out
    assert small.cache.evictions == 1 and len(small.cache.entries) == 1
    assert small.cache.total <= small.cache.budget
    runner.advance(a)  # a is rebuilt by prefill (root + its plan), nothing regenerated
    assert small.prefilled == {"texts": 4, "images": 0}
    assert inf2.calls["gen_text"] == 2 and inf2.calls["gen_image"] == 1
    assert small.cache.total <= small.cache.budget


def test_cancelling_a_sketch_keeps_nothing_and_the_context_survives(runner, store, bagel):
    engine, inf = bagel()
    t = session(runner, "a cat")
    runner.advance(t)
    token = CancelToken()

    def listener(event):
        if event.kind == "progress" and event.stage is Stage.SKETCH and event.progress.fraction > 0:
            token.cancel()

    assert runner.run(t, listener=listener, cancel=token).status == "cancelled"
    assert store.count_steps(t.session.id) == 1
    assert inf.calls["forward_flow"] < 5  # stopped between denoising steps
    sketch = runner.advance(t)
    assert sketch.stage is Stage.SKETCH and sketch.sampling_steps == 5
    assert engine.prefilled == {"texts": 0, "images": 0}  # the untouched context went back to the cache


def test_out_of_memory_names_the_lower_memory_mode_and_leaves_the_session_intact(runner, store, bagel):
    engine, inf = bagel()
    t = session(runner, "a cat")
    runner.advance(t)
    inf.oom_in_flow = True
    with pytest.raises(StudioError, match="STROKE_STUDIO_BAGEL_MODE=nf4"):
        runner.advance(t)
    assert store.count_steps(t.session.id) == 1 and not engine.cache.entries
    sketch = runner.advance(t)  # the context is rebuilt by prefill and the stage runs
    assert sketch.stage is Stage.SKETCH and engine.prefilled == {"texts": 4, "images": 0}


def test_thinking_is_asked_for_and_kept_out_of_the_context(runner, bagel):
    engine, inf = bagel()
    t = session(runner, "a cat", think=True, max_think_tokens=64)
    plan = runner.advance(t)
    assert plan.meta["think"] == "let me look at the context" and plan.instruction == "draw a cat"
    assert gens(inf, "text")[-1]["max_length"] == 64
    runner.advance(t)
    seen = gens(inf, "image")[-1]
    assert "<think>" in texts(seen["transcript"])[-2]  # the request asks for thoughts ...
    assert "let me look" not in " ".join(texts(seen["transcript"]))  # ... which stay in the step's meta


def test_bagel_cannot_refine_a_region(runner, bagel):
    engine, inf = bagel()
    t = session(runner, "a cat")
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    with pytest.raises(StudioError, match="cannot edit a region"):
        runner.refine_with(t, t.head().id, "make it orange", region_mask=Image.new("L", (64, 64), 255))


def test_settings_are_checked(runner, bagel):
    engine, inf = bagel()
    t = session(runner, "a cat", cfg_interval=[0.9, 0.1])
    runner.advance(t)
    with pytest.raises(StudioError, match="cfg_interval"):
        runner.advance(t)
    with pytest.raises(StudioError, match="bf16, nf4 or int8"):
        BagelEngine(mode="fp8", inferencer=inf)


def test_missing_clone_and_model_files_are_named(tmp_path, monkeypatch):
    monkeypatch.delenv("STROKE_STUDIO_BAGEL_REPO", raising=False)
    with pytest.raises(StudioError, match="STROKE_STUDIO_BAGEL_REPO.*git clone"):
        check_bagel_paths(str(tmp_path), None)
    repo = tmp_path / "Bagel"
    (repo / "modeling" / "bagel").mkdir(parents=True)
    (repo / "inferencer.py").write_text("")
    with pytest.raises(StudioError, match="incomplete; missing: modeling/bagel/__init__.py"):
        check_bagel_paths(str(tmp_path / "model"), str(repo))
    for name in ("modeling/bagel/__init__.py", "modeling/autoencoder.py", "modeling/qwen2/__init__.py",
                 "data/transforms.py", "data/data_utils.py"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("")
    with pytest.raises(StudioError, match="does not exist.*hf download ByteDance-Seed/BAGEL-7B-MoT"):
        check_bagel_paths(str(tmp_path / "model"), str(repo))
    model = tmp_path / "model"
    model.mkdir()
    (model / "llm_config.json").write_text("{}")
    (model / "vocab.json").write_text("{}")
    with pytest.raises(StudioError, match="missing: vit_config.json, ae.safetensors, ema.safetensors"):
        check_bagel_paths(str(model), str(repo))
    for name in ("vit_config.json", "ae.safetensors", "ema.safetensors"):
        (model / name).write_text("")
    assert check_bagel_paths(str(model), str(repo)) == (model, repo)
    engine = BagelEngine(str(model), repo=str(repo))
    if not torch.cuda.is_available():
        with pytest.raises(StudioError, match="needs a CUDA GPU"):
            engine.inferencer()


def test_the_registry_builds_bagel_from_the_environment_without_loading(monkeypatch, tmp_path):
    monkeypatch.setenv("STROKE_STUDIO_BAGEL_MODEL", str(tmp_path / "m"))
    monkeypatch.setenv("STROKE_STUDIO_BAGEL_MODE", "nf4")
    monkeypatch.setenv("STROKE_STUDIO_BAGEL_CACHE_GB", "2")
    engine = BagelEngine()
    assert engine.model_path == str(tmp_path / "m") and engine.mode == "nf4"
    assert engine.cache.budget == 2 * 2**30 and engine._inferencer.value is None
    assert "bagel" in engines.names()


def test_the_cache_never_holds_more_than_its_budget():
    cache = ContextCache(budget_bytes=1000)
    from studio.engines.bagel import BranchContext

    for i in range(5):
        cache.put(str(i), BranchContext(torch.zeros(100), torch.zeros(10)))  # 440 bytes each
        assert cache.total <= 1000
    assert list(cache.entries) == ["3", "4"] and cache.evictions == 3
    cache.put("huge", BranchContext(torch.zeros(1000), torch.zeros(1)))
    assert not cache.entries  # one context over the budget is not kept either
