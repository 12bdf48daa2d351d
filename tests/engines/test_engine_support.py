"""What the three GPU engines share: lazy imports, model folders, errors, devices, the text protocol,
and bench/gpu_check.py (its no-GPU exit here, and its whole run at toy sizes on the CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.core.domain import Check, Mode, RunSettings, Session, Stage, Step, StudioError
from studio.core.protocol import UnreadableText
from studio.engines import prompts
from studio.engines.base import StageContext
from studio.engines.torch_support import (
    gpu_errors,
    load_placement,
    missing_diffusers_files,
    pick_device,
    pick_dtype,
    resolve_model,
    tensor_bytes,
)

ROOT = Path(__file__).resolve().parents[2]


def test_listing_and_constructing_the_gpu_engines_imports_no_torch(tmp_path):
    code = (
        "import sys\n"
        "from studio import engines\n"
        "assert {'bagel', 'janus', 'pipeline'} <= set(engines.names())\n"
        "from studio.engines.bagel import BagelEngine\n"
        "from studio.engines.janus import JanusEngine\n"
        "from studio.engines.pipeline import PipelineEngine\n"
        "for name in ('bagel', 'janus', 'pipeline'):\n"
        "    engine = engines.load(name)\n"
        "    assert engine.capabilities.needs_gpu and engine.label\n"
        "from studio.cli import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, ['engines'])\n"
        "assert result.exit_code == 0 and 'janus' in result.output, result.output\n"
        "heavy = [m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_what_bagels_worker_imports_loads_only_the_standard_library(tmp_path):
    """BAGEL's worker runs in BAGEL's own environment, where the studio's dependencies are not
    installed: the worker and the torch_support modules it imports may load nothing else at import."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import studio.engines.bagel.worker\n"
        "from studio.engines.torch_support import devices, model_files, previews, progress, settings\n"
        "loaded = {name.split('.')[0] for name in set(sys.modules) - before}\n"
        "print(sorted(loaded - set(sys.stdlib_module_names) - {'studio'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_model_folder_is_checked_before_loading(tmp_path, monkeypatch):
    with pytest.raises(StudioError, match="does not exist.*MY_SETTING"):
        resolve_model(str(tmp_path / "none"), what="planner model", setting_name="MY_SETTING")
    folder = tmp_path / "llm"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    index = {
        "weight_map": {
            "a": "model-00001-of-00002.safetensors",
            "b": "model-00002-of-00002.safetensors",
        }
    }
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"x")
    with pytest.raises(StudioError, match="incomplete; missing: model-00002-of-00002.safetensors"):
        resolve_model(str(folder), what="planner model", setting_name="S")
    (folder / "model-00002-of-00002.safetensors").write_bytes(b"x")
    assert resolve_model(str(folder), what="planner model", setting_name="S") == (str(folder), True)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        StudioError,
        match="'someone/some-model' is not in the local Hugging Face cache.*"
        "hf download someone/some-model",
    ):
        resolve_model("someone/some-model", what="planner model", setting_name="S")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    assert resolve_model("someone/some-model", what="m", setting_name="S") == (
        "someone/some-model",
        False,
    )


def test_a_diffusers_folder_lists_missing_components(tmp_path):
    (tmp_path / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "StableDiffusionPipeline",
                "unet": ["diffusers", "UNet2DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"],
                "tokenizer": ["transformers", "CLIPTokenizer"],
                "safety_checker": [None, None],
            }
        )
    )
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "config.json").write_text("{}")
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "vocab.json").write_text("{}")
    assert missing_diffusers_files(tmp_path) == [
        "unet/the weights (*.safetensors or *.bin)",
        "vae/",
    ]


def test_out_of_memory_becomes_a_studio_error_and_other_errors_pass():
    dropped = []
    with pytest.raises(
        StudioError, match="ran out of memory while drawing. Use less.*session is unchanged"
    ):
        with gpu_errors("drawing", "Use less.", on_oom=lambda: dropped.append(True)):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
    assert dropped == [True]
    with pytest.raises(StudioError, match="ran out of memory"):
        with gpu_errors("drawing", "Use less."):
            raise RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)")
    with pytest.raises(ValueError):
        with gpu_errors("drawing", "Use less."):
            raise ValueError("something else")


def test_device_and_dtype_are_chosen_and_checked():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert pick_device("auto") == expected and pick_dtype("auto", "cpu") is torch.float32
        with pytest.raises(StudioError, match="sees no CUDA GPU"):
            pick_device("cuda")
    assert pick_dtype("bf16", "cpu") is torch.bfloat16
    with pytest.raises(StudioError, match="Unknown dtype"):
        pick_dtype("int3", "cpu")
    with pytest.raises(StudioError, match="Unknown device"):
        pick_device("tpu")


def test_models_load_straight_onto_a_gpu_and_need_no_placement_on_the_cpu():
    assert load_placement("cuda") == {"device_map": {"": "cuda"}}
    assert load_placement("cuda:1") == {"device_map": {"": "cuda:1"}}
    assert load_placement("mps") == {"device_map": {"": "mps"}}
    assert load_placement("cpu") == {}


def test_tensor_bytes_counts_each_storage_once():
    a = torch.zeros(10, dtype=torch.float32)
    context = {"kv": [a, a[:5]], "b": torch.zeros(3, dtype=torch.float16), "n": 3}
    assert tensor_bytes(context) == 40 + 6


def _ctx(branch=(), mode=Mode.PROCESS):
    session = Session(
        id="s",
        prompt="a red apple and a blue cup",
        engine="x",
        seed=1,
        settings=RunSettings(max_rounds=4, mode=mode),
    )
    return StageContext(
        session=session,
        stage=Stage.PLAN,
        branch=list(branch),
        seed=1,
        params={},
        round=1,
        max_rounds=4,
        mode=mode,
        load_image=lambda ref: None,
    )


def test_plans_are_parsed_from_tags_or_fall_back_to_the_text():
    ctx = _ctx()
    plan = prompts.plan_result(
        "<think>hm</think><ins>draw a red apple</ins><des>a red apple</des><done>no</done>", ctx
    )
    assert (plan.instruction, plan.description, plan.complete, plan.meta["format_ok"]) == (
        "draw a red apple",
        "a red apple",
        False,
        True,
    )
    loose = prompts.plan_result("Draw the apple first.\nThen the cup.", ctx)
    assert (
        loose.instruction == "Draw the apple first."
        and not loose.meta["format_ok"]
        and not loose.complete
    )
    empty = prompts.plan_result("\x01\x02", ctx)
    assert empty.instruction == "Draw a red apple and a blue cup"
    assert prompts.plan_result("<ins>everything</ins>", _ctx(mode=Mode.SINGLE)).complete
    previous = Step(
        id="p",
        session_id="s",
        parent_id=None,
        stage=Stage.PLAN,
        instruction="draw a red apple",
        description="a red apple",
    )
    later = prompts.plan_result("<ins>add a blue cup</ins>", _ctx([previous]))
    assert later.description == "a red apple; add a blue cup"


def test_verdicts_are_parsed_and_unreadable_ones_are_errors_not_passes():
    both = prompts.inspect_result("<plan>yes</plan><sketch>no: the cup is red, not blue</sketch>")
    assert both.plan_check.passed and not both.sketch_check.passed
    assert both.sketch_check.critique == "the cup is red, not blue" and both.meta["format_ok"]
    exported = prompts.inspect_result(
        '<inspect><plan pass="true">Fine.</plan><sketch pass="false">No cup.</sketch></inspect>'
    )
    assert exported.plan_check == Check(True, "Fine.") and exported.sketch_check == Check(
        False, "No cup."
    )
    for garbage in ("qwerty", "<plan>yes</plan>", "<plan>maybe</plan><sketch>no</sketch>", ""):
        with pytest.raises(UnreadableText, match="could not be read.*<plan>yes|no"):
            prompts.inspect_result(garbage)
    vetoed = prompts.inspect_result(
        "<plan>yes</plan><sketch>yes</sketch>", detector_problems=["The detector found no cup."]
    )
    assert (
        not vetoed.sketch_check.passed
        and vetoed.sketch_check.critique == "The detector found no cup."
    )


def test_refine_instructions_fall_back_to_the_critique():
    verdict = Step(
        id="i",
        session_id="s",
        parent_id=None,
        stage=Stage.INSPECT,
        plan_check=Check(True),
        sketch_check=Check(False, "the cup is missing"),
    )
    ctx = _ctx([verdict])
    assert prompts.refine_instruction("<refine>add a blue cup</refine>", ctx) == (
        "add a blue cup",
        True,
    )
    assert prompts.refine_instruction("", ctx) == ("Fix the image: the cup is missing", False)


def test_gpu_check_says_it_needs_a_gpu_and_stops():
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: run bench/gpu_check.py itself")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_check.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "gpu_check needs a CUDA GPU" in done.stderr and "CUDA build of torch" in done.stderr


def test_gpu_check_runs_every_engine_at_toy_sizes(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("STROKE_STUDIO_BAGEL_REPO", raising=False)
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(ROOT / "bench"))
    out = tmp_path / "rows.json"
    assert gpu_check.main(["--tiny", "--allow-cpu", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    stages = [(r["engine"], r.get("stage")) for r in rows]
    for engine in ("janus-check", "pipeline-check"):
        assert [s for e, s in stages if e == engine] == [
            "load from disk",
            "plan",
            "sketch",
            "inspect",
            "refine",
        ]
    assert rows[-1]["engine"] == "bagel" and "--real" in rows[-1]["skipped"]
    assert "| janus-check | sketch |" in capsys.readouterr().out


@pytest.mark.parametrize("name, missing", [("janus", "transformers"), ("pipeline", "diffusers")])
def test_a_gpu_engine_without_the_gpu_extra_names_the_install_line(monkeypatch, name, missing):
    """find_spec returning None stands in for a machine where the `gpu` extra was never installed."""
    import importlib.util

    from studio import engines
    from studio.core.domain import StudioError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda module, *a: None if module == missing else real(module, *a),
    )
    factory = engines._factory(name)
    with pytest.raises(StudioError, match=rf'needs {missing}: .*pip install -e "\.\[gpu\]"'):
        factory()


def _spied_vae():
    """The tiny SD VAE (tests/kits/gpu_fakes.py), recording the dtype its decoder runs in."""
    from ..kits.gpu_fakes import sd_parts

    vae = sd_parts()["vae"]
    seen = []
    forward = vae.decoder.forward

    def spy(*args, **kwargs):
        seen.append(next(vae.decoder.parameters()).dtype)
        return forward(*args, **kwargs)

    vae.decoder.forward = spy
    return vae, seen


def test_an_fp16_vae_that_asks_for_upcasting_decodes_previews_in_float32_as_the_pipeline_does():
    from types import SimpleNamespace

    from studio.engines.torch_support import diffusers_latent_preview

    vae, seen = _spied_vae()
    vae.to(torch.float16)
    assert vae.config.force_upcast  # SDXL's VAE config says so; its fp16 decode overflows to NaN
    preview = diffusers_latent_preview(SimpleNamespace(vae=vae), torch.randn(1, 4, 8, 8), 16, 16)
    assert (
        seen == [torch.float32] and vae.dtype == torch.float16
    )  # upcast for the preview, then put back
    assert preview.size == (16, 16)  # a decode (the channel view of an 8x8 latent would be 8x8)


def test_previews_under_model_cpu_offload_do_not_offload_the_denoiser():
    from types import SimpleNamespace

    from accelerate import cpu_offload_with_hook

    from studio.engines.torch_support import diffusers_latent_preview

    from ..kits.gpu_fakes import sd_parts

    unet = sd_parts()["unet"]
    vae, seen = _spied_vae()
    # What enable_model_cpu_offload() builds: a hook chain in which running the VAE offloads the UNet.
    _, unet_hook = cpu_offload_with_hook(unet, "cpu")
    cpu_offload_with_hook(vae, "cpu", prev_module_hook=unet_hook)
    offloads = []
    unet_hook.offload = lambda: offloads.append(1)
    # accelerate offloads the previous model only when it is not on the CPU already; on a GPU machine it is
    # on the GPU, which this CPU test stands in for with the meta device.
    unet_hook.model = SimpleNamespace(parameters=lambda: iter([torch.empty(0, device="meta")]))
    pipe = SimpleNamespace(vae=vae, _execution_device=torch.device("cpu"))
    preview = diffusers_latent_preview(pipe, torch.randn(1, 4, 8, 8), 16, 16)
    assert seen == [torch.float32] and preview.size == (16, 16)
    assert offloads == []  # the UNet stays where it is between denoising steps
