"""Images out of tensors: a normalised image tensor as a PIL image, and a live preview of a
pipeline's intermediate latents (decoded through its VAE, or a quick channel view).

Like the whole package, it imports only the standard library at module level (BAGEL's worker
imports it in BAGEL's own environment); torch and the libraries are imported inside the functions.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .devices import free_memory, is_out_of_memory

if TYPE_CHECKING:  # pragma: no cover
    from PIL.Image import Image


PREVIEW_SIZE = 256  # longest side of a live preview, in pixels


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
