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

from studio.domain import Check  # noqa: E402
from studio.engines.base import Engine, ImageResult, InspectResult, PlanResult, RefineResult  # noqa: E402

# SD 1.x latent channels -> RGB: the usual linear approximation used for cheap live previews.
LATENT_RGB = ((0.298, 0.207, 0.208), (0.187, 0.286, 0.173), (-0.158, 0.189, 0.264), (-0.184, -0.271, -0.473))


def available() -> str | None:
    """None when the tiny pipeline can be built here; otherwise why not."""
    import importlib.util

    missing = [m for m in ("torch", "transformers", "diffusers") if importlib.util.find_spec(m) is None]
    if missing:
        return f"{', '.join(missing)} not installed in this environment (pip install diffusers transformers torch)"
    try:
        import diffusers  # noqa: F401
    except Exception as error:  # noqa: BLE001 — any import failure means: skip, and say why
        return f"diffusers does not import: {error}"
    return None


def _bytes_to_unicode() -> list[str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def build_pipeline(seed: int = 0):
    """StableDiffusionPipeline from tiny parts: UNet (32/64 channels), VAE, a 2-layer CLIP text encoder
    and a character-level CLIP tokenizer; no download."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in _bytes_to_unicode():
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, vocab_size=len(tokenizer), max_position_embeddings=77))
    vae = AutoencoderKL(block_out_channels=(32, 64), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        latent_channels=4, norm_num_groups=8, sample_size=64)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=8, attention_head_dim=4)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
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

    def __init__(self, pipe: Any, size: int = 64, steps: int = 20, preview: str = "none", preview_every: int = 1):
        self.pipe, self.size, self.steps, self.preview, self.preview_every = pipe, size, steps, preview, preview_every
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
            ctx.progress((i + 1) / self.steps, f"step {i + 1}/{self.steps}",
                         self._preview(tensors["latents"]) if show else None)
            return tensors

        image = self.pipe(ctx.prompt, height=self.size, width=self.size, num_inference_steps=self.steps,
                          generator=torch.Generator().manual_seed(ctx.seed), callback_on_step_end=on_step,
                          callback_on_step_end_tensor_inputs=["latents"], output_type="pil").images[0]
        self.sketch_seconds.append(time.perf_counter() - started)
        return ImageResult(image, sampling_steps=self.steps)

    def inspect(self, ctx):
        return InspectResult(Check(True, "ok"), Check(True, "ok"))

    def refine(self, ctx, instruction, region):
        return RefineResult(instruction or "fix", ctx.current_image() or Image.new("RGB", (self.size, self.size)))
