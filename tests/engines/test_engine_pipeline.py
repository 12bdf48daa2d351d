"""The pipeline engine composed from tiny random-weight models built with the real classes.

A Llama chat LLM plans, an Idefics3 VLM inspects (it sees the draft), Stable Diffusion sketches, an
inpaint pipeline built from the sketcher's own weights refines (or InstructPix2Pix from its own
folder), and OWLv2 or the offline COCO detector gives evidence. Each is saved to a folder and loaded
by the engine's own loading code from a TOML config; whole sessions run through the real runner.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from studio import engines
from studio.core.domain import RunSettings, Stage, StudioError, next_stage
from studio.engines.base import CancelToken
from studio.engines.pipeline import PipelineEngine, load_config
from studio.engines.pipeline.chat import ChatModel
from studio.engines.torch_support import tensor_bytes
from studio.runner import PausePolicy

from ..kits import gpu_fakes

STEPS = 4


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline-models")
    return {
        name: build(root / name)
        for name, build in (
            ("sd", gpu_fakes.build_sd),
            ("ip2p", gpu_fakes.build_instruct_pix2pix),
            ("llm", gpu_fakes.build_llama_chat),
            ("vlm", gpu_fakes.build_idefics3),
            ("owl", gpu_fakes.build_owlv2),
        )
    }


def toml_config(
    models,
    path,
    refiner='model = "sketcher"\npipeline = "inpaint"',
    detector='kind = "none"',
    extra_sketcher="",
):
    path.write_text(f"""
[planner]
model = "{models["llm"]}"
max_new_tokens = 12

[inspector]
model = "{models["vlm"]}"
max_new_tokens = 8

[sketcher]
model = "{models["sd"]}"
steps = {STEPS}
width = 64
height = 64
preview_every = 2
{extra_sketcher}

[refiner]
{refiner}
steps = {STEPS}
strength = 0.5

[detector]
{detector}
""")
    return path


@pytest.fixture(scope="module")
def pipeline(models, tmp_path_factory):
    """The registry's own `pipeline` engine, configured by STROKE_STUDIO_PIPELINE_CONFIG."""
    path = toml_config(
        models,
        tmp_path_factory.mktemp("config") / "tiny.toml",
        detector=f'kind = "owlv2"\nmodel = "{models["owl"]}"\nthreshold = 0.0',
    )
    with gpu_fakes.registry_engine("pipeline", "STROKE_STUDIO_PIPELINE_CONFIG", path) as engine:
        yield engine


@pytest.fixture
def other(models, tmp_path):
    """Registers a differently configured pipeline engine for one test."""
    names = []

    def make(name, **kwargs):
        engine = PipelineEngine(toml_config(models, tmp_path / f"{name}.toml", **kwargs))
        engines.register(name, lambda: engine)
        names.append(name)
        return engine

    yield make
    for name in names:
        engines.unregister(name)


def session(runner, engine="pipeline", prompt="a red apple and a blue cup", **params):
    return runner.new_session(
        prompt, engine=engine, seed=3, settings=RunSettings(max_rounds=3, engine_params=params)
    )


def test_a_whole_session_with_a_planner_a_vlm_inspector_a_sketcher_and_an_inpaint_refiner(
    runner, store, pipeline
):
    assert isinstance(pipeline, PipelineEngine) and pipeline.capabilities.region_edit
    t = session(runner)
    events = []
    runner.run(t, pause=PausePolicy.AT_INSPECT, listener=events.append)
    plan, sketch, verdict = t.branch()
    assert plan.instruction and plan.meta["tokens"] <= 12
    assert sketch.sampling_steps == STEPS and sketch.meta["pipeline"] == "StableDiffusionPipeline"
    assert store.load_image(sketch.image).size == (64, 64)
    assert pipeline.inspector().vision and not pipeline.planner().vision
    previews = [
        e.progress.preview
        for e in events
        if e.kind == "progress" and e.progress.preview is not None
    ]
    assert len(previews) >= 2 and all(isinstance(p, Image.Image) for p in previews)

    runner.override(t, verdict.id, sketch_passed=False, sketch_critique="The cup is missing.")
    refine = runner.advance(
        t
    )  # the planner writes the <refine>, the inpaint pipeline redraws the whole image
    assert refine.stage is Stage.REFINE and refine.instruction
    assert (
        refine.meta["pipeline"] == "StableDiffusionInpaintPipeline"
        and refine.sampling_steps == STEPS // 2
    )
    assert runner.run(t).status == "finished"


def test_a_region_refine_changes_only_the_region_and_a_fork_branches(runner, store, pipeline):
    t = session(runner, steps=2)
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    before = store.load_image(t.branch()[1].image)
    refine = runner.refine_with(t, t.head().id, "make the apple green", region_mask=mask)
    after = store.load_image(refine.image)
    assert (
        refine.meta["region"] and refine.sampling_steps == 1
    )  # steps=2 from the session, strength 0.5
    assert after.crop((32, 0, 64, 64)).tobytes() == before.crop((32, 0, 64, 64)).tobytes()
    assert after.crop((0, 0, 32, 64)).tobytes() != before.crop((0, 0, 32, 64)).tobytes()
    runner.fork(t, t.branch()[0].id)
    assert runner.advance(t).stage is Stage.SKETCH
    assert len(store.load(t.session.id).leaves()) == 2


def test_the_detector_gives_evidence_for_the_planned_objects(runner, pipeline, monkeypatch):
    # The tiny inspector's noise would be no verdict at all; this one passes, and the detector's boxes stay.
    monkeypatch.setattr(pipeline, "inspector", lambda: YesInspector(vision=True))
    t = session(runner, steps=1)
    plan = runner.advance(t)
    runner.edit_plan(
        t,
        plan.id,
        instruction="draw a red apple and a blue cup",
        description="a red apple and a blue cup",
    )
    runner.advance(t)
    verdict = runner.advance(t)
    labels = {box.label for box in verdict.sketch_check.evidence}
    assert labels <= {"apple", "cup"} and labels  # threshold 0: every query answers
    assert {d["label"] for d in verdict.meta["detected"]} == labels


def test_a_vetoing_detector_fails_a_sketch_without_the_planned_objects(runner, other, models):
    other("pipe-veto", detector='kind = "coco"\nthreshold = 0.99\nveto = true')
    t = session(runner, engine="pipe-veto", steps=1)
    plan = runner.advance(t)
    runner.edit_plan(t, plan.id, instruction="draw a dog", description="a dog")
    runner.advance(t)
    verdict = runner.advance(t)
    # The tiny inspector's answer is noise (no verdict); the detector's finding still fails the sketch.
    assert "could not be read" in verdict.meta["error"] and verdict.plan_check is None
    assert (
        not verdict.sketch_check.passed
        and "The detector found no dog." in verdict.sketch_check.critique
    )
    assert next_stage(t.branch(), t.session.settings) is Stage.REFINE  # never taken as a pass


class YesInspector:
    """Stands in for the inspector model (not for the detector): it passes every plan and sketch."""

    def __init__(self, vision: bool):
        self.vision = vision

    def generate(self, *args, **kwargs):
        return "<plan>yes</plan><sketch>yes</sketch>", 0


def test_a_noun_the_coco_detector_does_not_know_is_named_in_its_evidence_not_dropped(runner, other):
    engine = other("pipe-coco", detector='kind = "coco"\nthreshold = 0.99\nveto = true')
    engine.inspector = lambda: YesInspector(vision=True)
    t = session(runner, engine="pipe-coco", steps=1)
    plan = runner.advance(t)
    runner.edit_plan(
        t, plan.id, instruction="draw a dog and a lamp", description="a dog and a lamp"
    )
    runner.advance(t)
    verdict = runner.advance(t)
    critique = verdict.sketch_check.critique
    assert not verdict.sketch_check.passed and "The detector found no dog." in critique
    assert (
        "lamp" not in critique
    )  # COCO has no lamp class: not the detector's to miss; the seeing inspector judges it


@pytest.mark.parametrize("planned, passes", [("a lamp", False), ("a dog", True)])
def test_a_blind_inspector_never_passes_a_sketch_whose_unknown_noun_nothing_can_see(
    runner, other, planned, passes
):
    engine = other("pipe-blind", detector='kind = "coco"\nthreshold = 0.99\nveto = false')
    engine.inspector = lambda: YesInspector(
        vision=False
    )  # judges from the detector's findings alone
    t = session(runner, engine="pipe-blind", steps=1)
    plan = runner.advance(t)
    runner.edit_plan(t, plan.id, instruction=f"draw {planned}", description=planned)
    runner.advance(t)
    verdict = runner.advance(t)
    assert verdict.sketch_check.passed is passes
    if not passes:
        assert verdict.sketch_check.critique == (
            "Nothing here can see the lamp: the detector does not know it "
            "and the inspector has no vision."
        )


def test_an_instruct_pix2pix_refiner_from_its_own_folder_is_composited_through_the_region(
    runner, store, other, models
):
    engine = other("pipe-ip2p", refiner=f'model = "{models["ip2p"]}"')
    t = session(runner, engine="pipe-ip2p", steps=2)
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    before = store.load_image(t.branch()[1].image)
    refine = runner.refine_with(t, t.head().id, "make it blue", region_mask=mask)
    after = store.load_image(refine.image)
    assert (
        refine.meta["pipeline"] == "StableDiffusionInstructPix2PixPipeline"
        and refine.sampling_steps == 2
    )
    assert after.crop((0, 0, 64, 16)).tobytes() == before.crop((0, 0, 64, 16)).tobytes()
    assert engine.refiner() is engine.refiner()


def test_later_sketches_can_continue_the_previous_image_with_the_refiner(runner, other):
    engine = other("pipe-continue", extra_sketcher='continue_with = "refiner"')
    engine.inspector = lambda: YesInspector(
        vision=True
    )  # passes the first sketch, so a second plan follows
    t = session(runner, engine="pipe-continue", prompt="a cat and a dog", steps=2)
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    runner.advance(t)  # plan 2
    second = runner.advance(t)
    assert second.stage is Stage.SKETCH and second.meta["continued"] and second.sampling_steps == 1


def test_cancelling_a_sketch_stops_between_steps_and_keeps_nothing(runner, store, pipeline):
    t = session(runner, steps=6)
    runner.advance(t)
    token = CancelToken()
    steps = []

    def listener(event):
        if event.kind == "progress" and event.stage is Stage.SKETCH:
            steps.append(event.progress.message)
            token.cancel()

    assert runner.run(t, listener=listener, cancel=token).status == "cancelled"
    assert steps == ["sketching: step 1/6"] and store.count_steps(t.session.id) == 1


def test_out_of_memory_suggests_cpu_offload_and_leaves_the_session_intact(
    runner, store, pipeline, monkeypatch
):
    t = session(runner, steps=1)
    runner.advance(t)

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")

    monkeypatch.setattr(pipeline.sketcher().unet, "forward", out_of_memory)
    with pytest.raises(StudioError, match='cpu_offload = "model"'):
        runner.advance(t)
    assert store.count_steps(t.session.id) == 1
    monkeypatch.undo()
    assert runner.advance(t).stage is Stage.SKETCH


def test_config_mistakes_and_incomplete_models_are_named(tmp_path, models):
    with pytest.raises(StudioError, match=r"unknown setting\(s\) stepz in \[sketcher\]"):
        load_config({"planner": {"model": "x"}, "sketcher": {"model": "y", "stepz": 3}})
    with pytest.raises(StudioError, match=r"\[sketcher\] needs a model"):
        load_config({"planner": {"model": "x"}})
    with pytest.raises(StudioError, match="unknown section"):
        load_config({"planner": {"model": "x"}, "sketcher": {"model": "y"}, "painter": {}})
    bad = tmp_path / "bad.toml"
    bad.write_text("[planner\nmodel=1")
    with pytest.raises(StudioError, match="not valid TOML"):
        PipelineEngine(bad)
    broken = tmp_path / "sd"
    shutil.copytree(models["sd"], broken)
    for weights in (broken / "unet").glob("*.safetensors"):
        weights.unlink()
    engine = PipelineEngine(
        {"planner": {"model": str(models["llm"])}, "sketcher": {"model": str(broken)}}
    )
    with pytest.raises(StudioError, match=r"incomplete; missing: unet/the weights"):
        engine.sketcher()
    relative = tmp_path / "rel.toml"
    relative.write_text('[planner]\nmodel = "./llm"\n[sketcher]\nmodel = "../sd"\n')
    config, _ = load_config(relative)
    assert config["planner"]["model"] == str(tmp_path / "llm") and config["sketcher"][
        "model"
    ] == str(tmp_path.parent / "sd")
    assert config["refiner"]["model"] == "sketcher" and config["inspector"]["model"] == "planner"


def test_the_example_configs_are_valid():
    from pathlib import Path

    for name in ("pipeline-24gb.toml", "pipeline-80gb.toml"):
        config, _ = load_config(Path(__file__).resolve().parents[2] / "assets" / name)
        assert config["planner"]["model"] and config["sketcher"]["model"]


# -- the shipped configs' own classes, tiny ----------------------------------------------------

ASSETS = Path(__file__).resolve().parents[2] / "assets"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The classes assets/pipeline-24gb.toml and pipeline-80gb.toml name, built tiny."""
    root = tmp_path_factory.mktemp("shipped-models")
    return {
        name: build(root / name)
        for name, build in (
            ("sdxl", gpu_fakes.build_sdxl),
            ("flux", gpu_fakes.build_flux),
            ("kontext", gpu_fakes.build_flux_kontext),
            ("qwen-vl", gpu_fakes.build_qwen2_5_vl),
        )
    }


def shipped_config(name: str, models: dict[str, str], tiny: dict[str, dict]) -> dict:
    """The shipped TOML as read by the engine, its model ids replaced by the tiny folders and its sizes
    and step counts shrunk; every other key (pipelines, reuse lists, guidance, detector) is the file's."""
    config, _ = load_config(ASSETS / name)
    for section, model in models.items():
        config[section]["model"] = model
    for section, keys in tiny.items():
        config[section].update(keys)
    for section in ("planner", "sketcher", "refiner", "detector"):
        config[section]["device"] = "cpu"
    return config


def qwen_planner(engine: PipelineEngine) -> None:
    """The shipped Qwen2.5-VL planner, loaded by the engine; where torchvision is missing (here), its
    processor stands in without the video half and the engine's own ChatModel runs the real class."""
    try:
        engine.planner()
    except StudioError as exc:
        assert "torchvision" in str(exc) and "stroke-studio[vision]" in str(exc)
        from transformers import AutoModelForImageTextToText, AutoTokenizer

        folder = engine.config["planner"]["model"]
        tok = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32).eval()
        processor = gpu_fakes.qwen_processor_without_video(tok)
        engine._parts["planner"].value = ChatModel(model, processor, True, "cpu", torch.float32)


def test_a_class_name_refiner_from_the_sketcher_keeps_its_dtype_and_shares_its_weights(models):
    engine = PipelineEngine(
        {
            "planner": {"model": str(models["llm"])},
            "sketcher": {"model": str(models["sd"]), "dtype": "bfloat16", "device": "cpu"},
            "refiner": {"model": "sketcher", "pipeline": "StableDiffusionInpaintPipeline"},
        }
    )
    sketcher = engine.sketcher()
    alone = tensor_bytes(sketcher.components)
    refiner = engine.refiner()
    assert type(refiner).__name__ == "StableDiffusionInpaintPipeline"
    assert sketcher.unet.dtype == sketcher.vae.dtype == torch.bfloat16
    assert refiner.unet is sketcher.unet and refiner.text_encoder is sketcher.text_encoder
    assert tensor_bytes([sketcher.components, refiner.components]) == alone  # no second copy


def test_the_24gb_config_sdxl_sketches_and_its_sdxl_inpaint_refiner_edits_a_region(
    runner, store, shipped, models
):
    config = shipped_config(
        "pipeline-24gb.toml",
        {"planner": str(shipped["qwen-vl"]), "sketcher": str(shipped["sdxl"])},
        {
            "planner": {"max_new_tokens": 6, "dtype": "float32"},
            "sketcher": {
                "steps": 2,
                "width": 64,
                "height": 64,
                "dtype": "float32",
                "variant": None,
            },
            "refiner": {"steps": 2},
            "detector": {"model": str(models["owl"])},
        },
    )
    engine = PipelineEngine(config)
    assert engine.config["refiner"]["pipeline"] == "inpaint"
    qwen_planner(engine)
    engine.inspector = lambda: YesInspector(vision=True)  # noise would be no verdict
    engines.register("pipe-24gb", lambda: engine)
    try:
        t = session(runner, engine="pipe-24gb")
        runner.run(t, pause=PausePolicy.AT_INSPECT)
        plan, sketch, verdict = t.branch()
        assert plan.meta["tokens"] <= 6 and sketch.meta["pipeline"] == "StableDiffusionXLPipeline"
        assert verdict.sketch_check.evidence is not None
        mask = Image.new("L", (64, 64), 0)
        mask.paste(255, (0, 0, 32, 64))
        before = store.load_image(sketch.image)
        refine = runner.refine_with(t, t.head().id, "make the apple green", region_mask=mask)
        after = store.load_image(refine.image)
        assert refine.meta["pipeline"] == "StableDiffusionXLInpaintPipeline"
        assert after.crop((32, 0, 64, 64)).tobytes() == before.crop((32, 0, 64, 64)).tobytes()
        assert engine.refiner().unet is engine.sketcher().unet
    finally:
        engines.unregister("pipe-24gb")


def test_the_80gb_config_flux_sketches_and_kontext_edits_with_flux_encoders_shared(
    runner, store, shipped, models
):
    config = shipped_config(
        "pipeline-80gb.toml",
        {
            "planner": str(models["llm"]),
            "sketcher": str(shipped["flux"]),
            "refiner": str(shipped["kontext"]),
        },
        {
            "planner": {"max_new_tokens": 6, "dtype": "float32"},
            "sketcher": {"steps": 2, "width": 64, "height": 64, "dtype": "float32"},
            "refiner": {"steps": 2, "dtype": "float32"},
            "detector": {"kind": "none"},
        },
    )
    engine = PipelineEngine(config)
    engine.inspector = lambda: YesInspector(vision=True)
    engines.register("pipe-80gb", lambda: engine)
    try:
        t = session(runner, engine="pipe-80gb")
        runner.run(t, pause=PausePolicy.AT_INSPECT)
        sketch = t.branch()[1]
        assert sketch.meta["pipeline"] == "FluxPipeline" and sketch.sampling_steps == 2
        assert sketch.meta["guidance_scale"] == 3.5  # FLUX's distilled guidance, by its own name
        refine = runner.refine_with(t, t.head().id, "make the cup blue")
        assert refine.meta["pipeline"] == "FluxKontextPipeline" and refine.sampling_steps == 2
        assert store.load_image(refine.image).size == (64, 64)
        refiner, sketcher = engine.refiner(), engine.sketcher()
        assert refiner.text_encoder_2 is sketcher.text_encoder_2 and refiner.vae is sketcher.vae
        assert refiner.transformer is not sketcher.transformer
    finally:
        engines.unregister("pipe-80gb")


def test_a_qwen_image_edit_refiner_takes_the_instruction_and_keeps_the_size(runner, store, models):
    engine = PipelineEngine(
        {
            "planner": {"model": str(models["llm"]), "device": "cpu", "max_new_tokens": 6},
            "sketcher": {
                "model": str(models["sd"]),
                "device": "cpu",
                "steps": 1,
                "width": 64,
                "height": 64,
            },
            "refiner": {"model": "Qwen/Qwen-Image-Edit", "steps": 2, "guidance": 1.0},
        }
    )
    # Its processor needs torchvision to reload from a folder (missing here), so the pipeline is built
    # in place with its real classes; the engine's own edit path runs it.
    pipe = gpu_fakes.qwen_image_edit()
    pipe.set_progress_bar_config(disable=True)
    engine._parts["refiner"].value = pipe
    engine.inspector = lambda: YesInspector(vision=True)
    engines.register("pipe-qwen-edit", lambda: engine)
    try:
        t = session(runner, engine="pipe-qwen-edit", steps=1)
        runner.run(t, pause=PausePolicy.AT_INSPECT)
        refine = runner.refine_with(t, t.head().id, "make the cup green")
        assert refine.meta["pipeline"] == "QwenImageEditPipeline"
        assert refine.sampling_steps == 1  # the session's steps win over the file's
        assert store.load_image(refine.image).size == (64, 64)
    finally:
        engines.unregister("pipe-qwen-edit")


def test_a_qwen_vl_planner_without_torchvision_names_the_install_line(shipped):
    try:
        import torchvision  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("torchvision is installed here: the processor loads")
    engine = PipelineEngine(
        {
            "planner": {"model": str(shipped["qwen-vl"]), "device": "cpu"},
            "sketcher": {"model": str(shipped["sdxl"])},
        }
    )
    with pytest.raises(StudioError, match=r"needs torchvision.*stroke-studio\[vision\]"):
        engine.planner()


# -- a person's correction steers the next call (issue 22) --------------------------------------


def prompts_seen(pipe, monkeypatch) -> list[str]:
    """The prompts the pipeline's own encode_prompt receives (the real method runs)."""
    seen: list[str] = []
    inner = pipe.encode_prompt

    def encode_prompt(prompt, *args, **kwargs):
        seen.append(prompt if isinstance(prompt, str) else " ".join(prompt))
        return inner(prompt, *args, **kwargs)

    monkeypatch.setattr(pipe, "encode_prompt", encode_prompt)
    return seen


def test_an_overridden_verdict_is_the_editing_pipelines_instruction(runner, pipeline, monkeypatch):
    t = session(runner, steps=2)
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    verdict = t.head()
    runner.override(t, verdict.id, sketch_passed=False, sketch_critique="the cup should be green")
    seen = prompts_seen(pipeline.refiner(), monkeypatch)
    refine = runner.advance(t)
    assert refine.stage is Stage.REFINE and refine.instruction == "the cup should be green"
    assert seen and all("the cup should be green" in prompt for prompt in seen)
    assert refine.meta["person_input"]["kind"] == "verdict" and refine.meta["person_input"]["used"]
    assert "the cup should be green" in refine.meta["person_input"]["note"]


def test_a_reject_reason_becomes_part_of_the_sketchers_prompt(runner, pipeline, monkeypatch):
    t = session(runner, steps=1)
    runner.advance(t)
    sketch = runner.advance(t)
    seen = prompts_seen(pipeline.sketcher(), monkeypatch)
    redraw = runner.reject(t, sketch.id, note="the clock should be on the left of the cup")
    assert redraw.stage is Stage.SKETCH
    assert seen and "the clock should be on the left of the cup" in seen[-1]
    assert "the clock should be on the left of the cup" in redraw.meta["prompt"]
    assert redraw.meta["person_input"]["kind"] == "reason" and redraw.meta["person_input"]["used"]
