"""Scaled dot-product attention for the Swin and VAR blocks, fast on the CPU.

torch's F.scaled_dot_product_attention is fastest only for unmasked inference. With the short
sequences of these models (16-64 tokens per Swin window, 130 in SCVAR-scenes64) its float-mask
path and the backward of its CPU flash kernel dominate a training step; written out, a bf16
training step runs 1.3x (SwinJSCC-tiny) and 1.4x (SCVAR-scenes64) faster. So this calls torch's
kernel when there is neither a mask nor a gradient to compute, and otherwise writes the
attention out, with the softmax in float32 at least (`benchmarks/attention_speed.py` times both).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None,
              scale: float | None = None) -> torch.Tensor:
    """softmax(q k^T * scale + bias) v for q [..., n, d], k and v [..., m, d], bias broadcastable
    to [..., n, m] (added logits, e.g. -inf or -100 to mask); scale defaults to d^-1/2.
    Returns [..., n, d] in v's dtype."""
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v))
    if bias is None and not needs_grad:
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q * scale) @ k.transpose(-2, -1)
    scores = scores.to(torch.promote_types(scores.dtype, torch.float32))   # bf16 -> float32
    if bias is not None:
        scores = scores + bias
    return scores.softmax(-1).to(v.dtype) @ v
