"""The pipeline engine itself: its four parts (see the package docstring) run as the loop's stages."""

from __future__ import annotations

import inspect as _inspect
import threading
from pathlib import Path
from typing import Any

from ...core.domain import StudioError
from .. import prompts
from ..base import (
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
from ..torch_support import (
    ModelLock,
    StepCounter,
    cpu_generator,
    diffusers_callback,
    free_memory,
    gpu_errors,
    load_error,
    number,
    pick_device,
    pick_dtype,
    require_packages,
    resolve_model,
    setting,
    thumbnail,
)
from .chat import ChatModel, load_chat
from .config import CONFIG_SETTING, DEFAULT_CONFIG, load_config
from .evidence import CocoEvidence, OwlEvidence


def _place(pipe, device: str, offload: str, where: str) -> None:
    offload = (offload or "none").lower()
    if offload not in ("none", "model", "sequential"):
        raise StudioError(f"{where}: cpu_offload must be none, model or sequential.")
    if offload == "none" or device == "cpu":
        pipe.to(device)
    elif offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.enable_sequential_cpu_offload(device=device)


def _pipeline_class(name: str, default):
    import diffusers

    if name in ("auto", "", None):
        return default
    aliases = {
        "inpaint": diffusers.AutoPipelineForInpainting,
        "img2img": diffusers.AutoPipelineForImage2Image,
        "text2image": diffusers.AutoPipelineForText2Image,
    }
    if name in aliases:
        return aliases[name]
    cls = getattr(diffusers, name, None)
    if cls is None:
        raise StudioError(
            f"diffusers has no pipeline class {name!r}; use auto, inpaint, img2img or a class name "
            "such as FluxKontextPipeline."
        )
    return cls


def _from_pipe(cls, base):
    """`cls` built from `base`'s own modules, which keep their dtype and stay shared (no second copy).

    A pipeline class's `from_pipe` casts the new pipeline, and so the shared modules, to its `dtype`
    argument, float32 when none is given (diffusers 0.42); the auto pipelines cast nothing.
    """
    import diffusers

    if isinstance(cls, type) and issubclass(cls, diffusers.DiffusionPipeline):
        return cls.from_pipe(base, dtype=base.dtype)
    return cls.from_pipe(base)


def _parameters(pipe) -> set[str]:
    return set(_inspect.signature(pipe.__call__).parameters)


def _guidance(pipe, params: set[str], guidance: float) -> dict[str, Any]:
    """Guidance by the pipeline's own name for it: distilled guidance (FLUX), true CFG (Qwen-Image), or CFG."""
    transformer = getattr(pipe, "transformer", None)
    embedded = bool(getattr(getattr(transformer, "config", None), "guidance_embeds", False))
    if "true_cfg_scale" in params and not embedded:
        extra = {"negative_prompt": " "} if guidance > 1 and "negative_prompt" in params else {}
        return {"true_cfg_scale": guidance, **extra}
    return {"guidance_scale": guidance}


class PipelineEngine(Engine):
    """The pipeline engine: the TOML file's parts, each loaded on its first stage, run as the loop's stages.

    `config` is a TOML file or the same sections as a dict (missing keys take their defaults), else
    STROKE_STUDIO_PIPELINE_CONFIG, else assets/pipeline-24gb.toml; it is read and checked here.

    Example usage::

        engine = PipelineEngine("assets/pipeline-24gb.toml")  # checked now; no model loads yet
        engine.config["sketcher"]["steps"]  # 30
        # the same sections as a dict; here the inspector is the planner and the refiner is built
        # from the sketcher's weights (their defaults)
        engine = PipelineEngine(
            {
                "planner": {"model": "Qwen/Qwen2.5-VL-3B-Instruct"},
                "sketcher": {"model": "stabilityai/sdxl-turbo", "steps": 4, "guidance": 0.0},
            }
        )
        studio.engines.register("sdxl-turbo", lambda: engine)

    or: `STROKE_STUDIO_PIPELINE_CONFIG=assets/pipeline-80gb.toml studio run "…" --engine pipeline`.
    """

    name = "pipeline"
    label = (
        "training-free pipeline: a chat LLM/VLM plans and inspects, diffusers pipelines sketch and edit "
        "(configured by a TOML file)"
    )
    capabilities = Capabilities(region_edit=True, keeps_context=False, needs_gpu=True)
    max_concurrent = 1
    params = {
        "steps": Param(int, 1, 1000),
        "guidance": Param(float, 0.0, 100.0),
        "strength": Param(float, 0.0, 1.0),
        "temperature": Param(float, 0.0, 10.0),
        "max_think_tokens": Param(int, 1, 16384),
        "preview_every": Param(int, 0, 1000),
    }

    def __init__(self, config: str | Path | dict[str, Any] | None = None):
        require_packages("pipeline", "torch", "transformers", "diffusers")
        source = setting(config, CONFIG_SETTING, None)
        if source is None:
            if not DEFAULT_CONFIG.is_file():
                raise StudioError(
                    f"The pipeline engine needs a config file: set {CONFIG_SETTING} to a TOML file "
                    "(examples: assets/pipeline-24gb.toml, assets/pipeline-80gb.toml)."
                )
            source = DEFAULT_CONFIG
        self.config, self.where = load_config(source)
        self._parts = {
            name: ModelLock()
            for name in ("planner", "inspector", "sketcher", "refiner", "detector")
        }
        self._run = threading.RLock()

    # -- parts, each loaded on first use ---------------------------------------------------

    def _hint(self, role: str) -> str:
        if role in ("planner", "inspector"):
            return (
                f'Load the {role} in 4 bits (quantization = "nf4" in [{role}] of {self.where}) '
                "or pick a smaller model."
            )
        return (
            f'Set cpu_offload = "model" (or "sequential", the least memory) in [sketcher] and [refiner] '
            f"of {self.where}, or lower width and height; assets/pipeline-24gb.toml fits a 24 GB GPU."
        )

    def planner(self) -> ChatModel:
        return self._parts["planner"].get(
            lambda: load_chat(self.config["planner"], "planner", self.where)
        )

    def inspector(self) -> ChatModel:
        if self.config["inspector"]["model"] == "planner":
            return self.planner()
        return self._parts["inspector"].get(
            lambda: load_chat(self.config["inspector"], "inspector", self.where)
        )

    def _inspector_section(self) -> dict[str, Any]:
        return self.config[
            "planner" if self.config["inspector"]["model"] == "planner" else "inspector"
        ]

    def sketcher(self):
        return self._parts["sketcher"].get(self._load_sketcher)

    def refiner(self):
        return self._parts["refiner"].get(self._load_refiner)

    def _load_diffusers(self, section: dict[str, Any], role: str, default_class, **components):
        source, local = resolve_model(
            section["model"],
            what=f"{role} pipeline",
            setting_name=f"[{role}] model in {self.where}",
            layout="diffusers",
        )
        device = pick_device(section["device"])
        dtype = pick_dtype(section["dtype"], device)
        cls = _pipeline_class(section["pipeline"], default_class)
        kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": local, **components}
        if section.get("variant"):
            kwargs["variant"] = section["variant"]
        with gpu_errors(f"loading the {role}", self._hint(role)):
            try:
                pipe = cls.from_pretrained(source, **kwargs)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise load_error(f"{role} pipeline", source, exc) from exc
            _place(pipe, device, section["cpu_offload"], f"{self.where} [{role}]")
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def _load_sketcher(self):
        import diffusers

        return self._load_diffusers(
            self.config["sketcher"], "sketcher", diffusers.AutoPipelineForText2Image
        )

    def _load_refiner(self):
        import diffusers

        section = self.config["refiner"]
        if section["model"] == "sketcher":
            base = self.sketcher()
            cls = _pipeline_class(section["pipeline"], diffusers.AutoPipelineForImage2Image)
            if cls is diffusers.AutoPipelineForText2Image:
                cls = diffusers.AutoPipelineForImage2Image
            pipe = _from_pipe(cls, base)
            if (section["cpu_offload"] or "none") != "none":
                _place(
                    pipe,
                    pick_device(section["device"]),
                    section["cpu_offload"],
                    f"{self.where} [refiner]",
                )
            pipe.set_progress_bar_config(disable=True)
            return pipe
        shared = {}
        if section["reuse"]:
            base = self.sketcher()
            missing = [name for name in section["reuse"] if getattr(base, name, None) is None]
            if missing:
                raise StudioError(
                    f"{self.where}: [refiner] reuse names {', '.join(missing)}, which the sketcher "
                    "does not have."
                )
            shared = {name: getattr(base, name) for name in section["reuse"]}
        pipe = self._load_diffusers(section, "refiner", diffusers.DiffusionPipeline, **shared)
        if "image" not in _parameters(pipe):  # a text-to-image checkpoint: use it for img2img
            pipe = diffusers.AutoPipelineForImage2Image.from_pipe(pipe)
            pipe.set_progress_bar_config(disable=True)
        return pipe

    def detector(self):
        kind = self.config["detector"]["kind"]
        if kind == "none":
            return None
        return self._parts["detector"].get(self._load_detector)

    def _load_detector(self):
        section = self.config["detector"]
        if section["kind"] == "coco":
            from ...vision.detector import CocoDetector

            return CocoEvidence(CocoDetector(), float(section["threshold"]))
        return OwlEvidence.load(section, self.where)

    def adopt(self, role: str, part) -> None:
        """Use a part already in memory (a ChatModel for planner/inspector, a diffusers pipeline for
        sketcher/refiner; built in code, e.g. bench/gpu_full.py's random FLUX.1) instead of loading it."""
        if role in ("sketcher", "refiner"):
            part.set_progress_bar_config(disable=True)
        self._parts[role].get(lambda: part)

    def close(self) -> None:
        if any([part.clear() for part in self._parts.values()]):
            free_memory()

    # -- drawing ---------------------------------------------------------------------------

    def _size(self) -> tuple[int, int]:
        section = self.config["sketcher"]
        return int(section["width"]), int(section["height"])

    def _draw(
        self, ctx: StageContext, pipe, section: dict[str, Any], role: str, label: str, **call: Any
    ) -> tuple[Any, int, dict[str, Any]]:
        import torch

        params = _parameters(pipe)
        steps = number(ctx.params, "steps", section["steps"], low=1, high=1000, integer=True)
        guidance = number(ctx.params, "guidance", section["guidance"], low=0.0, high=100.0)
        every = number(ctx.params, "preview_every", section["preview_every"], low=0, integer=True)
        width, height = call.pop("size")
        kwargs: dict[str, Any] = dict(
            num_inference_steps=steps,
            generator=cpu_generator(ctx.seed),
            height=height,
            width=width,
            **_guidance(pipe, params, guidance),
            **call,
        )
        if "max_area" in params:  # FLUX Kontext: keep the size asked for
            kwargs.update(max_area=width * height, _auto_resize=False)
        expected = steps
        if "strength" in kwargs and "strength" in params:
            expected = max(1, int(steps * float(kwargs["strength"])))
        counter = StepCounter()
        kwargs["callback_on_step_end"] = diffusers_callback(
            ctx,
            label,
            expected,
            counter,
            height=height,
            width=width,
            preview_every=every,
            decode=bool(section["preview_decode"]),
        )
        used = {k: v for k, v in kwargs.items() if k in params}
        with self._run, torch.inference_mode(), gpu_errors(label, self._hint(role)):
            image = pipe(**used).images[0]
        ctx.check_cancelled()
        settings = {
            k: v for k, v in used.items() if isinstance(v, (int, float, str)) and k != "prompt"
        }
        return image, counter.steps, settings

    def _edit(
        self, ctx: StageContext, base, instruction: str, region, label: str
    ) -> tuple[Any, int, dict[str, Any]]:
        from PIL import Image

        section = self.config["refiner"]
        pipe = self.refiner()
        params = _parameters(pipe)
        base = base.convert("RGB")
        call: dict[str, Any] = {"prompt": instruction, "image": base, "size": base.size}
        strength = number(ctx.params, "strength", section["strength"], low=0.0, high=1.0)
        if "mask_image" in params:
            call["mask_image"] = (
                region.convert("L") if region is not None else Image.new("L", base.size, 255)
            )
            call["strength"] = strength
        elif "image_guidance_scale" in params:
            call["image_guidance_scale"] = float(section["image_guidance"])
        elif "strength" in params:
            call["strength"] = strength
        image, steps, settings = self._draw(ctx, pipe, section, "refiner", label, **call)
        image = image.convert("RGB")
        if image.size != base.size:
            image = image.resize(base.size, Image.LANCZOS)
        if region is not None:  # only the region's pixels may change, whatever the pipeline did
            mask = region.convert("L").resize(base.size, Image.NEAREST)
            image = Image.composite(image, base, mask)
        settings["pipeline"] = type(pipe).__name__
        return image, steps, settings

    # -- the stages ------------------------------------------------------------------------

    def plan(self, ctx: StageContext) -> PlanResult:
        planner = self.planner()
        system, user = prompts.plan_request(ctx)
        raw, tokens = planner.generate(
            ctx,
            system,
            user,
            ctx.current_image(),
            "planning",
            self.config["planner"],
            self._run,
            self._hint("planner"),
        )
        result = prompts.plan_result(raw, ctx, tokens=tokens)
        ctx.progress(1.0, "planned")
        return result

    def sketch(self, ctx: StageContext) -> ImageResult:
        section = self.config["sketcher"]
        previous = ctx.current_image()
        plan = prompts.latest_plan(ctx.branch)
        used = _plan_used(ctx)
        if previous is not None and plan is not None and section["continue_with"] == "refiner":
            instruction = plan.instruction or prompts.image_description(ctx)
            instruction, reason_used = _with_reason(ctx, instruction)
            image, steps, settings = self._edit(ctx, previous, instruction, None, "sketching")
            meta = {"prompt": instruction, "continued": True, **settings}
        else:
            description, reason_used = _with_reason(ctx, prompts.image_description(ctx))
            pipe = self.sketcher()
            image, steps, settings = self._draw(
                ctx, pipe, section, "sketcher", "sketching", prompt=description, size=self._size()
            )
            meta = {"prompt": description, "pipeline": type(pipe).__name__, **settings}
        ctx.progress(1.0, "sketched", thumbnail(image))
        return ImageResult(image, meta=meta, sampling_steps=steps, used_input=reason_used or used)

    def inspect(self, ctx: StageContext) -> InspectResult:
        image = ctx.current_image()
        if image is None:
            raise StudioError(
                "There is no sketch to inspect yet; let the sketch stage draw one first."
            )
        detector = self.detector()
        evidence, boxes, problems, found, unseen = "", (), [], [], []
        if detector is not None:
            plan = prompts.latest_plan(ctx.branch)
            with self._run:
                evidence, boxes, problems, found, unseen = detector.examine(
                    image, plan.description if plan else ctx.prompt
                )
            if not self.config["detector"]["veto"]:
                problems = []
        inspector = self.inspector()
        # nothing would look for them: never pass a sketch that may lack them
        if unseen and not inspector.vision:
            problems.append(
                f"Nothing here can see the {', '.join(unseen)}: the detector does not know "
                f"{'it' if len(unseen) == 1 else 'them'} and the inspector has no vision."
            )
        system, user = prompts.inspect_request(ctx, evidence)
        if not inspector.vision:
            user += "\n(You cannot see the image: judge it from the detector's findings.)"
        raw, tokens = inspector.generate(
            ctx,
            system,
            user,
            image,
            "inspecting",
            self._inspector_section(),
            self._run,
            self._hint("inspector"),
        )
        result = prompts.inspect_result(
            raw, evidence_boxes=boxes, detector_problems=problems, tokens=tokens, detected=found
        )
        ctx.progress(1.0, "inspected")
        return result

    def refine(self, ctx: StageContext, instruction: str | None, region) -> RefineResult:
        base = ctx.current_image()
        if base is None:
            raise StudioError(
                "There is no sketch to refine yet; let the sketch stage draw one first."
            )
        meta: dict[str, Any] = {}
        used: UsedInput | None = None
        person = ctx.person
        if (
            not instruction
            and person is not None
            and person.kind == "verdict"
            and person.text.strip()
        ):
            # the editing pipeline takes the person's critique as its edit instruction
            instruction = " ".join(person.text.split())
            used = UsedInput(
                True, f"edited the image with your verdict as the instruction: {instruction}"
            )
        elif instruction:
            instruction, used = _with_reason(ctx, instruction)
        if not instruction:
            planner = self.planner()
            system, user = prompts.refine_request(ctx)
            raw, tokens = planner.generate(
                ctx,
                system,
                user,
                base,
                "writing the correction",
                self.config["planner"],
                self._run,
                self._hint("planner"),
            )
            instruction, format_ok = prompts.refine_instruction(raw, ctx)
            meta.update(raw=raw[:2000], format_ok=format_ok, tokens=tokens)
            instruction, used = _with_reason(ctx, instruction)
        image, steps, settings = self._edit(ctx, base, instruction, region, "refining")
        meta.update(settings, region=region is not None, prompt=instruction)
        ctx.progress(1.0, "refined", thumbnail(image))
        return RefineResult(instruction, image, meta=meta, sampling_steps=steps, used_input=used)


def _with_reason(ctx: StageContext, prompt: str) -> tuple[str, UsedInput | None]:
    """A redraw after a person's reject: their reason becomes part of the sketcher's prompt or the
    editor's instruction (a reason says what should be, so it is a prompt change, not a negative)."""
    person = ctx.person
    if person is None or person.kind != "reason" or not person.text.strip():
        return prompt, None
    reason = " ".join(person.text.split())
    if reason.lower() not in prompt.lower():
        prompt = f"{prompt.rstrip('. ')}. {reason}"
    return prompt, UsedInput(
        True, f"drew it again with why you rejected it in the prompt: {reason}"
    )


def _plan_used(ctx: StageContext) -> UsedInput | None:
    """A sketch of a plan a person edited draws that plan's description (or instruction) as its prompt."""
    person = ctx.person
    if person is None or person.kind != "plan":
        return None
    return UsedInput(True, f"drew your edited plan: {' '.join(person.text.split())}")


# -- detector evidence -------------------------------------------------------------------------
