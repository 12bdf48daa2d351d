"""TEST-ONLY stand-in for flash-attn's `flash_attn_varlen_func`, over torch's scaled_dot_product_attention.

Stands in for: flash-attn 2.x (Dao-AILab/flash-attention), which BAGEL imports at module level in
modeling/bagel/qwen2_navit.py and siglip_navit.py but which needs CUDA and a compiler, so it cannot be
installed on the CPU machines that run the tests. It implements the one function BAGEL calls, with
flash-attn's semantics: q/k/v packed as (total_tokens, heads, head_dim), sequences delimited by
cu_seqlens, grouped-query attention (fewer k/v heads than q heads), and a causal mask aligned to the
bottom right when a query segment is shorter than its keys (flash-attn >= 2.1). Slow (one SDPA per
segment) and for tests only; the studio never imports it.
"""

import torch
import torch.nn.functional as F

__version__ = "0.0.0+studio-test-standin"


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
        out = F.scaled_dot_product_attention(qi, ki, vi, attn_mask=mask, scale=softmax_scale)
        outs.append(out.transpose(0, 1))
    return torch.cat(outs, 0)
