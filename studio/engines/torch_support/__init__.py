"""Shared by the GPU engines: settings, device and dtype, model folders, errors, progress and previews.

Importing this package costs nothing: torch, transformers, diffusers and huggingface_hub are imported
inside the functions that need them, so `studio engines` and the CLI's light commands never load them.
Every module here imports only the standard library (and `studio.core.domain`) at module level: BAGEL's
worker imports this package in BAGEL's own environment (see studio/engines/bagel/loader.py), where
the studio's other dependencies are not installed.

Every failure a person can fix becomes a `StudioError` whose message says how: a model folder that
is missing or incomplete (listing what is missing), a Hugging Face id that is not in the local cache
while offline, a GPU that ran out of memory (naming the engine's lower-memory mode).

The engines import everything from here; the modules are `settings` (an engine's settings, TOML),
`devices` (device, dtype, seeds, GPU memory and its errors), `model_files` (model folders and hub
ids), `previews` (tensors to images, latent previews) and `progress` (callbacks inside the
libraries' loops).
"""

from __future__ import annotations

from .devices import (
    ModelLock,
    cpu_generator,
    free_memory,
    gpu_errors,
    is_out_of_memory,
    load_error,
    load_placement,
    manual_seed,
    module_device,
    peak_gpu_memory,
    pick_device,
    pick_dtype,
    reset_peak_gpu_memory,
    tensor_bytes,
)
from .model_files import (
    missing_diffusers_files,
    missing_files,
    missing_transformers_files,
    missing_weights,
    resolve_model,
)
from .previews import (
    PREVIEW_SIZE,
    approx_latent_preview,
    diffusers_latent_preview,
    thumbnail,
    to_pil,
)
from .progress import StepCounter, diffusers_callback, text_progress
from .settings import hub_offline, number, read_toml, require_packages, setting

__all__ = [
    "PREVIEW_SIZE",
    "ModelLock",
    "StepCounter",
    "approx_latent_preview",
    "cpu_generator",
    "diffusers_callback",
    "diffusers_latent_preview",
    "free_memory",
    "gpu_errors",
    "hub_offline",
    "is_out_of_memory",
    "load_error",
    "load_placement",
    "manual_seed",
    "missing_diffusers_files",
    "missing_files",
    "missing_transformers_files",
    "missing_weights",
    "module_device",
    "number",
    "peak_gpu_memory",
    "pick_device",
    "pick_dtype",
    "read_toml",
    "require_packages",
    "reset_peak_gpu_memory",
    "resolve_model",
    "setting",
    "tensor_bytes",
    "text_progress",
    "thumbnail",
    "to_pil",
]
