"""Device and dtype, seeds, and GPU memory: freeing it, turning running out of it into a
message naming the fix, measuring it, and holding a model once per process.

Like the whole package, it imports only the standard library at module level (BAGEL's worker
imports it in BAGEL's own environment); torch and the libraries are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import gc
import re
import threading
from typing import Any, Callable, Iterator

from ...core.domain import StudioError

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


def load_placement(device: str) -> dict[str, Any]:
    """The `from_pretrained` keyword arguments that load a model's weights straight onto `device`.

    A GPU (or MPS) device gets `device_map={"": device}`: transformers builds the model on the meta
    device and reads each tensor onto the device, so the host never holds the whole model (a 7B model
    in bf16 is ~15 GB) and there is no `.to(device)` copy afterwards. The CPU needs nothing: that is
    where the weights land anyway. transformers 5 always loads lazily (`low_cpu_mem_usage` is gone).
    """
    if device == "cpu":
        return {}
    return {"device_map": {"": device}}


def manual_seed(seed: int) -> None:
    import torch

    torch.manual_seed(int(seed))  # seeds the CPU and every CUDA device


def cpu_generator(seed: int):
    """A CPU generator: diffusers draws the noise on it and moves it, so a seed gives one image on any device."""
    import torch

    return torch.Generator("cpu").manual_seed(int(seed))


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


# -- models in memory -------------------------------------------------------------------------


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
