"""`gpu_check.py --full-size` and `--plan`: each engine's model at its real configuration, random weights.

--plan builds each model on the meta device (accelerate's init_empty_weights: no memory, no GPU) and
prints its parameters and size in the mode's dtype. --full-size builds the same models directly on the
GPU in that dtype (no disk, no CPU copy), hands them to the engine (JanusEngine.adopt,
PipelineEngine.adopt), warms up with one short session, then runs one session per engine through the
runner and store and prints per stage: seconds, sampling steps, peak allocated / reserved GPU memory,
seconds in the autoencoder (VAE / VQ decoder) and the studio's own share of the stage (its wall time
less the time inside the model calls).

The models (the released checkpoints' configurations):
- janus:         Janus-Pro-7B (LLaMA 4096×30, SigLIP-L/16 at 384 px, VQ 16,384 codes; 576 image tokens), bf16
- pipeline-flux: FLUX.1-dev sketcher (12 B transformer, T5-XXL, CLIP-L, FLUX VAE) + a FLUX.1 Kontext
                 refiner (its own 12 B transformer, the encoders and VAE shared: assets/pipeline-80gb.toml),
                 1024², 28 steps, bf16; planner/inspector a SmolVLM-2B-sized Idefics3
- pipeline-sdxl: SDXL (UNet 2.6 B, both CLIPs) + SDXL inpaint from its own weights (pipeline-24gb.toml's
                 shape), 1024², 30 steps, fp16; the same planner
- bagel:         BAGEL-7B-MoT in --plan (bench/bagel_memory.py through BAGEL's environment, when present);
                 --full-size does not build it (its worker loads a 29 GB snapshot from disk)
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GiB = 2**30

# Janus-Pro-7B: Janus-Pro-1B's vision tower and VQ decoder (gpu_check's realistic size) with the 7B LM.
JANUS_7B_LM = dict(hidden=4096, layers=30, heads=32, kv_heads=32, intermediate=11008)
# FLUX.1-dev: CLIP-L, T5-XXL v1.1, FLUX's VAE; its transformer is diffusers' default configuration.
FLUX_DEV = dict(
    clip=dict(
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        projection_dim=768,
    ),
    clip_vocab=49408,
    t5=dict(
        d_model=4096,
        d_kv=64,
        d_ff=10240,
        num_layers=24,
        num_heads=64,
        feed_forward_proj="gated-gelu",
        is_gated_act=True,
    ),
    t5_vocab=32128,
    t5_max_len=512,
    vae=dict(
        block_out_channels=(128, 256, 512, 512),
        layers_per_block=2,
        latent_channels=16,
        norm_num_groups=32,
        sample_size=1024,
        shift_factor=0.1159,
        scaling_factor=0.3611,
    ),
    transformer={},
)
SIDE = 1024


@contextlib.contextmanager
def default_dtype(dtype):
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


@contextlib.contextmanager
def where(device: str, dtype):
    """Build on `device` ("meta": accelerate's empty weights) with parameters created in `dtype`."""
    import torch

    if device == "meta":
        from accelerate import init_empty_weights

        with init_empty_weights(), default_dtype(dtype):
            yield
    else:
        with torch.device(device), default_dtype(dtype):
            yield


# -- the models ---------------------------------------------------------------------------------


def janus(device: str, dtype):
    """Janus-Pro-7B and its processor (the tokenizer covers the 102,400-token vocabulary)."""
    import gpu_check
    from transformers import GenerationConfig, JanusForConditionalGeneration

    folder = Path(os.environ.get("TMPDIR", "/tmp")) / "gpu-full-janus-processor"
    size = {**gpu_check.SIZES["realistic"]["janus"], **JANUS_7B_LM}
    config, processor, ids = gpu_check.janus_parts(size, 102400)
    processor.save_pretrained(folder)
    with where(device, dtype):
        model = JanusForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<s>"], eos_token_id=ids["</s>"], pad_token_id=ids["<pad>"]
    )
    return model, processor


def vlm(device: str, dtype):
    import gpu_check
    from transformers import Idefics3ForConditionalGeneration

    config, processor = gpu_check.vlm_parts(gpu_check.SIZES["realistic"]["vlm"], 102400)
    with where(device, dtype):
        model = Idefics3ForConditionalGeneration(config).eval()
    return model, processor


def flux_pipes(device: str, dtype):
    """A FLUX.1-dev sketcher and a FLUX.1 Kontext refiner, each with its own transformer, sharing the
    text encoders, tokenizers and VAE."""
    from diffusers import FluxKontextPipeline, FluxPipeline

    from tests.kits.gpu_fakes import flux_encoders, flux_scheduler, flux_transformer

    with where(device, dtype):
        shared = flux_encoders(FLUX_DEV)
        sketcher, refiner = flux_transformer(FLUX_DEV), flux_transformer(FLUX_DEV)
    sketcher = FluxPipeline(scheduler=flux_scheduler(), transformer=sketcher, **shared)
    refiner = FluxKontextPipeline(scheduler=flux_scheduler(), transformer=refiner, **shared)
    return sketcher, refiner


def sdxl_pipe(device: str, dtype):
    import gpu_check

    from tests.kits.gpu_fakes import sdxl_pipeline

    with where(device, dtype):
        return sdxl_pipeline(gpu_check.SIZES["realistic"]["sdxl"])


# -- --plan -------------------------------------------------------------------------------------


def _size(module) -> tuple[float, float]:
    params = sum(p.numel() for p in module.parameters())
    nbytes = sum(p.numel() * p.element_size() for p in module.parameters())
    return params / 1e9, nbytes / GiB


def plan() -> list[dict]:
    import torch

    rows: list[dict] = []

    def add(engine: str, part: str, module, dtype) -> None:
        params, gib = _size(module)
        rows.append(
            dict(
                engine=engine,
                part=part,
                dtype=str(dtype).replace("torch.", ""),
                params_b=round(params, 3),
                gib=round(gib, 2),
            )
        )

    bf16, fp16 = torch.bfloat16, torch.float16
    model, _ = janus("meta", bf16)
    add("janus", "Janus-Pro-7B (LM + SigLIP + VQ)", model, bf16)
    model, _ = vlm("meta", bf16)
    add("pipeline", "planner/inspector: Idefics3, SmolVLM-2B-sized", model, bf16)
    sketcher, refiner = flux_pipes("meta", bf16)
    add("pipeline-flux", "FLUX.1 transformer (sketcher)", sketcher.transformer, bf16)
    add("pipeline-flux", "FLUX.1 Kontext transformer (refiner)", refiner.transformer, bf16)
    add("pipeline-flux", "T5-XXL encoder (shared)", sketcher.text_encoder_2, bf16)
    add("pipeline-flux", "CLIP-L text encoder (shared)", sketcher.text_encoder, bf16)
    add("pipeline-flux", "FLUX VAE (shared)", sketcher.vae, bf16)
    pipe = sdxl_pipe("meta", fp16)
    add("pipeline-sdxl", "SDXL UNet (sketcher; inpaint refiner shares it)", pipe.unet, fp16)
    add(
        "pipeline-sdxl",
        "SDXL CLIP-L + OpenCLIP-bigG",
        torch.nn.ModuleList([pipe.text_encoder, pipe.text_encoder_2]),
        fp16,
    )
    add("pipeline-sdxl", "SDXL VAE", pipe.vae, fp16)
    rows += bagel_plan()
    return rows


def bagel_plan() -> list[dict]:
    """BAGEL-7B-MoT's sizes per mode, from bench/bagel_memory.py in BAGEL's environment (if present)."""
    import json

    python = os.environ.get("STROKE_STUDIO_BAGEL_PYTHON") or str(
        ROOT / ".bagel-env" / "bin" / "python"
    )
    clone = os.environ.get("STROKE_STUDIO_BAGEL_REPO") or str(
        ROOT.parent / "shared" / "third_party" / "Bagel"
    )
    if not (Path(python).exists() and (Path(clone) / "inferencer.py").is_file()):
        return [
            dict(
                engine="bagel",
                part="BAGEL-7B-MoT: not sized (no BAGEL environment or clone here)",
                dtype="",
                params_b="",
                gib="",
            )
        ]
    path = [str(ROOT), str(ROOT / "tests" / "kits" / "bagel_standins")]
    done = subprocess.run(
        [python, str(ROOT / "bench" / "bagel_memory.py"), clone],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": ":".join(path)},
    )
    if done.returncode:
        tail = done.stderr.strip().splitlines()[-1:] or ["failed"]
        return [
            dict(
                engine="bagel",
                part=f"BAGEL-7B-MoT: not sized ({tail[0][:120]})",
                dtype="",
                params_b="",
                gib="",
            )
        ]
    rows = []
    for line in done.stdout.splitlines():
        with contextlib.suppress(ValueError):
            data = json.loads(line)
            if not isinstance(data, dict) or "parameters" not in data:
                continue
            for mode in ("bf16", "int8", "nf4"):
                rows.append(
                    dict(
                        engine="bagel",
                        part=f"BAGEL-7B-MoT weights ({mode} mode)",
                        dtype=mode,
                        params_b=round(data["parameters"] / 1e9, 3),
                        gib=data.get(f"{mode}_weights_gib", ""),
                    )
                )
            if "kv_bytes_per_token" in data:
                rows.append(
                    dict(
                        engine="bagel",
                        part="BAGEL KV cache per token (KiB); a 1024² image is "
                        f"{data.get('tokens_per_1024px_image', '?')} tokens",
                        dtype="bf16",
                        params_b="",
                        gib=round(data["kv_bytes_per_token"] / 1024, 1),
                    )
                )
    return rows or [
        dict(
            engine="bagel",
            part="BAGEL-7B-MoT: " + done.stdout.strip()[:200],
            dtype="",
            params_b="",
            gib="",
        )
    ]


def plan_table(rows: list[dict]) -> str:
    lines = [
        "| engine | model part | dtype | parameters (B) | weights (GiB) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['engine']} | {r['part']} | {r['dtype']} | {r['params_b']} | {r['gib']} |"
        for r in rows
    ]
    return "\n".join(lines)


# -- --full-size --------------------------------------------------------------------------------


class Clock:
    """Seconds spent inside the model calls and inside the autoencoder, per stage."""

    def __init__(self) -> None:
        self.model = 0.0
        self.autoencoder = 0.0

    def reset(self) -> None:
        self.model = self.autoencoder = 0.0

    def wrap(self, owner, name: str, field: str) -> None:
        import torch

        inner = getattr(owner, name)
        if getattr(inner, "_clock", None) is self:  # a module shared by two pipelines: once
            return

        @functools.wraps(inner)
        def timed(*args, **kwargs):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                torch.cuda.synchronize()
                setattr(self, field, getattr(self, field) + time.perf_counter() - t0)

        timed._clock = self  # type: ignore[attr-defined]
        setattr(owner, name, timed)

    def wrap_pipe(self, pipe) -> None:
        """Time the pipeline's call (its class's __call__, so a timed subclass of the same name)."""
        cls = type(pipe)
        if getattr(cls, "_timed", False):
            return
        clock = self

        def __call__(self, *args, **kwargs):
            import torch

            torch.cuda.synchronize()
            t0 = time.perf_counter()
            try:
                return cls.__call__(self, *args, **kwargs)
            finally:
                torch.cuda.synchronize()
                clock.model += time.perf_counter() - t0

        pipe.__class__ = type(cls.__name__, (cls,), {"__call__": __call__, "_timed": True})
        for vae_method in ("encode", "decode"):
            self.wrap(pipe.vae, vae_method, "autoencoder")


def full_size(runner, rows: list[dict], wanted: set[str]) -> None:
    import torch
    from gpu_check import run_session

    from studio import engines
    from studio.engines.janus import JanusEngine
    from studio.engines.pipeline import PipelineEngine
    from studio.engines.pipeline.chat import ChatModel
    from studio.engines.torch_support import free_memory

    prompt = "a red apple to the left of a blue cup"
    clock = Clock()
    bf16 = torch.bfloat16

    def built(name: str, t0: float) -> None:
        rows.append(
            dict(
                engine=name,
                stage="built on the GPU",
                seconds=round(time.perf_counter() - t0, 1),
                sampling_steps=0,
                peak_allocated_gib=round(torch.cuda.max_memory_allocated() / GiB, 2),
                peak_reserved_gib=round(torch.cuda.max_memory_reserved() / GiB, 2),
            )
        )

    def session(name: str, params: dict, warm: dict) -> None:
        t0 = time.perf_counter()
        run_session(name, runner, prompt, warm, [], lambda: None)  # warm-up: kernels, allocator
        print(f"  {name}: warm-up {time.perf_counter() - t0:.1f} s", flush=True)
        mine: list[dict] = []
        run_session(name, runner, prompt, params, mine, lambda: None, clock=clock)
        rows.extend(r for r in mine if r["stage"] != "load from disk")

    if "janus" in wanted:
        t0 = time.perf_counter()
        model, processor = janus("cuda", bf16)
        engine = JanusEngine("random Janus-Pro-7B", device="cuda", dtype="bfloat16")
        engine.adopt(model, processor)
        clock.wrap(model, "generate", "model")
        clock.wrap(model, "decode_image_tokens", "autoencoder")
        built("janus", t0)
        engines.register("janus-full", lambda engine=engine: engine)
        session(
            "janus-full",
            {"max_think_tokens": 64, "cfg_text_scale": 5.0},
            {"max_think_tokens": 4, "cfg_text_scale": 5.0},
        )
        engines.unregister("janus-full")
        engine.close()
        del model, engine
        free_memory()
    for name, build, config in (
        (
            "pipeline-flux",
            flux_pipes,
            dict(steps=28, guidance=3.5, refiner="FluxKontextPipeline", dtype="bfloat16"),
        ),
        ("pipeline-sdxl", None, dict(steps=30, guidance=6.0, refiner="inpaint", dtype="float16")),
    ):
        if name not in wanted and "pipeline" not in wanted:
            continue
        t0 = time.perf_counter()
        dtype = getattr(torch, config["dtype"])
        model, processor = vlm("cuda", bf16)
        section = {
            "device": "cuda",
            "steps": config["steps"],
            "guidance": config["guidance"],
            "width": SIDE,
            "height": SIDE,
            "dtype": config["dtype"],
        }
        engine = PipelineEngine(
            {
                "planner": {
                    "model": "random",
                    "device": "cuda",
                    "dtype": "bfloat16",
                    "max_new_tokens": 64,
                },
                "sketcher": {"model": "random", **section},
                "refiner": {
                    "model": "random" if build else "sketcher",
                    "pipeline": config["refiner"],
                    **section,
                },
            }
        )
        engine.adopt("planner", ChatModel(model, processor, True, "cuda", bf16))
        clock.wrap(model, "generate", "model")
        if build is not None:
            sketcher, refiner = build("cuda", dtype)
            engine.adopt("sketcher", sketcher)
            engine.adopt("refiner", refiner)
        else:
            engine.adopt("sketcher", sdxl_pipe("cuda", dtype))
        clock.wrap_pipe(engine.sketcher())
        clock.wrap_pipe(engine.refiner())
        built(name, t0)
        engines.register(name, lambda engine=engine: engine)
        session(name, {"max_think_tokens": 64}, {"max_think_tokens": 4, "steps": 2})
        engines.unregister(name)
        engine.close()
        del model, engine
        free_memory()
    if "bagel" in wanted:
        rows.append(
            dict(
                engine="bagel",
                skipped="not built at full size: BAGEL's worker loads a 29 GB snapshot "
                "from disk; see --plan for its sizes and --real for a real checkpoint",
            )
        )


def main(argv_plan: bool) -> int:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    if argv_plan:
        print(plan_table(plan()))
    return 0
