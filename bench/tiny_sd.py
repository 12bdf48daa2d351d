"""A tiny random-weight StableDiffusionPipeline built in code, and a benchmark engine that sketches with it.

The weights are random, so the pictures are noise; what matters is that every sketch runs the real
diffusers code path (CLIP text encoder, UNet denoising loop, scheduler, VAE decode, the per-step
callback) at a known cost, offline. Used by `studio_overhead.py` and `preview_latency.py`.

`available()` says whether diffusers, transformers and torch import here, and if not, why.
"""

from __future__ import annotations

import os
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from PIL import Image  # noqa: E402

from studio.core.domain import Check  # noqa: E402
from studio.engines.base import Engine, ImageResult, InspectResult, PlanResult, RefineResult  # noqa: E402

# SD 1.x latent channels -> RGB: the usual linear approximation used for cheap live previews.
LATENT_RGB = (
    (0.298, 0.207, 0.208),
    (0.187, 0.286, 0.173),
    (-0.158, 0.189, 0.264),
    (-0.184, -0.271, -0.473),
)


def available() -> str | None:
    """None when the tiny pipeline can be built here; otherwise why not."""
    import importlib.util

    missing = [
        m for m in ("torch", "transformers", "diffusers") if importlib.util.find_spec(m) is None
    ]
    if missing:
        return f"{', '.join(missing)} not installed in this environment (pip install diffusers transformers torch)"
    try:
        import diffusers  # noqa: F401
    except Exception as error:  # noqa: BLE001 — any import failure means: skip, and say why
        return f"diffusers does not import: {error}"
    return None


def build_pipeline(seed: int = 0):
    """StableDiffusionPipeline from the test suite's tiny parts (`tests.kits.gpu_fakes.sd_parts`: UNet with
    32/64 channels, VAE, a 2-layer CLIP text encoder, a character-level CLIP tokenizer); no download."""
    from diffusers import StableDiffusionPipeline

    from tests.kits.gpu_fakes import sd_parts

    pipe = StableDiffusionPipeline(**sd_parts(seed=seed))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def latent_preview(latents, size: int) -> Image.Image:
    """A cheap RGB view of SD latents (no VAE decode), scaled to the image size."""
    import torch

    factors = torch.tensor(LATENT_RGB, dtype=latents.dtype)
    rgb = torch.einsum("chw,cr->hwr", latents[0].detach().cpu(), factors)
    rgb = ((rgb + 1) / 2).clamp(0, 1).mul(255).byte().numpy()
    return Image.fromarray(rgb).resize((size, size), Image.Resampling.NEAREST)


class TinySDEngine(Engine):
    """Plans never complete (sessions last as long as the rounds allow), sketches with the tiny pipeline,
    passes every inspection. Records the time each sketch spent inside the pipeline.

    preview: "none" (progress only), "latent" (a latent→RGB view) or "decode" (a VAE decode) every
    `preview_every` denoising steps."""

    name = "bench-tiny-sd"
    label = "benchmark engine: a tiny random-weight Stable Diffusion pipeline"

    def __init__(
        self,
        pipe: Any,
        size: int = 64,
        steps: int = 20,
        preview: str = "none",
        preview_every: int = 1,
    ):
        self.pipe, self.size, self.steps, self.preview, self.preview_every = (
            pipe,
            size,
            steps,
            preview,
            preview_every,
        )
        self.sketch_seconds: list[float] = []

    def plan(self, ctx):
        return PlanResult(f"draw {ctx.prompt}", ctx.prompt, complete=False)

    def _preview(self, latents) -> Image.Image:
        if self.preview == "latent":
            return latent_preview(latents, self.size)
        import torch

        with torch.no_grad():
            decoded = self.pipe.vae.decode(latents / self.pipe.vae.config.scaling_factor).sample
        return self.pipe.image_processor.postprocess(decoded, output_type="pil")[0]

    def sketch(self, ctx):
        import torch

        started = time.perf_counter()

        def on_step(pipe, i, t, tensors):
            show = self.preview != "none" and (i + 1) % self.preview_every == 0
            ctx.progress(
                (i + 1) / self.steps,
                f"step {i + 1}/{self.steps}",
                self._preview(tensors["latents"]) if show else None,
            )
            return tensors

        image = self.pipe(
            ctx.prompt,
            height=self.size,
            width=self.size,
            num_inference_steps=self.steps,
            generator=torch.Generator().manual_seed(ctx.seed),
            callback_on_step_end=on_step,
            callback_on_step_end_tensor_inputs=["latents"],
            output_type="pil",
        ).images[0]
        self.sketch_seconds.append(time.perf_counter() - started)
        return ImageResult(image, sampling_steps=self.steps)

    def inspect(self, ctx):
        return InspectResult(Check(True, "ok"), Check(True, "ok"))

    def refine(self, ctx, instruction, region):
        return RefineResult(
            instruction or "fix", ctx.current_image() or Image.new("RGB", (self.size, self.size))
        )
