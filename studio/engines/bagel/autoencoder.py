"""BAGEL's autoencoder in the worker: on the GPU beside the model when it fits, and cheap live previews.

Placement (the decision is placement.autoencoder_place, a pure function): BAGEL's app.py keeps the
autoencoder on the CPU in float32, where one 512² decode of FLUX's autoencoder took 95 s on two
cores, and each sketch or refine decodes once and re-encodes once when the image joins the context.
`place` moves it to the GPU in the mode's dtype and wraps `encode`/`decode` so that BAGEL's CPU
inputs (the padded images, the flow's final latent) move to it and the decoded image comes back in
float32; BAGEL's code calls it unchanged.

Previews: a full decode per preview costs as much as the final image. `fit_projection` fits, once at
load, a linear map from the autoencoder's latent channels to RGB by encoding colour patches with the
loaded autoencoder itself (least squares over every latent pixel), the way ComfyUI previews FLUX
latents with a fixed latent→RGB matrix; `linear_preview` applies it: a matrix product at latent
resolution, upscaled to the preview size. Blurry by design (an 8× upscale of the latent grid) and
exact in colour layout, which is what a person watching the flow needs (bench/bagel_preview.py).
"""

from __future__ import annotations

from typing import Any

from ..torch_support import PREVIEW_SIZE

PATCH = 16  # pixels per colour patch in the fitting images (two latent pixels at downsample 8)


def place(vae, device: str, dtype_name: str):
    """The autoencoder on `device` in `dtype_name`, its encode/decode taking inputs from anywhere."""
    import torch

    dtype = getattr(torch, dtype_name)
    vae = vae.to(device=device, dtype=dtype).eval()
    if device == "cpu" and dtype == torch.float32:
        return vae
    encode, decode = vae.encode, vae.decode

    def moved_encode(x, *args, **kwargs):
        return encode(x.to(device=device, dtype=dtype), *args, **kwargs)

    def moved_decode(z, *args, **kwargs):
        return decode(z.to(device=device, dtype=dtype), *args, **kwargs).float()

    object.__setattr__(vae, "encode", moved_encode)
    object.__setattr__(vae, "decode", moved_decode)
    return vae


def fit_projection(vae, size: int = 128, images: int = 4, seed: int = 0) -> tuple[Any, Any]:
    """(weight [C, 3], bias [3]) in float32 on the CPU: RGB in [-1, 1] ≈ latent @ weight + bias, fitted
    on `images` random colour-patch images of size² encoded by this autoencoder."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    cells = size // PATCH
    colours = torch.rand(images, 3, cells, cells, generator=generator) * 2 - 1
    pixels = colours.repeat_interleave(PATCH, -1).repeat_interleave(PATCH, -2)
    param = next(vae.parameters())
    with torch.no_grad():
        latent = vae.encode(pixels.to(device=param.device, dtype=param.dtype)).float().cpu()
    target = torch.nn.functional.interpolate(pixels, size=latent.shape[-2:], mode="area")
    x = latent.permute(0, 2, 3, 1).reshape(-1, latent.shape[1])
    y = target.permute(0, 2, 3, 1).reshape(-1, 3)
    design = torch.cat([x, torch.ones(len(x), 1)], 1)
    solution = torch.linalg.lstsq(design, y).solution
    return solution[:-1].contiguous(), solution[-1].contiguous()


def linear_preview(latent, projection, size: int = PREVIEW_SIZE):
    """A latent [1, C, h, w] as an RGB preview of `size` pixels on its longest side (no decode)."""
    import torch
    from PIL import Image

    from ..torch_support import to_pil

    weight, bias = projection
    x = latent.detach().float().cpu()[0]
    rgb = torch.einsum("chw,cr->rhw", x, weight) + bias[:, None, None]
    image = to_pil(rgb.clamp(-1, 1), channels_last=False)
    h, w = rgb.shape[-2:]
    scale = size / max(h, w)
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)
