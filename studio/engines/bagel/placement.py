"""Where BAGEL's weights go: a device map sized in the dtype they will have, spilling to CPU before disk.

Why this is not accelerate's default call: BAGEL's model is built on the meta device in float32, so
`infer_auto_device_map(model, max_memory)` without a dtype sizes it at 4 bytes a parameter (≈55 GiB
for BAGEL-7B-MoT's ≈14.7 B parameters, whose bf16 checkpoint is ≈29 GB) and puts half of it on disk
for no reason. Here the map is computed with the dtype each parameter will have in the chosen mode
(bf16: 2 bytes; int8: 1 byte for the quantized linear weights, float32 for the rest, as
BnbQuantizationConfig(torch_dtype=float32) keeps them; nf4: half a byte for quantized linear
weights, bf16 for the rest), and each GPU's cap leaves room for the kept branch contexts
(STROKE_STUDIO_BAGEL_CACHE_GB, shared out over the GPUs, which hold the KV caches of their layers)
and for the activations of one generation. What does not fit goes to the CPU ("cpu" has a cap of
80 % of the memory available when loading) and only then to disk. accelerate keeps modules placed on
the CPU or disk unquantized in nf4 (it adds them to skip_modules), so spilling nf4 costs CPU memory at
bf16 size: the report says how much.

Hooks: BAGEL's inferencer builds its inputs (tokens, padded images, noise) on the CPU, so the model
needs accelerate's device-alignment hooks wherever it sits on a GPU. accelerate adds them only when
the map names more than one device (big_modeling.dispatch_model), and `load_and_quantize_model`
(utils/bnb.py, the nf4/int8 path) takes no `force_hooks`; so a quantized model that fits one GPU
would be moved there without hooks and fail "Expected all tensors to be on the same device" on
every stage. `finish_map` therefore writes the same-device modules as "cuda:N" beside the integer N
(two devices to accelerate, one to CUDA), as BAGEL's own app.py does. `finish_map` and `adds_hooks`
are pure functions of the placed map, so the decision is tested without a GPU.
"""

from __future__ import annotations

import re
from typing import Any

GiB = 2**30
ACTIVATION_RESERVE = (
    3 * GiB
)  # per GPU: one 1024² generation (3 CFG passes over ≈4 k latent tokens) and the VAE
GPU_SHARE = 0.9  # of each GPU's memory when no cap is given (the CUDA context and fragmentation take the rest)
CPU_SHARE = 0.8  # of the memory available when loading
NO_SPLIT = ["Bagel", "Qwen2MoTDecoderLayer", "SiglipEncoderLayer"]
# Modules that meet in one operation must share a device (BAGEL's app.py ties the same ones).
SAME_DEVICE = [
    "language_model.model.embed_tokens",
    "time_embedder",
    "latent_pos_embed",
    "vae2llm",
    "llm2vae",
    "connector",
    "vit_pos_embed",
]
# Kept in the compute dtype in nf4/int8 (passed to BnbQuantizationConfig.skip_modules): the output head
# is sized unquantized below, and accelerate's own guess (the model's last child) misses it in BAGEL.
UNQUANTIZED = ("lm_head",)
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(GiB|GB|MiB|MB)?\s*$", re.IGNORECASE)
UNITS = {"gib": GiB, "gb": 10**9, "mib": 2**20, "mb": 10**6, None: GiB}


def parse_size(text: str) -> int:
    """'40GiB', '40 GB', '40' (GiB) → bytes; anything else is a clear error."""
    match = SIZE.match(str(text))
    if not match:
        raise ValueError(f"STROKE_STUDIO_BAGEL_MAX_MEMORY is {text!r}; write a size such as 40GiB.")
    unit = match.group(2).lower() if match.group(2) else None
    return int(float(match.group(1)) * UNITS[unit])


def gpu_caps(
    totals: list[int], explicit: str | None, cache_bytes: int, reserve: int = ACTIVATION_RESERVE
) -> dict[int, int]:
    """Bytes of weights each GPU may take: its cap (explicit, else 90 %), less its share of the context
    cache, less the activation reserve."""
    caps: dict[int, int] = {}
    share = cache_bytes // max(1, len(totals))
    for index, total in enumerate(totals):
        cap = min(parse_size(explicit), total) if explicit else int(total * GPU_SHARE)
        caps[index] = max(0, cap - share - reserve)
    return caps


def mode_dtypes(model, mode: str):
    """(dtype, special_dtypes) as accelerate's size computation takes them for this mode."""
    import torch
    from torch import nn

    if mode == "bf16":
        return torch.bfloat16, {}
    from accelerate.utils import CustomDtype

    target = CustomDtype.INT4 if mode == "nf4" else torch.int8
    keep = torch.bfloat16 if mode == "nf4" else torch.float32
    quantized = set()
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] not in UNQUANTIZED:
            quantized.add(f"{name}.weight")
    return target, {name: keep for name, _ in model.named_parameters() if name not in quantized}


def weight_bytes(model, mode: str) -> int:
    """The bytes the model's parameters take in this mode (accelerate's own size arithmetic)."""
    from accelerate.utils import compute_module_sizes

    dtype, special = mode_dtypes(model, mode)
    return int(compute_module_sizes(model, dtype=dtype, special_dtypes=special)[""])


def device_map(
    model, mode: str, totals: list[int], explicit: str | None, cache_bytes: int, cpu_bytes: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """accelerate's device map for BAGEL in this mode, and a report of the arithmetic behind it."""
    from accelerate import infer_auto_device_map
    from accelerate.utils import compute_module_sizes

    dtype, special = mode_dtypes(model, mode)
    caps: dict[Any, int] = dict(gpu_caps(totals, explicit, cache_bytes))
    caps["cpu"] = int(cpu_bytes * CPU_SHARE)
    placed = infer_auto_device_map(
        model,
        max_memory=caps,
        no_split_module_classes=NO_SPLIT,
        dtype=dtype,
        special_dtypes=special,
    )
    present = {name for name, _ in model.named_modules()}
    placed = finish_map(placed, present)
    sizes = compute_module_sizes(model, dtype=dtype, special_dtypes=special)
    where: dict[str, int] = {}
    for name, device in placed.items():
        key = device_name(device)
        where[key] = where.get(key, 0) + int(sizes.get(name, 0))
    report = {
        "mode": mode,
        "weights_gib": round(sizes[""] / GiB, 2),
        "gpu_caps_gib": {f"cuda:{i}": round(c / GiB, 2) for i, c in caps.items() if i != "cpu"},
        "cache_gib": round(cache_bytes / GiB, 2),
        "reserve_gib_per_gpu": round(ACTIVATION_RESERVE / GiB, 2),
        "placed_gib": {k: round(v / GiB, 2) for k, v in sorted(where.items())},
    }
    return placed, report


def device_name(device: Any) -> str:
    """'cuda:N', 'cpu' or 'disk' for a device-map value (accelerate writes a GPU as N or 'cuda:N')."""
    if isinstance(device, int):
        return f"cuda:{device}"
    return str(device)


def adds_hooks(device_map: dict[str, Any]) -> bool:
    """Whether accelerate's dispatch_model adds its device-alignment hooks to this map without
    force_hooks: only for more than one distinct device value, or disk (big_modeling.py)."""
    devices = set(device_map.values())
    return len(devices) > 1 or "disk" in devices


def finish_map(placed: dict[str, Any], present: set[str]) -> dict[str, Any]:
    """The map to dispatch: the modules that meet in one operation (SAME_DEVICE) on the device of the
    first, written as "cuda:N" when that is GPU N, so that accelerate sees two devices and adds its
    hooks even when everything else is the integer N (a model that fits one GPU). A CPU-only map
    stays as it is: inputs and weights are already on one device."""
    out = dict(placed)
    first = out.get(SAME_DEVICE[0], out.get("", 0))
    if isinstance(first, int):
        first = f"cuda:{first}"
    for name in SAME_DEVICE:
        if name in present:
            out[name] = first
    return out


# What a 1024² decode of FLUX's autoencoder needs beside its weights, in bf16 (arithmetic: its last
# up-block holds a few 128-channel 1024² activations of 256 MiB each); float32 doubles it.
AUTOENCODER_WORK = 2 * GiB
MODE_COMPUTE = {"bf16": "bfloat16", "nf4": "bfloat16", "int8": "float32"}


def autoencoder_place(
    mode: str,
    device_map: dict[str, Any],
    free_bytes: dict[int, int],
    autoencoder_params: int,
    kept_bytes: int,
) -> tuple[str, str]:
    """(device, dtype) for BAGEL's autoencoder: the GPU that holds `vae2llm` (where its latents meet
    the model), in the mode's compute dtype, when its weights and one 1024² decode fit what that GPU
    has free after loading less `kept_bytes` (its share of the context cache and the activation
    reserve); else the CPU in float32, as BAGEL's app.py keeps it."""
    device = device_name(device_map.get("vae2llm", device_map.get("", "cpu")))
    if not device.startswith("cuda:"):
        return "cpu", "float32"
    dtype = MODE_COMPUTE.get(mode, "bfloat16")
    width = 2 if dtype == "bfloat16" else 4
    need = autoencoder_params * width + AUTOENCODER_WORK * width // 2
    if free_bytes.get(int(device.split(":")[1]), 0) - kept_bytes < need:
        return "cpu", "float32"
    return device, dtype


def spill_note(report: dict[str, Any]) -> str:
    """One line for the log when weights left the GPUs."""
    placed = report["placed_gib"]
    off = {k: v for k, v in placed.items() if k in ("cpu", "disk") and v > 0}
    if not off:
        return ""
    parts = ", ".join(f"{v} GiB on {k}" for k, v in off.items())
    return (
        f"BAGEL's {report['weights_gib']} GiB of {report['mode']} weights do not fit the GPUs' caps "
        f"({report['gpu_caps_gib']} after {report['cache_gib']} GiB of context cache and "
        f"{report['reserve_gib_per_gpu']} GiB per GPU for activations): {parts}; stages will be slower."
    )
