"""`bagel`: BAGEL-7B-MoT, or a fine-tune with its layout (Uni-CoT, the paper's weights once public).

BAGEL is not on PyPI and not in transformers: the engine imports the modelling code from the user's
own clone of https://github.com/ByteDance-Seed/Bagel (nothing of it is copied here) and loads a local
snapshot (`llm_config.json`, `vit_config.json`, `ae.safetensors`, `ema.safetensors`, the tokenizer).

The released model does not decide when to draw, so the studio alternates: plan = text generation
after a request for `<ins>`/`<des>`; sketch = image generation on the context; inspect = text
generation over the context with the sketch in it; refine = a `<refine>` text, then image generation
on the context that holds the sketch (BAGEL's editing set-up).

The context (BAGEL's KV cache, with its two classifier-free-guidance companions) is kept per branch
between stages, so a stage only encodes what it adds. Contexts live in an LRU bounded by memory. After
a fork, a resume, an edit or a reject, the context is rebuilt by prefilling the stored texts and
images of the branch — never by generating them again. What goes into a context is always the
canonical form of what the store holds (e.g. `<ins>…</ins><des>…</des><done>…</done>`), so a
rebuilt context equals the one a continuous run would have.

Configuration (keyword arguments win over the environment):
  STROKE_STUDIO_BAGEL_MODEL       the snapshot folder (required)
  STROKE_STUDIO_BAGEL_REPO        the clone of the BAGEL repository (required)
  STROKE_STUDIO_BAGEL_MODE        bf16 (≥ 32 GB) | nf4 (12–32 GB) | int8 (22–32 GB); default bf16
  STROKE_STUDIO_BAGEL_CACHE_GB    memory for kept contexts, in GiB (default 8)
  STROKE_STUDIO_BAGEL_MAX_MEMORY  per-GPU cap for accelerate's placement, e.g. 40GiB (default: 90% of each GPU)
Per session (settings.engine_params): cfg_text_scale, cfg_img_scale, cfg_interval (start, or
[start, end]), cfg_renorm_min, cfg_renorm_type, num_timesteps, timestep_shift, max_think_tokens,
temperature (0 = greedy), think (true: reason in <think> first), image_size, preview_every.
"""

from __future__ import annotations

import copy
import hashlib
import sys
import tempfile
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..domain import Check, Mode, Review, Session, Stage, Step, StudioError
from . import prompts
from .base import (Capabilities, Engine, ImageResult, InspectResult, PlanResult, RefineResult, StageContext)
from .torch_support import (ModelLock, free_memory, gpu_errors, manual_seed, missing_files, number, setting,
                            tensor_bytes, thumbnail)

MODEL_SETTING = "STROKE_STUDIO_BAGEL_MODEL"
REPO_SETTING = "STROKE_STUDIO_BAGEL_REPO"
MODE_SETTING = "STROKE_STUDIO_BAGEL_MODE"
CACHE_SETTING = "STROKE_STUDIO_BAGEL_CACHE_GB"
MAX_MEMORY_SETTING = "STROKE_STUDIO_BAGEL_MAX_MEMORY"
MODES = ("bf16", "nf4", "int8")
MODEL_FILES: tuple[str | tuple[str, ...], ...] = (
    "llm_config.json", "vit_config.json", "ae.safetensors", "ema.safetensors", ("tokenizer.json", "vocab.json"))
REPO_FILES = ("inferencer.py", "modeling/bagel/__init__.py", "modeling/autoencoder.py", "modeling/qwen2/__init__.py",
              "data/transforms.py", "data/data_utils.py")
IMAGE_STAGES = (Stage.SKETCH, Stage.REFINE)

SYSTEM = ("You build an image step by step: plan, sketch, inspect, refine. A plan gives the next instruction in "
          "<ins>…</ins>, the whole scene after it in <des>…</des> and <done>yes|no</done>; an inspection checks "
          "the plan against the prompt and the image against the plan in <plan>…</plan><sketch>…</sketch>; a "
          "refinement says what to fix in <refine>…</refine>.")
INSPECT_REQUEST = ("Inspect the image: does the plan contradict the prompt, and does the image follow the plan? "
                   "Answer <plan>yes</plan> or <plan>no: why</plan>, then <sketch>yes</sketch> or "
                   "<sketch>no: what is wrong</sketch>.")
REFINE_REQUEST = "Refine the image: say what to fix in <refine>…</refine>."
THINK = " Think first inside <think>…</think>."


def plan_request(round_no: int, max_rounds: int, mode: Mode) -> str:
    if mode is Mode.SINGLE:
        return ("Plan the whole image in one step: <ins>one instruction for everything</ins>"
                "<des>the whole scene</des><done>yes</done>.")
    return (f"Plan step {round_no} of at most {max_rounds}: the next instruction in <ins>…</ins>, the whole "
            "scene after it in <des>…</des>, and <done>yes</done> if the prompt is then complete, else <done>no</done>.")


def plan_text(instruction: str | None, description: str | None, complete: bool) -> str:
    return f"<ins>{instruction or ''}</ins><des>{description or ''}</des><done>{'yes' if complete else 'no'}</done>"


def _check_text(name: str, check: Check | None) -> str:
    if check is None:
        return f"<{name}>yes</{name}>"
    return f"<{name}>{'yes' if check.passed else 'no'}{': ' + check.critique if check.critique else ''}</{name}>"


def verdict_text(plan_check: Check | None, sketch_check: Check | None) -> str:
    return _check_text("plan", plan_check) + _check_text("sketch", sketch_check)


def refine_text(instruction: str | None) -> str:
    return f"<refine>{instruction or ''}</refine>"


# -- segments: what one stored step puts into a context --------------------------------------

@dataclass(frozen=True)
class Segment:
    kind: str  # "text" | "image"
    text: str = ""
    step: Step | None = None  # for images: the step holding the ImageRef
    snapshot: bool = False  # a request that begins an image's conditioning text (text-CFG drops it)

    def fingerprint(self) -> tuple[str, str]:
        if self.kind == "image":
            return ("image", self.step.image.sha256 if self.step and self.step.image else "")
        return ("text", self.text)


def thinks(params: dict[str, Any]) -> bool:
    value = params.get("think", False)
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def requests(session: Session, round_no: int) -> dict[Stage, str]:
    """The request texts before each stage's answer; thinking (a session setting) is asked for in them.
    The thoughts themselves are kept in the step's meta, never in the context."""
    settings = session.settings
    think = THINK if thinks(settings.engine_params) else ""
    return {Stage.PLAN: plan_request(round_no, settings.max_rounds, settings.mode) + think,
            Stage.INSPECT: INSPECT_REQUEST + think, Stage.REFINE: REFINE_REQUEST}


def segments(step: Step, session: Session) -> list[Segment]:
    has_image = step.image is not None and step.review is not Review.REJECTED
    if step.stage is Stage.PLAN:
        return [Segment("text", requests(session, step.round)[Stage.PLAN], snapshot=True),
                Segment("text", plan_text(step.instruction, step.description, step.complete))]
    if step.stage is Stage.SKETCH:
        return [Segment("image", step=step)] if has_image else []
    if step.stage is Stage.INSPECT:
        return [Segment("text", requests(session, step.round)[Stage.INSPECT]),
                Segment("text", verdict_text(step.plan_check, step.sketch_check))]
    if step.stage is Stage.REFINE:
        return ([Segment("text", requests(session, step.round)[Stage.REFINE], snapshot=True),
                 Segment("text", refine_text(step.instruction))]
                + ([Segment("image", step=step)] if has_image else []))
    return []


def _digest(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def root_key(session: Session) -> str:
    return _digest("root", session.id, SYSTEM, session.prompt)


def step_key(previous: str, step: Step, session: Session) -> str:
    return _digest(previous, [s.fingerprint() for s in segments(step, session)])


def pending_key(previous: str, stage: Stage, seed: int | None, instruction: str | None) -> str:
    """Where an image stage leaves its context before the store has named the image (by its sha256)."""
    return _digest("pending", previous, stage.value, seed, instruction or "")


# -- the contexts and their LRU ----------------------------------------------------------------

@dataclass
class BranchContext:
    """BAGEL's three contexts for one branch: everything; text only (for image CFG); everything but
    the latest conditioning text (for text CFG, None when it equals `gen`)."""

    gen: Any
    cfg_img: Any
    cfg_text: Any = None
    dirty: bool = False  # changed since it left the cache (a failed stage must not put it back)
    nbytes: int = 0


class ContextCache:
    """Branch contexts by key, least recently used first out, bounded by the bytes their tensors hold."""

    def __init__(self, budget_bytes: int):
        self.budget = int(budget_bytes)
        self.entries: OrderedDict[str, BranchContext] = OrderedDict()
        self.lock = threading.Lock()
        self.evictions = 0

    @property
    def total(self) -> int:
        return sum(entry.nbytes for entry in self.entries.values())

    def take(self, key: str) -> BranchContext | None:
        with self.lock:
            return self.entries.pop(key, None)

    def put(self, key: str, context: BranchContext) -> None:
        context.nbytes = tensor_bytes([context.gen, context.cfg_img, context.cfg_text])
        context.dirty = False
        with self.lock:
            self.entries[key] = context
            self.entries.move_to_end(key)
            while self.entries and self.total > self.budget:
                self.entries.popitem(last=False)
                self.evictions += 1

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


@contextmanager
def _patched(owner: Any, name: str, make) -> Iterator[bool]:
    """Temporarily wrap `owner.name` (an instance attribute shadowing the method); False when impossible."""
    original = getattr(owner, name, None) if owner is not None else None
    if original is None:
        yield False
        return
    try:
        object.__setattr__(owner, name, make(original))
    except Exception:
        yield False
        return
    try:
        yield True
    finally:
        try:
            object.__delattr__(owner, name)
        except Exception:  # pragma: no cover
            object.__setattr__(owner, name, original)


# -- loading BAGEL from the user's clone -------------------------------------------------------

def _require_folder(value: str | None, what: str, setting_name: str, required, fix: str) -> Path:
    if not value:
        raise StudioError(f"The bagel engine needs {what}: set {setting_name}. {fix}")
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise StudioError(f"{what.capitalize()} {folder} ({setting_name}) does not exist. {fix}")
    missing = missing_files(folder, required)
    if missing:
        raise StudioError(f"{what.capitalize()} at {folder} is incomplete; missing: {', '.join(missing)}. {fix}")
    return folder


def check_bagel_paths(model: str | None, repo: str | None) -> tuple[Path, Path]:
    repo_dir = _require_folder(repo, "a clone of the BAGEL repository", REPO_SETTING, REPO_FILES,
                               "Get it with `git clone https://github.com/ByteDance-Seed/Bagel` and "
                               "`pip install -r Bagel/requirements.txt`.")
    model_dir = _require_folder(model, "the BAGEL model folder", MODEL_SETTING, MODEL_FILES,
                                "Download it with `hf download ByteDance-Seed/BAGEL-7B-MoT --local-dir "
                                "models/BAGEL-7B-MoT` (or a fine-tune with the same files).")
    return model_dir, repo_dir


def load_inferencer(model_dir: Path, repo_dir: Path, mode: str, max_memory: str | None):
    """BAGEL's InterleaveInferencer, built the way BAGEL's own app builds it, from the user's clone."""
    import torch

    if not torch.cuda.is_available():
        raise StudioError("The bagel engine needs a CUDA GPU (BAGEL's code runs its image decoder on CUDA); "
                          "this torch build sees none. The janus and pipeline engines also run on MPS or CPU.")
    if str(repo_dir) not in sys.path:
        sys.path.insert(0, str(repo_dir))
    try:
        from accelerate import infer_auto_device_map, init_empty_weights, load_checkpoint_and_dispatch
        from data.data_utils import add_special_tokens
        from data.transforms import ImageTransform
        from inferencer import InterleaveInferencer
        from modeling.autoencoder import load_ae
        from modeling.bagel import (Bagel, BagelConfig, Qwen2Config, Qwen2ForCausalLM, SiglipVisionConfig,
                                    SiglipVisionModel)
        from modeling.qwen2 import Qwen2Tokenizer
    except ImportError as exc:
        raise StudioError(f"BAGEL's code in {repo_dir} failed to import ({exc}). Install its requirements into "
                          f"this environment: `pip install -r {repo_dir}/requirements.txt` (flash_attn must match "
                          "your torch and CUDA).") from exc

    llm_config = Qwen2Config.from_json_file(str(model_dir / "llm_config.json"))
    llm_config.qk_norm = True
    llm_config.tie_word_embeddings = False
    llm_config.layer_module = "Qwen2MoTDecoderLayer"
    vit_config = SiglipVisionConfig.from_json_file(str(model_dir / "vit_config.json"))
    vit_config.rope = False
    vit_config.num_hidden_layers -= 1
    vae_model, vae_config = load_ae(local_path=str(model_dir / "ae.safetensors"))
    config = BagelConfig(visual_gen=True, visual_und=True, llm_config=llm_config, vit_config=vit_config,
                         vae_config=vae_config, vit_max_num_patch_per_side=70, connector_act="gelu_pytorch_tanh",
                         latent_patch_size=2, max_latent_size=64)
    with init_empty_weights():
        language_model = Qwen2ForCausalLM(llm_config)
        vit_model = SiglipVisionModel(vit_config)
        model = Bagel(language_model, vit_model, config)
        model.vit_model.vision_model.embeddings.convert_conv2d_to_linear(vit_config, meta=True)
    tokenizer = Qwen2Tokenizer.from_pretrained(str(model_dir))
    tokenizer, new_token_ids, _ = add_special_tokens(tokenizer)

    gpus = torch.cuda.device_count()
    caps = {i: max_memory or f"{int(torch.cuda.get_device_properties(i).total_memory * 0.9 / 2**30)}GiB"
            for i in range(gpus)}
    device_map = infer_auto_device_map(model, max_memory=caps,
                                       no_split_module_classes=["Bagel", "Qwen2MoTDecoderLayer"])
    # Modules that meet in one operation must share a device (as in BAGEL's app).
    together = ["language_model.model.embed_tokens", "time_embedder", "latent_pos_embed", "vae2llm", "llm2vae",
                "connector", "vit_pos_embed"]
    first = device_map.get(together[0], 0 if gpus else "cpu")
    for name in together:
        device_map[name] = first
    offload = tempfile.mkdtemp(prefix="bagel-offload-")
    checkpoint = str(model_dir / "ema.safetensors")
    if mode == "bf16":
        model = load_checkpoint_and_dispatch(model, checkpoint=checkpoint, device_map=device_map,
                                             offload_buffers=True, offload_folder=offload, dtype=torch.bfloat16,
                                             force_hooks=True)
    else:
        try:
            import bitsandbytes  # noqa: F401
            from accelerate.utils import BnbQuantizationConfig, load_and_quantize_model
        except ImportError:
            raise StudioError(f"The {mode} mode needs bitsandbytes: `pip install bitsandbytes`, or set "
                              f"{MODE_SETTING}=bf16 on a GPU with 32 GB or more.") from None
        quant = (BnbQuantizationConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16,
                                       bnb_4bit_use_double_quant=False, bnb_4bit_quant_type="nf4")
                 if mode == "nf4" else BnbQuantizationConfig(load_in_8bit=True, torch_dtype=torch.float32))
        model = load_and_quantize_model(model, weights_location=checkpoint, bnb_quantization_config=quant,
                                        device_map=device_map, offload_folder=offload)
    model = model.eval()
    vae_model = vae_model.to(f"cuda:{first}" if isinstance(first, int) else first, dtype=torch.bfloat16).eval()
    return InterleaveInferencer(model=model, vae_model=vae_model, tokenizer=tokenizer, vae_transform=ImageTransform(
        1024, 512, 16), vit_transform=ImageTransform(980, 224, 14), new_token_ids=new_token_ids)


# -- the engine --------------------------------------------------------------------------------

class BagelEngine(Engine):
    name = "bagel"
    label = ("BAGEL (your clone of its repository + a local snapshot): one model plans, draws, inspects and "
             "edits, keeping each branch's context between stages")
    capabilities = Capabilities(region_edit=False, keeps_context=True, needs_gpu=True)
    max_concurrent = 1

    def __init__(self, model_path: str | None = None, *, repo: str | None = None, mode: str | None = None,
                 cache_gb: float | None = None, max_memory: str | None = None, inferencer: Any = None):
        self.model_path = setting(model_path, MODEL_SETTING, None)
        self.repo = setting(repo, REPO_SETTING, None)
        self.mode = str(setting(mode, MODE_SETTING, "bf16")).strip().lower()
        if self.mode not in MODES:
            raise StudioError(f"{MODE_SETTING} is {self.mode!r}; use bf16, nf4 or int8.")
        try:
            budget = float(setting(cache_gb, CACHE_SETTING, 8))
        except ValueError:
            raise StudioError(f"{CACHE_SETTING} must be a number of GiB.") from None
        self.max_memory = setting(max_memory, MAX_MEMORY_SETTING, None)
        self.cache = ContextCache(int(budget * 2**30))
        self._inferencer = ModelLock()
        if inferencer is not None:
            self._inferencer.value = inferencer
        self._run = threading.RLock()
        self.prefilled = {"texts": 0, "images": 0}  # what rebuilding contexts cost, for benchmarks and tests

    @property
    def lower_memory(self) -> str:
        if self.mode == "bf16":
            return (f"Restart with {MODE_SETTING}=nf4 (12–32 GB) or int8 (22–32 GB), or lower {CACHE_SETTING} "
                    "or the image_size setting.")
        return f"Lower the image_size setting or {CACHE_SETTING}, or use a GPU with more memory."

    def inferencer(self):
        def load():
            model_dir, repo_dir = check_bagel_paths(self.model_path, self.repo)
            with gpu_errors("loading BAGEL", self.lower_memory):
                return load_inferencer(model_dir, repo_dir, self.mode, self.max_memory)

        return self._inferencer.get(load)

    def close(self) -> None:
        had_contexts = bool(self.cache.entries)
        self.cache.clear()
        if self._inferencer.clear() or had_contexts:
            free_memory()

    # -- the context of a branch -------------------------------------------------------------

    @contextmanager
    def _autocast(self):
        import torch

        with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16,
                                             enabled=torch.cuda.is_available()):
            yield

    def _add_text(self, bc: BranchContext, text: str, snapshot: bool = False) -> None:
        inf = self.inferencer()
        bc.dirty = True
        if snapshot:
            bc.cfg_text = copy.deepcopy(bc.gen)
        bc.gen = inf.update_context_text(text, bc.gen)
        bc.cfg_img = inf.update_context_text(text, bc.cfg_img)

    def _add_image(self, bc: BranchContext, image) -> None:
        inf = self.inferencer()
        bc.dirty = True
        image = image.convert("RGB")
        resize = getattr(getattr(inf, "vae_transform", None), "resize_transform", None)
        if resize is not None:
            image = resize(image)
        bc.gen = inf.update_context_image(image, bc.gen, vae=True, vit=True)
        bc.cfg_text = None  # nothing conditions on text after an image until the next request

    def _fresh(self, ctx: StageContext) -> BranchContext:
        inf = self.inferencer()
        bc = BranchContext(inf.init_gen_context(), inf.init_gen_context())
        with self._autocast():
            for text in (SYSTEM, f"Prompt: {ctx.prompt}"):
                self._add_text(bc, text)
                if ctx.branch:
                    self.prefilled["texts"] += 1
        return bc

    def _context(self, ctx: StageContext) -> tuple[BranchContext, str]:
        """The branch's context, from the cache (the longest cached prefix) plus prefill; and its key."""
        session, branch = ctx.session, ctx.branch
        keys = [root_key(session)]
        for step in branch:
            keys.append(step_key(keys[-1], step, session))
        found, start = None, 0
        for i in range(len(branch), -1, -1):
            found = self.cache.take(keys[i])
            if found is None and i > 0 and branch[i - 1].stage in IMAGE_STAGES and branch[i - 1].image is not None:
                step = branch[i - 1]
                found = self.cache.take(pending_key(keys[i - 1], step.stage, step.seed, step.instruction))
            if found is not None:
                start = i
                break
        bc = found
        todo = [seg for step in branch[start:] for seg in segments(step, session)]
        if bc is None:
            if branch or ctx.stage is not Stage.PLAN:
                ctx.progress(0.0, f"rebuilding the context from {len(todo)} stored texts and images")
            bc = self._fresh(ctx)
        elif todo:
            ctx.progress(0.0, f"rebuilding the context: {len(todo)} stored texts and images")
        # Only the last request before which no image follows needs its text-CFG snapshot.
        last_image = max((i for i, s in enumerate(todo) if s.kind == "image"), default=-1)
        last_request = max((i for i, s in enumerate(todo) if s.snapshot and i > last_image), default=-1)
        with self._autocast():
            for i, seg in enumerate(todo):
                ctx.check_cancelled()
                if seg.kind == "image":
                    self._add_image(bc, ctx.load_image(seg.step.image))
                    self.prefilled["images"] += 1
                else:
                    self._add_text(bc, seg.text, snapshot=i == last_request)
                    self.prefilled["texts"] += 1
        return bc, keys[-1]

    @contextmanager
    def _stage(self, ctx: StageContext, what: str) -> Iterator[tuple[BranchContext, str]]:
        """Take the branch's context for one stage. If the stage fails (cancelled, an error) before it
        changed the context, the context goes back to the cache; otherwise it is dropped and the next
        stage rebuilds it. Out of memory drops every kept context."""
        with self._run:
            bc, key, oom = None, "", []

            def drop_all() -> None:
                oom.append(True)
                self.cache.clear()

            try:
                with gpu_errors(what, self.lower_memory, on_oom=drop_all):
                    bc, key = self._context(ctx)
                    yield bc, key
            except BaseException:
                if bc is not None and not bc.dirty and not oom:
                    self.cache.put(key, bc)
                raise

    # -- model calls ---------------------------------------------------------------------------

    def _gen_text(self, ctx: StageContext, bc: BranchContext, label: str) -> tuple[str, int]:
        inf = self.inferencer()
        max_length = number(ctx.params, "max_think_tokens", 1024 if thinks(ctx.params) else 512, low=1, high=16384,
                            integer=True)
        temperature = number(ctx.params, "temperature", 0.0, low=0.0)
        count = [0]

        def hook(original):
            def wrapped(*args, **kwargs):
                count[0] += 1
                if count[0] % 16 == 0:
                    ctx.progress(min(0.95, count[0] / max_length), f"{label}: {count[0]} tokens")
                else:
                    ctx.check_cancelled()
                return original(*args, **kwargs)
            return wrapped

        language_model = getattr(getattr(inf, "model", None), "language_model", None)
        with _patched(language_model, "forward_inference", hook), self._autocast():
            manual_seed(ctx.seed)
            text = inf.gen_text(bc.gen, max_length=max_length, do_sample=temperature > 0,
                                temperature=temperature if temperature > 0 else 1.0)
        ctx.check_cancelled()
        return text, count[0]

    def _image_settings(self, ctx: StageContext, refine: bool) -> dict[str, Any]:
        p = ctx.params
        interval = p.get("cfg_interval", 0.0 if refine else 0.4)
        if isinstance(interval, (list, tuple)):
            if len(interval) != 2:
                raise StudioError("cfg_interval is a start, or a [start, end] pair between 0 and 1.")
            start, end = (float(v) for v in interval)
        else:
            start, end = float(interval), 1.0
        if not 0.0 <= start <= end <= 1.0:
            raise StudioError("cfg_interval must lie between 0 and 1, start before end.")
        renorm = str(p.get("cfg_renorm_type", "text_channel" if refine else "global"))
        if renorm not in ("global", "channel", "text_channel"):
            raise StudioError("cfg_renorm_type must be global, channel or text_channel.")
        return dict(
            cfg_text_scale=number(p, "cfg_text_scale", 4.0, low=0.0, high=50.0),
            cfg_img_scale=number(p, "cfg_img_scale", 2.0 if refine else 1.5, low=0.0, high=50.0),
            cfg_interval=[start, end], cfg_renorm_min=number(p, "cfg_renorm_min", 0.0, low=0.0, high=1.0),
            cfg_renorm_type=renorm, num_timesteps=number(p, "num_timesteps", 50, low=2, high=1000, integer=True),
            timestep_shift=number(p, "timestep_shift", 3.0, low=0.01, high=100.0))

    def _shape(self, ctx: StageContext, base) -> tuple[int, int]:
        if base is not None:
            width, height = base.size
        else:
            width = height = number(ctx.params, "image_size", 1024, low=64, high=2048, integer=True)
        return max(16, height // 16 * 16), max(16, width // 16 * 16)

    def _gen_image(self, ctx: StageContext, bc: BranchContext, label: str, refine: bool, base=None):
        inf = self.inferencer()
        settings = self._image_settings(ctx, refine)
        shape = self._shape(ctx, base)
        total = max(1, settings["num_timesteps"] - 1)
        every = number(ctx.params, "preview_every", 10, low=0, integer=True)
        steps = [0]

        def hook(original):
            def wrapped(*args, **kwargs):
                v_t = original(*args, **kwargs)
                steps[0] += 1
                preview = None
                if every and steps[0] % every == 0 and steps[0] < total:
                    preview = self._preview(inf, kwargs, v_t, shape)
                ctx.progress(steps[0] / total, f"{label}: step {steps[0]}/{total}", preview)
                return v_t
            return wrapped

        with _patched(getattr(inf, "model", None), "_forward_flow", hook) as hooked, self._autocast():
            manual_seed(ctx.seed)
            image = inf.gen_image(shape, bc.gen, cfg_text_precontext=bc.cfg_text if bc.cfg_text is not None else bc.gen,
                                  cfg_img_precontext=bc.cfg_img, **settings)
        ctx.check_cancelled()
        used = steps[0] if hooked else total
        return image, used, {**settings, "image_shape": list(shape)}

    @staticmethod
    def _preview(inf, kwargs: dict[str, Any], v_t, shape):
        """The clean image the flow is heading for (x0 = x_t − t·v), decoded by BAGEL's own VAE."""
        try:
            x_t, t = kwargs["x_t"], kwargs["timestep"]
            x0 = x_t - t.reshape(-1)[0].to(x_t.dtype) * v_t.to(x_t.dtype)
            return thumbnail(inf.decode_image(x0, shape))
        except Exception:
            return None

    def _stash(self, key: str, bc: BranchContext) -> None:
        self.cache.put(key, bc)

    def _result_step(self, ctx: StageContext, stage: Stage, **fields: Any) -> Step:
        return Step(id="", session_id=ctx.session.id, parent_id=None, stage=stage, round=ctx.round, **fields)

    # -- the stages ----------------------------------------------------------------------------

    def plan(self, ctx: StageContext) -> PlanResult:
        with self._stage(ctx, "planning with BAGEL") as (bc, key):
            with self._autocast():
                self._add_text(bc, requests(ctx.session, ctx.round)[Stage.PLAN], snapshot=True)
            raw, tokens = self._gen_text(ctx, bc, "planning")
            result = prompts.plan_result(raw, ctx, tokens=tokens, think=prompts.tag(raw, "think") or "")
            # The context takes the canonical plan (what the store keeps), so a rebuild gives the same context.
            with self._autocast():
                self._add_text(bc, plan_text(result.instruction, result.description, result.complete))
            self._stash(step_key(key, self._result_step(ctx, Stage.PLAN, instruction=result.instruction,
                                                         description=result.description, complete=result.complete),
                                 ctx.session), bc)
        ctx.progress(1.0, "planned")
        return result

    def sketch(self, ctx: StageContext) -> ImageResult:
        with self._stage(ctx, "sketching with BAGEL") as (bc, key):
            image, steps, settings = self._gen_image(ctx, bc, "sketching", refine=False)
            with self._autocast():
                self._add_image(bc, image)
            self._stash(pending_key(key, Stage.SKETCH, ctx.seed, None), bc)
        ctx.progress(1.0, "sketched", thumbnail(image))
        return ImageResult(image, meta=settings, sampling_steps=steps)

    def inspect(self, ctx: StageContext) -> InspectResult:
        with self._stage(ctx, "inspecting with BAGEL") as (bc, key):
            with self._autocast():
                self._add_text(bc, requests(ctx.session, ctx.round)[Stage.INSPECT])
            raw, tokens = self._gen_text(ctx, bc, "inspecting")
            result = prompts.inspect_result(raw, tokens=tokens, think=prompts.tag(raw, "think") or "")
            with self._autocast():
                self._add_text(bc, verdict_text(result.plan_check, result.sketch_check))
            self._stash(step_key(key, self._result_step(ctx, Stage.INSPECT, plan_check=result.plan_check,
                                                         sketch_check=result.sketch_check), ctx.session), bc)
        ctx.progress(1.0, "inspected")
        return result

    def refine(self, ctx: StageContext, instruction: str | None, region) -> RefineResult:
        if region is not None:
            raise StudioError("BAGEL edits the whole image; refine without a region.")
        base = ctx.current_image()
        meta: dict[str, Any] = {}
        with self._stage(ctx, "refining with BAGEL") as (bc, key):
            with self._autocast():
                self._add_text(bc, requests(ctx.session, ctx.round)[Stage.REFINE], snapshot=True)
            if not instruction:
                raw, tokens = self._gen_text(ctx, bc, "writing the correction")
                instruction, format_ok = prompts.refine_instruction(raw, ctx)
                meta.update(raw=raw[:2000], format_ok=format_ok, tokens=tokens)
            with self._autocast():
                self._add_text(bc, refine_text(instruction))
            image, steps, settings = self._gen_image(ctx, bc, "refining", refine=True, base=base)
            with self._autocast():
                self._add_image(bc, image)
            self._stash(pending_key(key, Stage.REFINE, ctx.seed, instruction), bc)
        meta.update(settings)
        ctx.progress(1.0, "refined", thumbnail(image))
        return RefineResult(instruction, image, meta=meta, sampling_steps=steps)
