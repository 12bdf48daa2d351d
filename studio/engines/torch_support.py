"""Shared by the GPU engines: settings, device and dtype, model folders, errors, progress and previews.

Importing this module costs nothing: torch, transformers, diffusers and huggingface_hub are imported
inside the functions that need them, so `studio engines` and the CLI's light commands never load them.

Every failure a person can fix becomes a `StudioError` whose message says how: a model folder that
is missing or incomplete (listing what is missing), a Hugging Face id that is not in the local cache
while offline, a GPU that ran out of memory (naming the engine's lower-memory mode).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..domain import StudioError

if TYPE_CHECKING:  # pragma: no cover
    from PIL.Image import Image

    from .base import StageContext

PREVIEW_SIZE = 256  # longest side of a live preview, in pixels
_TRUE = {"1", "true", "yes", "on"}


# -- settings ---------------------------------------------------------------------------------


def require_packages(engine: str, *packages: str) -> None:
    """Refuse early, with the install line, when the GPU extra is not installed (nothing is imported)."""
    import importlib.util

    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise StudioError(
            f"The {engine} engine needs {', '.join(missing)}: install the torch build for your GPU, then "
            '`pip install -e ".[gpu]"` (see the README\'s "GPU engines" section).'
        )


def setting(explicit: Any, env_name: str, default: Any = None) -> Any:
    """An engine setting: the keyword argument if given, else the environment variable, else the default."""
    if explicit is not None:
        return explicit
    value = os.environ.get(env_name, "").strip()
    return value if value else default


def number(
    params: dict[str, Any],
    name: str,
    default: float,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
) -> Any:
    """A numeric sampling parameter from the session's engine_params, checked; a bad value names itself."""
    value = params.get(name, default)
    if value is None:
        value = default
    try:
        value = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise StudioError(f"The engine setting {name} must be a number, not {value!r}.") from None
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"between {low} and {high}"
            if low is not None and high is not None
            else (f"at least {low}" if low is not None else f"at most {high}")
        )
        raise StudioError(f"The engine setting {name} is {value}; it must be {bounds}.")
    return value


def hub_offline() -> bool:
    return any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


# -- device and dtype -------------------------------------------------------------------------


def pick_device(preference: str | None = None) -> str:
    """ "auto" → CUDA, else Apple's MPS, else the CPU; an explicit choice is checked against this torch build."""
    import torch

    pref = (preference or "auto").strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if pref == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if mps_ok else "cpu"
    if pref.startswith("cuda") and not torch.cuda.is_available():
        raise StudioError(
            f"device is set to {preference!r}, but this torch build ({torch.__version__}) sees no CUDA GPU. "
            'Install the CUDA build of torch (see the README\'s "GPU engines" section) or set the device to auto.'
        )
    if pref == "mps" and not mps_ok:
        raise StudioError(
            "device is set to 'mps', but MPS is not available here; set the device to auto."
        )
    if not (pref == "cpu" or pref == "mps" or re.fullmatch(r"cuda(:\d+)?", pref)):
        raise StudioError(f"Unknown device {preference!r}; use auto, cuda, cuda:N, mps or cpu.")
    return pref


_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


def pick_dtype(preference: str | None, device: str):
    """ "auto" → bfloat16 on CUDA (float16 where bf16 is unsupported), float16 on MPS, float32 on the CPU."""
    import torch

    pref = (preference or "auto").strip().lower()
    if pref == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float16 if device == "mps" else torch.float32
    if pref not in _DTYPES:
        raise StudioError(f"Unknown dtype {preference!r}; use auto, float32, float16 or bfloat16.")
    return getattr(torch, _DTYPES[pref])


def manual_seed(seed: int) -> None:
    import torch

    torch.manual_seed(int(seed))  # seeds the CPU and every CUDA device


def cpu_generator(seed: int):
    """A CPU generator: diffusers draws the noise on it and moves it, so a seed gives one image on any device."""
    import torch

    return torch.Generator("cpu").manual_seed(int(seed))


# -- model folders ----------------------------------------------------------------------------

_WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.gguf")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def missing_weights(folder: Path) -> list[str]:
    """Shards an index names but the folder lacks, or a note when there are no weights at all."""
    missing: list[str] = []
    indexes = sorted(folder.glob("*.index.json")) + sorted(folder.glob("*.index.*.json"))
    for index in indexes:
        try:
            weight_map = json.loads(index.read_text()).get("weight_map", {})
        except (OSError, ValueError):
            missing.append(f"{index.name} (unreadable)")
            continue
        missing += [
            shard for shard in sorted(set(weight_map.values())) if not (folder / shard).is_file()
        ]
    if not indexes and not any(
        p.is_file() for pattern in _WEIGHT_GLOBS for p in folder.glob(pattern)
    ):
        missing.append("the weights (*.safetensors or *.bin)")
    return missing


def missing_transformers_files(folder: Path) -> list[str]:
    return ([] if (folder / "config.json").is_file() else ["config.json"]) + missing_weights(folder)


def missing_diffusers_files(folder: Path) -> list[str]:
    """model_index.json, then every component it names: its folder, and weights for the models among them."""
    index = folder / "model_index.json"
    if not index.is_file():
        return ["model_index.json"]
    try:
        components = json.loads(index.read_text())
    except (OSError, ValueError):
        return ["model_index.json (unreadable)"]
    missing: list[str] = []
    for name, spec in components.items():
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or None in spec:
            continue
        sub = folder / name
        if not sub.is_dir() or not any(sub.iterdir()):
            missing.append(f"{name}/")
        elif (sub / "config.json").is_file() and not spec[1].lower().endswith(
            ("tokenizer", "tokenizerfast")
        ):
            missing += [f"{name}/{m}" for m in missing_weights(sub)]
    return missing


def missing_files(folder: Path, required: tuple[str | tuple[str, ...], ...]) -> list[str]:
    """Each entry of `required` is a file name, or a tuple of alternatives (any one will do)."""
    missing = []
    for need in required:
        options = (need,) if isinstance(need, str) else need
        if not any((folder / name).exists() for name in options):
            missing.append(" or ".join(options))
    return missing


_LAYOUTS: dict[str, Callable[[Path], list[str]]] = {
    "transformers": missing_transformers_files,
    "diffusers": missing_diffusers_files,
}


def _looks_local(ref: str) -> bool:
    return (
        ref.startswith(("/", ".", "~"))
        or "\\" in ref
        or re.match(r"^[A-Za-z]:", ref) is not None
        or not _HUB_ID.match(ref)
    )


def _cached_snapshot(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached (or only partly: the file check below reports what is missing)
        return None


def resolve_model(
    ref: str | None, *, what: str, setting_name: str, layout: str = "transformers"
) -> tuple[str, bool]:
    """(where to load from, whether it is local) for a folder or a Hugging Face id, checked before loading.

    A folder must exist and be complete for its `layout`; a hub id is looked up in the local cache
    (checked the same way); offline, an id that is not cached is an error naming the download command.
    Online, an uncached id is returned as is and downloaded by the library on first use.
    """
    if not ref:
        raise StudioError(
            f"No {what} is configured: set {setting_name} to a model folder or a Hugging Face id."
        )
    ref = str(ref)
    path = Path(ref).expanduser()
    if path.exists() or _looks_local(ref):
        if not path.is_dir():
            raise StudioError(
                f"The {what} folder {path} does not exist: download the model there or set "
                f"{setting_name} to the folder that holds it."
            )
        folder, repo = path, None
    else:
        folder, repo = _cached_snapshot(ref), ref
        if folder is None:
            if hub_offline():
                raise StudioError(
                    f"The {what} {ref!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set: "
                    f"download it first with `hf download {ref}` on a connected machine (or unset "
                    f"HF_HUB_OFFLINE), or set {setting_name} to a local folder."
                )
            return ref, False
    missing = _LAYOUTS[layout](folder)
    if missing:
        fix = f"`hf download {repo}`" if repo else f"`hf download <repo> --local-dir {folder}`"
        raise StudioError(
            f"The {what} at {folder} is incomplete; missing: {', '.join(missing)}. "
            f"Download it again with {fix}."
        )
    return str(folder), True


# -- errors -----------------------------------------------------------------------------------


def free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        mps = getattr(torch, "mps", None)
        if (
            mps is not None
            and getattr(torch.backends, "mps", None)
            and torch.backends.mps.is_available()
        ):
            mps.empty_cache()
    except Exception:  # pragma: no cover - freeing memory must never mask the real error
        pass


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


@contextlib.contextmanager
def gpu_errors(
    doing: str, lower_memory: str, on_oom: Callable[[], None] | None = None
) -> Iterator[None]:
    """Turn running out of GPU memory into a StudioError that names the lower-memory mode.

    Nothing of the stage is kept (the runner commits only what an engine returns), so the session
    stays as it was; `on_oom` lets an engine drop caches first.
    """
    try:
        yield
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        if on_oom is not None:
            on_oom()
        free_memory()
        raise StudioError(
            f"The GPU ran out of memory while {doing}. {lower_memory} "
            "The session is unchanged: run the stage again after changing that."
        ) from exc


def load_error(what: str, ref: str, exc: Exception) -> StudioError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StudioError(f"Could not load the {what} from {ref}: {first}")


# -- memory accounting ------------------------------------------------------------------------


def tensor_bytes(obj: Any, _seen: set[int] | None = None, _depth: int = 0) -> int:
    """Bytes held by the tensors inside `obj` (dicts, lists, tuples, plain objects), each storage once."""
    import torch

    seen = set() if _seen is None else _seen
    if _depth > 8 or id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        try:
            storage = obj.untyped_storage()
            key = storage.data_ptr()
            if key in seen:
                return 0
            seen.add(key)
            return int(storage.nbytes())
        except Exception:  # pragma: no cover - meta tensors and the like
            return int(obj.nelement() * obj.element_size())
    if isinstance(obj, dict):
        items = list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
    elif isinstance(obj, (str, bytes, int, float, bool, type(None))):
        return 0
    elif hasattr(obj, "__dict__"):
        items = list(vars(obj).values())
    else:
        items = [
            getattr(obj, name) for name in getattr(type(obj), "__slots__", ()) if hasattr(obj, name)
        ]
    return sum(tensor_bytes(item, seen, _depth + 1) for item in items)


# -- images -----------------------------------------------------------------------------------


def to_pil(
    pixels, channels_last: bool | None = None, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
) -> "Image":
    """One normalised image tensor (C,H,W or H,W,C; values as (x - mean) / std) → an RGB PIL image."""
    import numpy as np
    import torch
    from PIL import Image

    x = pixels.detach().float().cpu()
    if x.ndim == 4:
        x = x[0]
    if channels_last is None:
        channels_last = x.shape[-1] in (1, 3) and x.shape[0] not in (1, 3)
    if not channels_last:
        x = x.permute(1, 2, 0)
    x = (
        x * torch.tensor(std, dtype=x.dtype)[: x.shape[-1]]
        + torch.tensor(mean, dtype=x.dtype)[: x.shape[-1]]
    )
    x = torch.nan_to_num(x, nan=0.5).clamp(0, 1)
    array = (x.numpy() * 255).round().astype(np.uint8)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return Image.fromarray(array, "RGB")


def thumbnail(image: "Image", size: int = PREVIEW_SIZE) -> "Image":
    image = image.convert("RGB")
    if max(image.size) > size:
        image = image.copy()
        image.thumbnail((size, size))
    return image


def approx_latent_preview(latents) -> "Image":
    """A quick look at a latent: its first three channels (or a grey one), stretched to 0..255."""
    import torch

    x = latents.detach().float()
    while x.ndim > 3:
        x = x[0]
    if x.ndim == 2:
        x = x[None]
    if x.shape[0] >= 3:
        x = x[:3]
    else:
        x = x[:1].repeat(3, 1, 1)
    low = x.amin(dim=(1, 2), keepdim=True)
    high = x.amax(dim=(1, 2), keepdim=True)
    x = torch.nan_to_num((x - low) / (high - low + 1e-6))
    return to_pil(x * 2 - 1, channels_last=False)


@contextlib.contextmanager
def _preview_vae(pipe, vae) -> Iterator[tuple[Any, Any, Callable]]:
    """(device, dtype, decode) for decoding one preview as the pipeline's own final decode would, leaving the
    pipeline's placement as it found it.

    Two things the pipeline does that a preview must do too: an fp16 VAE whose config says `force_upcast`
    (SDXL's) is decoded in float32 — in fp16 it overflows and every preview would be NaN; and under
    `enable_model_cpu_offload()` the VAE's `decode` runs accelerate's hook, which offloads the previous
    model in the chain (the UNet/transformer: ~24 GB copied off and back for FLUX at every preview) and
    leaves the input on the CPU while the VAE moves to the GPU. So with model offload the VAE is moved to
    the execution device by hand and `_decode` (no hook) is called; under sequential offload (weights on
    the meta device, moved in per submodule by their own hooks) the input goes to the execution device
    and `decode` is called as is.
    """
    import torch

    params = next(vae.parameters())
    sequential = params.device.type == "meta"
    model_offload = getattr(vae, "_hf_hook", None) is not None and not sequential
    device = (
        getattr(pipe, "_execution_device", params.device)
        if (model_offload or sequential)
        else params.device
    )
    upcast = (
        vae.dtype == torch.float16
        and bool(getattr(vae.config, "force_upcast", False))
        and not sequential
    )
    moved_from = None
    if model_offload and params.device != torch.device(device):
        moved_from = params.device
        vae.to(device)
    if upcast:
        vae.to(dtype=torch.float32)
    decode = vae._decode if model_offload and hasattr(vae, "_decode") else vae.decode
    try:
        yield device, (torch.float32 if upcast else vae.dtype), decode
    finally:
        if upcast:
            vae.to(dtype=torch.float16)
        if moved_from is not None:
            vae.to(moved_from)


def diffusers_latent_preview(
    pipe, latents, height: int, width: int, decode: bool = True
) -> "Image":
    """Decode a pipeline's intermediate latents through its VAE (packed latents are unpacked first);
    any latent layout the VAE cannot take falls back to the quick channel view."""
    import torch

    x = latents
    try:
        if x.ndim == 3 and hasattr(pipe, "_unpack_latents"):
            x = pipe._unpack_latents(x, height, width, pipe.vae_scale_factor)
        vae = getattr(pipe, "vae", None)
        if decode and vae is not None and x.ndim in (4, 5):
            cfg = vae.config
            scale = getattr(cfg, "scaling_factor", None) or 1.0
            mean, std = getattr(cfg, "latents_mean", None), getattr(cfg, "latents_std", None)
            with torch.no_grad(), _preview_vae(pipe, vae) as (device, dtype, run_decode):
                x = x.to(device=device, dtype=dtype)
                if mean is not None and std is not None and len(mean) == x.shape[1]:
                    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
                    mean_t = torch.tensor(mean, device=x.device, dtype=x.dtype).view(shape)
                    std_t = torch.tensor(std, device=x.device, dtype=x.dtype).view(shape)
                    x = x * std_t / scale + mean_t
                else:
                    x = x / scale + (getattr(cfg, "shift_factor", None) or 0.0)
                image = run_decode(x[:1], return_dict=False)[0]
            if image.ndim == 5:
                image = image[:, :, 0]
            if torch.isfinite(image).all():
                return thumbnail(to_pil(image[0], channels_last=False))
    except Exception as exc:
        if is_out_of_memory(exc):
            free_memory()
    return thumbnail(approx_latent_preview(x if x.ndim >= 3 else latents))


# -- progress, previews and cancellation inside the libraries' loops -------------------------


class StepCounter:
    def __init__(self) -> None:
        self.steps = 0


def diffusers_callback(
    ctx: "StageContext",
    label: str,
    total: int,
    counter: StepCounter,
    *,
    height: int,
    width: int,
    preview_every: int = 5,
    decode: bool = True,
    start: float = 0.0,
    span: float = 1.0,
):
    """A `callback_on_step_end`: counts steps, reports progress with a decoded preview every few steps,
    and raises `Cancelled` (through ctx.progress) between steps when the person pressed Stop."""

    def callback(pipe, step: int, timestep, kwargs: dict) -> dict:
        counter.steps += 1
        preview = None
        latents = kwargs.get("latents")
        if (
            preview_every
            and latents is not None
            and (counter.steps % preview_every == 0 or counter.steps == 1)
        ):
            preview = diffusers_latent_preview(pipe, latents, height, width, decode)
        ctx.progress(
            start + span * min(1.0, counter.steps / max(total, 1)),
            f"{label}: step {counter.steps}/{total}",
            preview,
        )
        return kwargs

    return callback


_text_progress_class: list[type] = []


def text_progress(
    ctx: "StageContext",
    label: str,
    max_new_tokens: int,
    counter: StepCounter | None = None,
    *,
    every: int = 8,
    start: float = 0.0,
    span: float = 1.0,
):
    """A transformers StoppingCriteria that reports progress every few tokens and stops the
    generation (by raising `Cancelled`) when the person pressed Stop."""
    import torch
    from transformers import StoppingCriteria

    if not _text_progress_class:

        class _TextProgress(StoppingCriteria):
            def __init__(self, ctx, label, total, counter, every, start, span):
                self.ctx, self.label, self.total, self.counter = ctx, label, max(1, total), counter
                self.every, self.start, self.span = max(1, every), start, span

            def __call__(self, input_ids, scores, **kwargs):
                self.counter.steps += 1
                n = self.counter.steps
                if n % self.every == 0:
                    self.ctx.progress(
                        self.start + self.span * min(1.0, n / self.total),
                        f"{self.label}: {n} tokens",
                    )
                else:
                    self.ctx.check_cancelled()
                return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

        _text_progress_class.append(_TextProgress)
    return _text_progress_class[0](
        ctx, label, max_new_tokens, counter or StepCounter(), every, start, span
    )


class ModelLock:
    """Loads a model once per process, thread-safely, and serialises its use."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.value: Any = None

    def get(self, load: Callable[[], Any]) -> Any:
        with self.lock:
            if self.value is None:
                self.value = load()
            return self.value

    def clear(self) -> bool:
        """Forget the model; whether there was one (the caller frees memory once, afterwards)."""
        with self.lock:
            had, self.value = self.value is not None, None
        return had


def peak_gpu_memory() -> tuple[float, float]:
    """(peak allocated, peak reserved) GiB on the current CUDA device since the last reset; zeros without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return 0.0, 0.0
    return torch.cuda.max_memory_allocated() / 2**30, torch.cuda.max_memory_reserved() / 2**30


def reset_peak_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def module_device(module) -> str:
    try:
        return str(next(module.parameters()).device)
    except (StopIteration, AttributeError):
        return "cpu"


def read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise StudioError(
                "Reading a TOML config on Python 3.10 needs `pip install tomli` "
                "(it comes with the gpu extra)."
            ) from None
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise StudioError(f"The config file {path} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudioError(f"The config file {path} is not valid TOML: {exc}.") from None
