"""`pipeline`: the training-free baseline, composed from parts named in a TOML file.

- planner: a transformers chat LLM (`AutoModelForCausalLM`) or VLM (`AutoModelForImageTextToText`, e.g.
  Qwen2.5-VL, Idefics3/SmolVLM); it writes `<ins>`/`<des>` and, when none is given, `<refine>`;
- inspector: the planner (`model = "planner"`) or another chat model; a VLM sees the draft;
- sketcher: any diffusers text-to-image pipeline (`AutoPipelineForText2Image`), drawing the plan's `<des>`;
- refiner: a diffusers editing pipeline — FLUX.1 Kontext, Qwen-Image-Edit, InstructPix2Pix, an inpaint
  pipeline (the region drawn on the canvas is its mask), or img2img built from the sketcher's own
  weights (`model = "sketcher"`, the default). Edit pipelines that take no mask are composited
  through the region, so a region refine only ever changes the region's pixels;
- detector (optional): OWLv2 through transformers, or the offline yolov3-tiny COCO detector; its boxes
  become the verdict's evidence and its findings are told to the inspector (`veto = true` also fails
  a sketch that lacks a planned object).

The config file comes from the `config` argument or STROKE_STUDIO_PIPELINE_CONFIG (default:
assets/pipeline-24gb.toml in a source checkout). Each part loads on first use, once per process.
Per session (settings.engine_params): steps, guidance, strength, temperature, max_think_tokens,
preview_every override the file's values.
"""

from __future__ import annotations

import inspect as _inspect
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..domain import Box, StudioError
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
)
from .torch_support import (
    ModelLock,
    StepCounter,
    cpu_generator,
    diffusers_callback,
    free_memory,
    gpu_errors,
    load_error,
    manual_seed,
    number,
    pick_device,
    pick_dtype,
    read_toml,
    require_packages,
    resolve_model,
    setting,
    text_progress,
    thumbnail,
)

CONFIG_SETTING = "STROKE_STUDIO_PIPELINE_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "assets" / "pipeline-24gb.toml"

_CHAT_KEYS = {"model", "kind", "device", "dtype", "quantization", "max_new_tokens", "temperature"}
_DIFFUSERS_KEYS = {
    "model",
    "pipeline",
    "device",
    "dtype",
    "variant",
    "cpu_offload",
    "steps",
    "guidance",
    "width",
    "height",
    "preview_every",
    "preview_decode",
}
SECTIONS: dict[str, dict[str, Any]] = {
    "planner": {
        "model": None,
        "kind": "auto",
        "device": "auto",
        "dtype": "auto",
        "quantization": "none",
        "max_new_tokens": 256,
        "temperature": 0.0,
    },
    "inspector": {
        "model": "planner",
        "kind": "auto",
        "device": "auto",
        "dtype": "auto",
        "quantization": "none",
        "max_new_tokens": 256,
        "temperature": 0.0,
    },
    "sketcher": {
        "model": None,
        "pipeline": "auto",
        "device": "auto",
        "dtype": "auto",
        "variant": None,
        "cpu_offload": "none",
        "steps": 30,
        "guidance": 5.0,
        "width": 1024,
        "height": 1024,
        "preview_every": 5,
        "preview_decode": True,
        "continue_with": "text2image",
    },
    "refiner": {
        "model": "sketcher",
        "pipeline": "auto",
        "device": "auto",
        "dtype": "auto",
        "variant": None,
        "cpu_offload": "none",
        "steps": 30,
        "guidance": 5.0,
        "strength": 0.6,
        "image_guidance": 1.5,
        "reuse": [],
        "preview_every": 5,
        "preview_decode": True,
    },
    "detector": {
        "kind": "none",
        "model": "google/owlv2-base-patch16-ensemble",
        "device": "auto",
        "dtype": "auto",
        "threshold": 0.3,
        "veto": False,
    },
}


def load_config(source: str | Path | dict[str, Any]) -> tuple[dict[str, dict[str, Any]], str]:
    """The config with defaults filled in, and where it came from (for error messages)."""
    if isinstance(source, dict):
        data, where, base = source, "the pipeline config", Path.cwd()
    else:
        path = Path(source).expanduser()
        data, where, base = read_toml(path), str(path), path.parent
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise StudioError(
            f"{where}: unknown section(s) {', '.join(unknown)}; the sections are "
            f"{', '.join(SECTIONS)}."
        )
    config: dict[str, dict[str, Any]] = {}
    for section, defaults in SECTIONS.items():
        given = data.get(section, {})
        if not isinstance(given, dict):
            raise StudioError(f"{where}: [{section}] must be a table of settings.")
        bad = sorted(set(given) - set(defaults))
        if bad:
            raise StudioError(
                f"{where}: unknown setting(s) {', '.join(bad)} in [{section}]; known: "
                f"{', '.join(sorted(defaults))}."
            )
        merged = {**defaults, **given}
        model = merged.get("model")
        if isinstance(model, str) and model.startswith(("./", "../")):
            merged["model"] = str((base / model).resolve())
        config[section] = merged
    for section in ("planner", "sketcher"):
        if not config[section]["model"]:
            raise StudioError(
                f"{where}: [{section}] needs a model (a folder or a Hugging Face id)."
            )
    if config["detector"]["kind"] not in ("none", "coco", "owlv2"):
        raise StudioError(f"{where}: [detector] kind must be none, coco or owlv2.")
    return config, where


# -- the chat models (planner, inspector) ------------------------------------------------------


@dataclass
class ChatModel:
    model: Any
    processor: Any  # a processor (VLM) or a tokenizer (LLM)
    vision: bool
    device: str
    dtype: Any

    @property
    def tokenizer(self):
        return getattr(self.processor, "tokenizer", self.processor)

    def prompt(self, system: str, user: str, with_image: bool) -> str:
        if self.vision:
            content = ([{"type": "image"}] if with_image else []) + [{"type": "text", "text": user}]
            messages = [
                {"role": "system", "content": [{"type": "text", "text": system}]},
                {"role": "user", "content": content},
            ]
            merged = [
                {"role": "user", "content": [{"type": "text", "text": system + "\n\n"}] + content}
            ]
        else:
            messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
            merged = [{"role": "user", "content": f"{system}\n\n{user}"}]
        owner = self.processor
        if getattr(owner, "chat_template", None):
            try:
                return owner.apply_chat_template(
                    messages, add_generation_prompt=True, tokenize=False
                )
            except Exception:  # templates that refuse a system turn
                return owner.apply_chat_template(merged, add_generation_prompt=True, tokenize=False)
        return f"{system}\n\n{user}\n\nAnswer:"

    def generate(
        self,
        ctx: StageContext,
        system: str,
        user: str,
        image,
        label: str,
        section: dict[str, Any],
        lock: threading.RLock,
        hint: str,
    ) -> tuple[str, int]:
        import torch
        from transformers import StoppingCriteriaList

        image = image if self.vision else None
        max_new = number(
            ctx.params,
            "max_think_tokens",
            section["max_new_tokens"],
            low=1,
            high=16384,
            integer=True,
        )
        temperature = number(ctx.params, "temperature", section["temperature"], low=0.0)
        text = self.prompt(system, user, image is not None)
        if image is not None:
            inputs = self.processor(text=text, images=[image.convert("RGB")], return_tensors="pt")
        else:
            inputs = self.tokenizer(text, return_tensors="pt")
        inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        counter = StepCounter()
        kwargs: dict[str, Any] = dict(
            max_new_tokens=max_new,
            do_sample=temperature > 0,
            stopping_criteria=StoppingCriteriaList([text_progress(ctx, label, max_new, counter)]),
        )
        if temperature > 0:
            kwargs["temperature"] = temperature
        if self.tokenizer.pad_token_id is None:
            kwargs["pad_token_id"] = self.tokenizer.eos_token_id
        with lock, torch.inference_mode(), gpu_errors(label, hint):
            manual_seed(ctx.seed)
            out = self.model.generate(**inputs, **kwargs)
        ctx.check_cancelled()
        return self.tokenizer.decode(
            out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True
        ), counter.steps


def _quantization_config(mode: str, dtype, where: str):
    mode = (mode or "none").lower()
    if mode == "none":
        return None
    if mode not in ("nf4", "int8"):
        raise StudioError(f"{where}: quantization must be none, nf4 or int8.")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise StudioError(
            f'{where}: quantization = "{mode}" needs `pip install bitsandbytes` (CUDA only).'
        ) from None
    from transformers import BitsAndBytesConfig

    if mode == "nf4":
        return BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )
    return BitsAndBytesConfig(load_in_8bit=True)


def load_chat(section: dict[str, Any], role: str, where: str) -> ChatModel:
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForImageTextToText,
        AutoProcessor,
        AutoTokenizer,
    )
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    source, local = resolve_model(
        section["model"], what=f"{role} model", setting_name=f"[{role}] model in {where}"
    )
    device = pick_device(section["device"])
    dtype = pick_dtype(section["dtype"], device)
    quant = _quantization_config(section["quantization"], dtype, f"{where} [{role}]")
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=local)
        kind = section["kind"]
        if kind == "auto":
            kind = (
                "vlm" if config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES else "llm"
            )
        kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": local}
        if quant is not None:
            kwargs.update(quantization_config=quant, device_map={"": device})
        hint = f'Load the {role} in 4 bits (quantization = "nf4" in [{role}] of {where}) or pick a smaller model.'
        with gpu_errors(f"loading the {role}", hint):
            if kind == "vlm":
                processor = AutoProcessor.from_pretrained(source, local_files_only=local)
                model = AutoModelForImageTextToText.from_pretrained(source, **kwargs)
            elif kind == "llm":
                processor = AutoTokenizer.from_pretrained(source, local_files_only=local)
                model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
            else:
                raise StudioError(f"{where}: [{role}] kind must be auto, vlm or llm.")
            if quant is None:
                model = model.to(device)
    except (OSError, ValueError, KeyError) as exc:
        raise load_error(f"{role} model", source, exc) from exc
    return ChatModel(model.eval(), processor, kind == "vlm", device, dtype)


# -- the diffusers pipelines (sketcher, refiner) -----------------------------------------------


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
            pipe = cls.from_pipe(base)
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
            from ..detector import CocoDetector

            return _CocoEvidence(CocoDetector(), float(section["threshold"]))
        return _OwlEvidence.load(section, self.where)

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
        if previous is not None and plan is not None and section["continue_with"] == "refiner":
            instruction = plan.instruction or prompts.image_description(ctx)
            image, steps, settings = self._edit(ctx, previous, instruction, None, "sketching")
            meta = {"prompt": instruction, "continued": True, **settings}
        else:
            description = prompts.image_description(ctx)
            pipe = self.sketcher()
            image, steps, settings = self._draw(
                ctx, pipe, section, "sketcher", "sketching", prompt=description, size=self._size()
            )
            meta = {"prompt": description, "pipeline": type(pipe).__name__, **settings}
        ctx.progress(1.0, "sketched", thumbnail(image))
        return ImageResult(image, meta=meta, sampling_steps=steps)

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
        if (
            unseen and not inspector.vision
        ):  # nothing would look for them: never pass a sketch that may lack them
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
        image, steps, settings = self._edit(ctx, base, instruction, region, "refining")
        meta.update(settings, region=region is not None)
        ctx.progress(1.0, "refined", thumbnail(image))
        return RefineResult(instruction, image, meta=meta, sampling_steps=steps)


# -- detector evidence -------------------------------------------------------------------------


def _planned_groups(description: str, open_vocabulary: bool = True):
    """(the plan's groups the detector can look for, the plan's nouns it cannot).

    The COCO detector knows GenEval's 80 classes only (`studio.scene.is_known`, the classes the offline
    engine has glyphs for); OWLv2 is asked about any noun. A noun the detector cannot look for is
    named in its evidence, never dropped in silence, and never reported missing by a detector blind to it.
    """
    from ..scene import is_known, parse_description

    groups = parse_description(description or "").groups
    if open_vocabulary:
        return groups, []
    return [g for g in groups if is_known(g.cls)], sorted(
        {g.cls for g in groups if not is_known(g.cls)}
    )


def _judge(
    description: str,
    detections: list[tuple[str, float, tuple[float, float, float, float]]],
    open_vocabulary: bool = True,
):
    """(text for the inspector, evidence boxes, problems, plain findings, planned nouns not looked for)."""
    counts: dict[str, int] = {}
    for label, _, _ in detections:
        counts[label] = counts.get(label, 0) + 1
    text = ", ".join(f"{n} {label}" for label, n in sorted(counts.items())) or "no known objects"
    checkable, unseen = _planned_groups(description, open_vocabulary)
    if unseen:
        text += (
            f" (not among the detector's classes, so not looked for: {', '.join(unseen)}; "
            "judge those from the image)"
        )
    boxes = tuple(Box(*box, label=label, score=round(score, 3)) for label, score, box in detections)
    problems = []
    for group in checkable:
        seen = counts.get(group.cls, 0)
        if seen == 0:
            problems.append(f"The detector found no {group.cls}.")
        elif seen < group.count:
            problems.append(f"The detector found {seen} {group.cls}, the plan has {group.count}.")
    found = [
        {"label": label, "score": round(score, 3), "box": [round(v, 1) for v in box]}
        for label, score, box in detections
    ]
    return text, boxes, problems, found, unseen


class _CocoEvidence:
    def __init__(self, detector, threshold: float):
        self.detector, self.threshold = detector, threshold

    def examine(self, image, description: str):
        detections = [
            (d.label, d.score, d.box) for d in self.detector.detect(image, self.threshold)
        ]
        return _judge(description, detections, open_vocabulary=False)


class _OwlEvidence:
    """OWLv2 (or OWL-ViT) open-vocabulary detection, queried with the classes the plan mentions."""

    def __init__(self, model, processor, device: str, dtype, threshold: float):
        self.model, self.processor, self.device, self.dtype, self.threshold = (
            model,
            processor,
            device,
            dtype,
            threshold,
        )

    @classmethod
    def load(cls, section: dict[str, Any], where: str) -> "_OwlEvidence":
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        source, local = resolve_model(
            section["model"], what="detector model", setting_name=f"[detector] model in {where}"
        )
        device = pick_device(section["device"])
        dtype = pick_dtype(section["dtype"], device)
        try:
            processor = AutoProcessor.from_pretrained(source, local_files_only=local)
            model = AutoModelForZeroShotObjectDetection.from_pretrained(
                source, dtype=dtype, local_files_only=local
            )
        except (OSError, ValueError, KeyError) as exc:
            raise load_error("detector model", source, exc) from exc
        return cls(model.to(device).eval(), processor, device, dtype, float(section["threshold"]))

    def examine(self, image, description: str):
        import torch

        labels = sorted({g.cls for g in _planned_groups(description)[0]})
        if not labels:
            return _judge(description, [])
        image = image.convert("RGB")
        queries = [[f"a photo of a {label}" for label in labels]]
        inputs = self.processor(text=queries, images=image, return_tensors="pt")
        inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        with torch.inference_mode():
            outputs = self.model(**inputs)
        if (
            "owlv2" in type(self.model).__name__.lower()
        ):  # OWLv2 pads to a square: boxes are on the padded image
            target = (max(image.size), max(image.size))
        else:
            target = (image.height, image.width)
        post = getattr(self.processor, "image_processor", self.processor)
        result = post.post_process_object_detection(
            outputs, threshold=self.threshold, target_sizes=[target]
        )[0]
        detections = []
        for score, label, box in zip(
            result["scores"].tolist(), result["labels"].tolist(), result["boxes"].tolist()
        ):
            x0, y0, x1, y1 = (max(0.0, v) for v in box)
            detections.append(
                (labels[label], float(score), (x0, y0, min(x1, image.width), min(y1, image.height)))
            )
        return _judge(description, detections)
