"""`janus`: Janus-Pro (1B or 7B) from transformers alone — one model plans, draws and inspects.

Plan and inspect are text generation (both look at the current draft as an image input), a sketch is
`generate(generation_mode="image")`, and a refine writes a `<refine>` instruction and draws the whole
image again with the correction folded into the description: Janus-Pro cannot edit pixels, so its
capabilities say `region_edit=False` and the studio offers no region refine for it.

Configuration (keyword arguments win over the environment):
  STROKE_STUDIO_JANUS_MODEL   a local folder or a Hugging Face id (default deepseek-community/Janus-Pro-7B)
  STROKE_STUDIO_JANUS_DEVICE  auto | cuda | cuda:N | mps | cpu (default auto)
  STROKE_STUDIO_JANUS_DTYPE   auto | bfloat16 | float16 | float32 (default auto)
  STROKE_STUDIO_JANUS_QUANT   none | nf4 | int8 (bitsandbytes, CUDA only; default none)
Per session (settings.engine_params): cfg_text_scale (image guidance, 5), image_temperature (1.0),
temperature (text, 0 = greedy), max_think_tokens (text tokens per answer, 256), preview_every (image
tokens between previews, a quarter of the image).

torch and transformers are imported on first use, never when the engine is only listed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..core.domain import StudioError
from . import prompts
from .base import (
    Capabilities,
    Engine,
    ImageResult,
    InspectResult,
    Param,
    PlanResult,
    RefineResult,
    StageContext,
    UsedInput,
)
from .torch_support import (
    ModelLock,
    StepCounter,
    free_memory,
    gpu_errors,
    load_error,
    load_placement,
    manual_seed,
    number,
    pick_device,
    pick_dtype,
    require_packages,
    resolve_model,
    setting,
    text_progress,
    thumbnail,
    to_pil,
)

DEFAULT_MODEL = "deepseek-community/Janus-Pro-7B"
MODEL_SETTING = "STROKE_STUDIO_JANUS_MODEL"
LOWER_MEMORY = (
    "Use the 1B model (STROKE_STUDIO_JANUS_MODEL=deepseek-community/Janus-Pro-1B) or load it in "
    "4 bits (STROKE_STUDIO_JANUS_QUANT=nf4, needs `pip install bitsandbytes`)."
)


@dataclass
class _Loaded:
    model: Any
    processor: Any
    device: str
    dtype: Any
    num_image_tokens: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str


def _quantization(mode: str, dtype):
    mode = (mode or "none").strip().lower()
    if mode in ("none", "", "bf16", "off"):
        return None
    if mode not in ("nf4", "int8"):
        raise StudioError(f"Unknown Janus quantization {mode!r}; use none, nf4 or int8.")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise StudioError(
            f"The {mode} mode needs bitsandbytes: `pip install bitsandbytes` (CUDA only), "
            "or set STROKE_STUDIO_JANUS_QUANT=none."
        ) from None
    from transformers import BitsAndBytesConfig

    if mode == "nf4":
        return BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )
    return BitsAndBytesConfig(load_in_8bit=True)


class JanusEngine(Engine):
    """Janus-Pro behind the engine interface: plans and verdicts as text, sketches as image tokens.

    The model loads on the first stage, once per process. Keyword arguments win over the
    STROKE_STUDIO_JANUS_* variables (see the module docstring).

    Example usage::

        engine = JanusEngine("deepseek-community/Janus-Pro-1B", dtype="bfloat16")
        studio.engines.register("janus-1b", lambda: engine)
        runner.new_session(
            "two red apples under a blue cup",
            engine="janus-1b",
            settings=RunSettings(engine_params={"cfg_text_scale": 5.0, "preview_every": 144}),
        )

    or: `STROKE_STUDIO_JANUS_MODEL=deepseek-community/Janus-Pro-1B studio run "…" --engine janus`.
    """

    name = "janus"
    label = (
        "Janus-Pro via transformers: plans and inspects in text, draws with image tokens; "
        "a refine redraws the whole image (no region edits)"
    )
    capabilities = Capabilities(region_edit=False, keeps_context=False, needs_gpu=True)
    max_concurrent = 1
    params = {
        "cfg_text_scale": Param(float, 0.0, 50.0),
        "image_temperature": Param(float, 0.0, 10.0),
        "temperature": Param(float, 0.0, 10.0),
        "max_think_tokens": Param(int, 1, 16384),
        "preview_every": Param(int, 0, 100000),
    }

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        quantization: str | None = None,
    ):
        require_packages("janus", "torch", "transformers")
        self.model_ref = setting(model, MODEL_SETTING, DEFAULT_MODEL)
        self.device_pref = setting(device, "STROKE_STUDIO_JANUS_DEVICE", "auto")
        self.dtype_pref = setting(dtype, "STROKE_STUDIO_JANUS_DTYPE", "auto")
        self.quantization = setting(quantization, "STROKE_STUDIO_JANUS_QUANT", "none")
        self._model = ModelLock()
        self._run = threading.RLock()  # one generation at a time, whoever calls

    # -- loading ---------------------------------------------------------------------------

    def loaded(self) -> _Loaded:
        return self._model.get(self._load)

    def _load(self) -> _Loaded:
        source, local = resolve_model(
            self.model_ref, what="Janus-Pro model", setting_name=MODEL_SETTING
        )
        device = pick_device(self.device_pref)
        dtype = pick_dtype(self.dtype_pref, device)
        quant = _quantization(self.quantization, dtype)
        from transformers import AutoProcessor, JanusForConditionalGeneration

        kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": local}
        kwargs.update(load_placement(device))  # straight onto the device, never via the CPU
        if quant is not None:
            if not device.startswith("cuda"):
                raise StudioError(
                    "The nf4 and int8 modes need a CUDA GPU; set STROKE_STUDIO_JANUS_QUANT=none."
                )
            kwargs.update(quantization_config=quant)
        with gpu_errors("loading Janus-Pro", LOWER_MEMORY):
            try:
                processor = AutoProcessor.from_pretrained(source, local_files_only=local)
                model = JanusForConditionalGeneration.from_pretrained(source, **kwargs)
            except (OSError, ValueError, KeyError) as exc:
                raise load_error("Janus-Pro model", source, exc) from exc
        return self._ready(model, processor, device, dtype, source)

    def adopt(self, model, processor) -> None:
        """Use a model already in memory (built in code, e.g. bench/gpu_full.py's random Janus-Pro-7B)
        instead of loading one: the stages run on it exactly as on a loaded one."""
        device = str(next(model.parameters()).device)
        dtype = next(model.parameters()).dtype
        self._model.get(lambda: self._ready(model, processor, device, dtype, self.model_ref))

    def _ready(self, model, processor, device: str, dtype, source: str) -> _Loaded:
        model.eval()
        self._complete_generation_config(model, processor)
        improc = processor.image_processor
        mean = tuple(getattr(improc, "image_mean", None) or (0.5, 0.5, 0.5))
        std = tuple(getattr(improc, "image_std", None) or (0.5, 0.5, 0.5))
        if len(mean) != 3 or len(std) != 3:
            mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
        return _Loaded(
            model,
            processor,
            device,
            dtype,
            int(model.config.vision_config.num_image_tokens),
            mean,
            std,
            source,
        )

    @staticmethod
    def _complete_generation_config(model, processor) -> None:
        """Image mode needs the begin-of-image token and a pad token; some checkpoints leave them out."""
        config, tokenizer = model.generation_config, processor.tokenizer
        extra = dict(getattr(config, "generation_kwargs", None) or {})
        if "boi_token_id" not in extra:
            extra["boi_token_id"] = tokenizer.convert_tokens_to_ids(processor.image_start_token)
            config.generation_kwargs = extra
        if config.pad_token_id is None:
            config.pad_token_id = (
                tokenizer.pad_token_id
                if tokenizer.pad_token_id is not None
                else tokenizer.eos_token_id
            )
        if config.bos_token_id is None:
            config.bos_token_id = tokenizer.bos_token_id

    def close(self) -> None:
        if self._model.clear():
            free_memory()

    # -- the model calls -------------------------------------------------------------------

    @staticmethod
    def _chat(m: _Loaded, text: str, with_image: bool) -> str:
        content = ([{"type": "image"}] if with_image else []) + [{"type": "text", "text": text}]
        if getattr(m.processor, "chat_template", None):
            return m.processor.apply_chat_template(
                [{"role": "user", "content": content}], add_generation_prompt=True
            )
        image = m.processor.image_token if with_image else ""
        return f"<|User|>: {image}{text}\n\n<|Assistant|>:"

    @staticmethod
    def _inputs(m: _Loaded, **kwargs):
        inputs = m.processor(return_tensors="pt", **kwargs)
        inputs = {k: v.to(m.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(m.dtype)
        return inputs

    def _text(
        self, ctx: StageContext, system: str, user: str, image, label: str
    ) -> tuple[str, int]:
        import torch
        from transformers import StoppingCriteriaList

        m = self.loaded()
        max_new = number(ctx.params, "max_think_tokens", 256, low=1, high=16384, integer=True)
        temperature = number(ctx.params, "temperature", 0.0, low=0.0)
        prompt = self._chat(m, f"{system}\n\n{user}", image is not None)
        inputs = (
            self._inputs(m, text=prompt, images=image)
            if image is not None
            else self._inputs(m, text=prompt)
        )
        counter = StepCounter()
        kwargs: dict[str, Any] = dict(
            max_new_tokens=max_new,
            do_sample=temperature > 0,
            generation_mode="text",
            stopping_criteria=StoppingCriteriaList([text_progress(ctx, label, max_new, counter)]),
        )
        if temperature > 0:
            kwargs["temperature"] = temperature
        with self._run, torch.inference_mode(), gpu_errors(f"{label} with Janus-Pro", LOWER_MEMORY):
            manual_seed(ctx.seed)
            out = m.model.generate(**inputs, **kwargs)
        ctx.check_cancelled()
        text = m.processor.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        return text, counter.steps

    def _image(self, ctx: StageContext, description: str, label: str) -> tuple[Any, int]:
        import torch
        from transformers import LogitsProcessorList

        m = self.loaded()
        guidance = number(ctx.params, "cfg_text_scale", 5.0, low=0.0, high=50.0)
        temperature = number(ctx.params, "image_temperature", 1.0, low=0.0)
        every = number(
            ctx.params, "preview_every", max(1, m.num_image_tokens // 4), low=0, integer=True
        )
        inputs = self._inputs(m, text=self._chat(m, description, False), generation_mode="image")
        guide = _guided_tokens(ctx, m, guidance, label, every)
        kwargs: dict[str, Any] = dict(
            generation_mode="image",
            do_sample=temperature > 0,
            guidance_scale=1.0,
            logits_processor=LogitsProcessorList([guide]),
        )
        if temperature > 0:
            kwargs["temperature"] = temperature
        with self._run, torch.inference_mode(), gpu_errors(f"{label} with Janus-Pro", LOWER_MEMORY):
            manual_seed(ctx.seed)
            tokens = m.model.generate(**inputs, **kwargs)
            pixels = m.model.decode_image_tokens(tokens)
        ctx.check_cancelled()
        return to_pil(pixels[0], channels_last=True, mean=m.mean, std=m.std), guide.steps

    # -- the stages ------------------------------------------------------------------------

    def plan(self, ctx: StageContext) -> PlanResult:
        system, user = prompts.plan_request(ctx)
        raw, tokens = self._text(ctx, system, user, ctx.current_image(), "planning")
        result = prompts.plan_result(raw, ctx, tokens=tokens)
        ctx.progress(1.0, "planned")
        return result

    def sketch(self, ctx: StageContext) -> ImageResult:
        description, used = _with_person(ctx, prompts.image_description(ctx))
        image, steps = self._image(ctx, description, "sketching")
        ctx.progress(1.0, "sketched", thumbnail(image))
        return ImageResult(
            image,
            meta={"prompt": description, "image_tokens": steps},
            sampling_steps=steps,
            used_input=used,
        )

    def inspect(self, ctx: StageContext) -> InspectResult:
        image = ctx.current_image()
        if image is None:
            raise StudioError(
                "There is no sketch to inspect yet; let the sketch stage draw one first."
            )
        system, user = prompts.inspect_request(ctx)
        raw, tokens = self._text(ctx, system, user, image, "inspecting")
        result = prompts.inspect_result(raw, tokens=tokens)
        ctx.progress(1.0, "inspected")
        return result

    def refine(self, ctx: StageContext, instruction: str | None, region) -> RefineResult:
        if region is not None:
            raise StudioError(
                "Janus-Pro cannot edit a region; refine the whole image instead (send no region)."
            )
        base = ctx.current_image()
        meta: dict[str, Any] = {}
        if not instruction:
            system, user = prompts.refine_request(ctx)
            if ctx.person is not None:  # the correction answers the person, not the model's verdict
                user += (
                    f"\nA person says: {ctx.person.text}\nWrite the correction that answers them."
                )
            raw, tokens = self._text(ctx, system, user, base, "writing the correction")
            instruction, format_ok = prompts.refine_instruction(raw, ctx)
            meta.update(raw=raw[:2000], format_ok=format_ok, tokens=tokens)
        description, used = _with_person(ctx, prompts.redraw_prompt(ctx, instruction))
        image, steps = self._image(ctx, description, "redrawing")
        ctx.progress(1.0, "refined", thumbnail(image))
        meta.update(prompt=description, image_tokens=steps, redrawn=True)
        return RefineResult(instruction, image, meta=meta, sampling_steps=steps, used_input=used)


def _with_person(ctx: StageContext, description: str) -> tuple[str, UsedInput | None]:
    """The image prompt with the person's correction in it, and what the engine says it did.

    Janus-Pro draws the whole image from text, so a verdict a person overrode or the reason they
    rejected the last image goes into the prompt verbatim; an edited plan already is the description."""
    person = ctx.person
    if person is None or not person.text.strip():
        return description, None
    text = " ".join(person.text.split())
    if person.kind == "plan":
        return description, UsedInput(True, f"drew your edited plan: {text}")
    if text.lower() not in description.lower():
        description = f"{description.rstrip('. ')}. Correction: {text}"
    what = "why you rejected the last image" if person.kind == "reason" else "your verdict"
    return description, UsedInput(True, f"redrew the whole image with {what} in its prompt: {text}")


def _guided_tokens(ctx: StageContext, m: _Loaded, guidance: float, label: str, every: int):
    """Classifier-free guidance over Janus's doubled batch, plus progress, a preview of the image tokens
    drawn so far every `every` tokens, and cancellation between tokens."""
    import torch
    from transformers import LogitsProcessor

    class GuidedImageTokens(LogitsProcessor):
        def __init__(self) -> None:
            self.steps = 0
            self.draft: list[Any] = []

        def __call__(self, input_ids, scores):
            batch = input_ids.shape[0]
            if scores.shape[0] == 2 * batch:
                cond, uncond = scores[:batch], scores[batch:]
                scores = uncond + guidance * (cond - uncond)
            self.steps += 1
            self.draft.append(scores[0].argmax(-1))
            preview = None
            if every and self.steps % every == 0 and self.steps < m.num_image_tokens:
                preview = self._preview()
            ctx.progress(
                self.steps / m.num_image_tokens,
                f"{label}: image token {self.steps}/{m.num_image_tokens}",
                preview,
            )
            return scores

        def _preview(self):
            """Decode the most likely tokens so far; rows not drawn yet are grey."""
            try:
                n = m.num_image_tokens
                side = int(round(n**0.5))
                grid = torch.stack(self.draft)
                grid = torch.cat([grid, grid[-1:].expand(n - grid.shape[0])])[None]
                image = to_pil(
                    m.model.decode_image_tokens(grid)[0], channels_last=True, mean=m.mean, std=m.std
                )
                done_rows = self.steps // side
                if side and done_rows < side:
                    top = image.height * done_rows // side
                    image.paste((128, 128, 128), (0, top, image.width, image.height))
                return thumbnail(image)
            except Exception:  # a preview is never worth failing the stage
                return None

    return GuidedImageTokens()
