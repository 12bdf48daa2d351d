"""A STAND-IN for BAGEL's `InterleaveInferencer` — this is not BAGEL.

BAGEL (github.com/ByteDance-Seed/Bagel) is not on PyPI, needs flash_attn and a CUDA GPU, and its
weights cannot be downloaded here, so the `bagel` engine's adapter is tested against this module. It
copies the *interface* of BAGEL's `inferencer.py`, not its code:

- the same methods and keyword arguments: `init_gen_context()`, `update_context_text(text, ctx)`,
  `update_context_image(image, ctx, vae=True, vit=True)`, `gen_text(ctx, max_length, do_sample,
  temperature)`, `gen_image(image_shape, ctx, cfg_text_scale, cfg_img_scale, cfg_text_precontext,
  cfg_img_precontext, cfg_interval, cfg_renorm_min, cfg_renorm_type, num_timesteps, timestep_shift)`,
  `decode_image(latent, image_shape)`, and `vae_transform.resize_transform`;
- the same context dicts (`kv_lens`, `ropes`, `past_key_values`) whose cache is updated in place, as
  BAGEL's is (so the caller must deepcopy before branching, as BAGEL's own code does), with real
  tensors per encoded token so memory can be measured;
- `gen_text` works on a deepcopy and leaves the context alone; `gen_image` leaves all three contexts
  alone; one `model.language_model.forward_inference` call per generated token and one
  `model._forward_flow(x_t=..., timestep=...)` call per denoising step (num_timesteps - 1), which is
  where the engine hooks its progress, previews and cancellation.

Its "model" is a script that reads the context it is given: a plan answers with the next part of the
prompt ("a cat and a dog" → "draw a cat", then "draw a dog") counted from the plans already *in the
context*, so a context that lost its history plans wrongly; an inspection fails the sketch of the
rounds in `fail_rounds` unless a refine came after it. Every call is counted and every context an
answer was generated from is recorded (`seen`), so tests can prove what was encoded, what was
generated, and that a rebuilt context equals the original.
"""

from __future__ import annotations

import copy
import hashlib
from collections import Counter
from types import SimpleNamespace

import torch
from PIL import Image

LAYERS, HEADS, DIM = 2, 2, 8


class NaiveCache:
    """Per-layer key/value tensors, like BAGEL's qwen2_navit.NaiveCache, plus a transcript of what was encoded."""

    def __init__(self, num_layers: int):
        self.key_cache = {i: torch.zeros(0, HEADS, DIM) for i in range(num_layers)}
        self.value_cache = {i: torch.zeros(0, HEADS, DIM) for i in range(num_layers)}
        self.transcript: list[tuple[str, str]] = []

    def append(self, tokens: int, entry: tuple[str, str]) -> None:
        for i in self.key_cache:
            self.key_cache[i] = torch.cat([self.key_cache[i], torch.zeros(tokens, HEADS, DIM)])
            self.value_cache[i] = torch.cat([self.value_cache[i], torch.zeros(tokens, HEADS, DIM)])
        self.transcript.append(entry)


def pixels_sha(image: Image.Image) -> str:
    image = image.convert("RGB")
    return hashlib.sha256(repr(image.size).encode() + image.tobytes()).hexdigest()[:16]


class _LanguageModel:
    def __init__(self, owner: "StandInInferencer"):
        self.owner = owner

    def forward_inference(self, **kwargs):
        self.owner.calls["forward_inference"] += 1
        return SimpleNamespace(past_key_values=kwargs.get("past_key_values"))


class _Model:
    def __init__(self, owner: "StandInInferencer"):
        self.owner = owner
        self.config = SimpleNamespace(llm_config=SimpleNamespace(num_hidden_layers=LAYERS))
        self.language_model = _LanguageModel(owner)
        self.latent_downsample = 16
        self.latent_patch_size = 2
        self.latent_channel = 4

    def _forward_flow(self, x_t, timestep, **kwargs):
        self.owner.calls["forward_flow"] += 1
        if self.owner.oom_in_flow:
            self.owner.oom_in_flow = False
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (stand-in)")
        return x_t - kwargs["target"]  # velocity towards the context's colour


class _Transform:
    @staticmethod
    def resize_transform(image: Image.Image) -> Image.Image:
        width, height = image.size
        return image.resize((max(16, width // 16 * 16), max(16, height // 16 * 16)))


class StandInInferencer:
    def __init__(self, fail_rounds: tuple[int, ...] = ()):
        self.model = _Model(self)
        self.vae_transform = _Transform()
        self.vit_transform = _Transform()
        self.fail_rounds = set(fail_rounds)
        self.calls: Counter[str] = Counter()
        self.seen: list[dict] = []  # one record per generation: what it was generated from
        self.oom_in_flow = False

    # -- contexts -------------------------------------------------------------------------------

    def init_gen_context(self) -> dict:
        return {"kv_lens": [0], "ropes": [0], "past_key_values": NaiveCache(self.model.config.llm_config.num_hidden_layers)}

    def update_context_text(self, text: str, gen_context: dict) -> dict:
        self.calls["update_context_text"] += 1
        tokens = len(text.split()) + 2
        gen_context["past_key_values"].append(tokens, ("text", text))
        gen_context["kv_lens"] = [gen_context["kv_lens"][0] + tokens]
        gen_context["ropes"] = [gen_context["ropes"][0] + tokens]
        return gen_context

    def update_context_image(self, image: Image.Image, gen_context: dict, vae: bool = True, vit: bool = True) -> dict:
        assert vae or vit
        self.calls["update_context_image"] += 1
        width, height = image.size
        tokens = (2 + (width // 16) * (height // 16)) * vae + (2 + 16) * vit
        gen_context["past_key_values"].append(tokens, ("image", pixels_sha(image)))
        gen_context["kv_lens"] = [gen_context["kv_lens"][0] + tokens]
        gen_context["ropes"] = [gen_context["ropes"][0] + 2]
        return gen_context

    # -- generation -----------------------------------------------------------------------------

    def gen_text(self, gen_context: dict, max_length: int = 500, do_sample: bool = True, temperature: float = 1.0) -> str:
        self.calls["gen_text"] += 1
        gen_context = copy.deepcopy(gen_context)
        transcript = list(gen_context["past_key_values"].transcript)
        self.seen.append({"kind": "text", "transcript": transcript, "max_length": max_length,
                          "do_sample": do_sample, "temperature": temperature})
        reply = self._script(transcript)
        words = reply.split(" ")[:max_length]
        for _ in words:
            self.model.language_model.forward_inference(past_key_values=gen_context["past_key_values"])
        return " ".join(words)

    def gen_image(self, image_shape, gen_context, cfg_text_scale=4.0, cfg_img_scale=1.5, cfg_text_precontext=None,
                  cfg_img_precontext=None, cfg_interval=(0.4, 1.0), cfg_renorm_min=0.0, cfg_renorm_type="global",
                  num_timesteps=50, timestep_shift=3.0) -> Image.Image:
        self.calls["gen_image"] += 1
        transcript = list(gen_context["past_key_values"].transcript)
        self.seen.append({
            "kind": "image", "transcript": transcript, "image_shape": tuple(image_shape),
            "cfg_text": list(cfg_text_precontext["past_key_values"].transcript),
            "cfg_img": list(cfg_img_precontext["past_key_values"].transcript),
            "settings": dict(cfg_text_scale=cfg_text_scale, cfg_img_scale=cfg_img_scale, cfg_interval=list(cfg_interval),
                             cfg_renorm_min=cfg_renorm_min, cfg_renorm_type=cfg_renorm_type,
                             num_timesteps=num_timesteps, timestep_shift=timestep_shift)})
        h, w = image_shape[0] // 16, image_shape[1] // 16
        digest = hashlib.sha256(repr(transcript).encode()).digest()
        target = torch.tensor([digest[0], digest[1], digest[2], 128.0]).repeat(h * w, 1) / 255.0
        x_t = torch.randn(h * w, 4)  # the engine seeds torch before generating
        timesteps = torch.linspace(1, 0, num_timesteps)
        for i, t in enumerate(timesteps[:-1]):
            v_t = self.model._forward_flow(x_t=x_t, timestep=torch.tensor([float(t)]), target=target)
            x_t = x_t - v_t * (timesteps[i] - timesteps[i + 1])
        return self.decode_image(x_t, image_shape)

    def decode_image(self, latent, image_shape) -> Image.Image:
        height, width = image_shape
        rgb = latent[:, :3].reshape(height // 16, width // 16, 3).clamp(0, 1)
        small = Image.fromarray((rgb.numpy() * 255).round().astype("uint8"), "RGB")
        return small.resize((width, height), Image.NEAREST)

    # -- the scripted "model" -------------------------------------------------------------------

    def _script(self, transcript: list[tuple[str, str]]) -> str:
        texts = [value for kind, value in transcript if kind == "text"]
        request = texts[-1] if texts else ""
        prompt = next((t[len("Prompt: "):] for t in texts if t.startswith("Prompt: ")), "")
        parts = [p.strip() for p in prompt.split(" and ")] or [prompt]
        plans = [t for t in texts if t.startswith("<ins>")]
        think = "<think>let me look at the context</think>" if "<think>" in request else ""
        if "<ins>" in request:
            index = min(len(plans), len(parts) - 1)
            done = "yes" if index == len(parts) - 1 else "no"
            return f"{think}<ins>draw {parts[index]}</ins><des>{', '.join(parts[:index + 1])}</des><done>{done}</done>"
        if "<sketch>" in request:
            last_plan = max((i for i, (k, v) in enumerate(transcript) if k == "text" and v.startswith("<ins>")), default=-1)
            refined = any(k == "text" and v.startswith("<refine>") for k, v in transcript[last_plan + 1:])
            if len(plans) in self.fail_rounds and not refined:
                return f"{think}<plan>yes</plan><sketch>no: {parts[min(len(plans), len(parts)) - 1]} is missing</sketch>"
            return f"{think}<plan>yes</plan><sketch>yes</sketch>"
        if "<refine>" in request:
            return "<refine>add what is missing</refine>"
        return "I cannot tell."
