"""BAGEL's attention without flash-attn: `flash_attn_varlen_func` over PyTorch's SDPA, behind the same call.

BAGEL imports `from flash_attn import flash_attn_varlen_func` at module level (modeling/bagel/
qwen2_navit.py and siglip_navit.py). flash-attn 2.5.8, BAGEL's pin, is a source package that compiles
for about an hour against a matching nvcc, so BAGEL's environment may well lack it. When it is absent,
`install()` (called by the worker before it imports BAGEL's code) registers this module's function as
`flash_attn`, so BAGEL's unchanged code runs on PyTorch's scaled_dot_product_attention.

Semantics are flash-attn's (>= 2.1): q/k/v packed as (total_tokens, heads, head_dim), sequences
delimited by cu_seqlens, grouped-query attention (fewer k/v heads than q heads), and a causal mask
aligned to the bottom right when a query segment is shorter than its keys. What it costs: one SDPA
call per packed sequence (BAGEL packs one to three: the image and its CFG companions), and without
flash-attn's fused varlen kernel PyTorch picks its memory-efficient or math kernel, so the explicit
causal mask of a long prefill is materialised (heads x q x k booleans). Standard library and torch only:
it runs in BAGEL's environment.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types

SDPA = "sdpa"


def flash_attn_varlen_func(
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    max_seqlen_q=None,
    max_seqlen_k=None,
    dropout_p=0.0,
    softmax_scale=None,
    causal=False,
    **unused,
):
    import torch
    import torch.nn.functional as F

    outs = []
    for i in range(len(cu_seqlens_q) - 1):
        qs, qe = int(cu_seqlens_q[i]), int(cu_seqlens_q[i + 1])
        ks, ke = int(cu_seqlens_k[i]), int(cu_seqlens_k[i + 1])
        qi, ki, vi = q[qs:qe].transpose(0, 1), k[ks:ke].transpose(0, 1), v[ks:ke].transpose(0, 1)
        if (
            ki.shape[0] != qi.shape[0]
        ):  # grouped-query attention: each k/v head serves several q heads
            repeat = qi.shape[0] // ki.shape[0]
            ki, vi = ki.repeat_interleave(repeat, 0), vi.repeat_interleave(repeat, 0)
        mask = None
        if causal:
            lq, lk = qi.shape[1], ki.shape[1]
            mask = torch.ones(lq, lk, dtype=torch.bool, device=q.device).tril(diagonal=lk - lq)
        out = F.scaled_dot_product_attention(
            qi, ki, vi, attn_mask=mask, dropout_p=dropout_p, scale=softmax_scale
        )
        outs.append(out.transpose(0, 1))
    return torch.cat(outs, 0)


def install() -> str:
    """Which attention BAGEL will use: 'flash_attn <version>' when it imports, else 'sdpa' (this module,
    registered as `flash_attn` for BAGEL's import)."""
    current = sys.modules.get("flash_attn")
    if current is not None and getattr(current, "__studio_sdpa__", False):
        return SDPA
    try:
        real = importlib.import_module("flash_attn")
        return f"flash_attn {getattr(real, '__version__', '?')}"
    except ImportError:
        pass
    shim = types.ModuleType("flash_attn")
    # a spec, for transformers' find_spec probe; no distribution metadata, so transformers' own
    # flash-attention-2 path (is_flash_attn_2_available) stays off
    shim.__spec__ = importlib.machinery.ModuleSpec("flash_attn", None)
    shim.flash_attn_varlen_func = flash_attn_varlen_func  # type: ignore[attr-defined]
    shim.__version__ = "0+studio-sdpa"  # type: ignore[attr-defined]
    shim.__studio_sdpa__ = True  # type: ignore[attr-defined]
    sys.modules["flash_attn"] = shim
    return SDPA
