"""The planner and inspector of the pipeline engine: a transformers chat LLM or VLM, loaded once."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ...core.domain import StudioError
from ..base import (
    StageContext,
)
from ..torch_support import (
    StepCounter,
    gpu_errors,
    load_error,
    load_placement,
    manual_seed,
    number,
    pick_device,
    pick_dtype,
    resolve_model,
    text_progress,
)


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


def _processor(auto, source: str, local: bool, role: str, where: str):
    """The VLM's processor; one that needs torchvision (Qwen2.5-VL's video processor) names the install."""
    try:
        return auto.from_pretrained(source, local_files_only=local)
    except ImportError as exc:
        if "torchvision" not in str(exc).lower():
            raise
        raise StudioError(
            f"The {role} of {where} ({source}) has a processor that needs torchvision, which is not "
            "installed: `pip install 'stroke-studio[vision]' torch==<your torch version>` (pip then "
            "takes the torchvision built for that torch), or pick a VLM whose processor needs none "
            "(SmolVLM/Idefics3)."
        ) from None


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
        kwargs.update(load_placement(device))  # straight onto the device, never via the CPU
        if quant is not None:
            kwargs.update(quantization_config=quant)
        hint = f'Load the {role} in 4 bits (quantization = "nf4" in [{role}] of {where}) or pick a smaller model.'
        with gpu_errors(f"loading the {role}", hint):
            if kind == "vlm":
                processor = _processor(AutoProcessor, source, local, role, where)
                model = AutoModelForImageTextToText.from_pretrained(source, **kwargs)
            elif kind == "llm":
                processor = AutoTokenizer.from_pretrained(source, local_files_only=local)
                model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
            else:
                raise StudioError(f"{where}: [{role}] kind must be auto, vlm or llm.")
    except (OSError, ValueError, KeyError) as exc:
        raise load_error(f"{role} model", source, exc) from exc
    return ChatModel(model.eval(), processor, kind == "vlm", device, dtype)


# -- the diffusers pipelines (sketcher, refiner) -----------------------------------------------
