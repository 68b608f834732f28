"""Building blocks shared by the student, the teacher and the signal model: pooling, heads, SMAM, CMAM."""
from __future__ import annotations

import math

import torch
from torch import nn

from vizecg.errors import ModelError

POOLS = ("sum", "attention")


class BeatPool(nn.Module):
    """Masked pooling over beat tokens (b, k, d) -> (b, d).

    'sum' is the patent's masked sum; 'attention' is a gated score + masked softmax. A row without any real
    beat pools to the zero vector (never NaN), and masked crops never influence the result.
    """

    def __init__(self, mode: str, dim: int):
        super().__init__()
        if mode not in POOLS:
            raise ModelError(f"unknown beat pooling {mode!r} (known: {', '.join(POOLS)})")
        self.mode = mode
        if mode == "attention":
            self.score = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, 1))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # masked_fill (not multiply) so that whatever sits in a masked slot cannot leak in, not even NaN
        tokens = tokens.masked_fill(~mask.unsqueeze(-1), 0.0)  # (b, k, d)
        if self.mode == "sum":
            return tokens.sum(dim=1)  # (b, d)
        scores = self.score(tokens).squeeze(-1)  # (b, k)
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        # all-masked rows: softmax is uniform over junk, the mask then zeroes it -> zero vector, no NaN
        weights = torch.softmax(scores, dim=1) * mask  # (b, k)
        return torch.einsum("bk,bkd->bd", weights, tokens)  # (b, d)


class FusionHead(nn.Module):
    """The patent's head: Linear -> BatchNorm1d -> ReLU -> Dropout -> Linear. Needs b >= 2 in training (BN)."""

    def __init__(self, in_dim: int, hidden: int, num_classes: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                 nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, in_dim) -> (b, num_classes)
        return self.net(x)


def _mlp(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))


class SelfAttentionBlock(nn.Module):
    """SMAM: pre-norm multi-head self-attention + MLP, both residual, within one modality's tokens."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _mlp(dim)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        """x (b, n, d); pad (b, n) True = ignore as key. Callers keep >= 1 key unmasked per row (else NaN)."""
        h = self.norm1(x)
        x = x + self.attn(h, h, h, key_padding_mask=pad, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))  # (b, n, d)


class CrossAttentionBlock(nn.Module):
    """CMAM, one direction: queries from one modality attend to the other's tokens (pre-norm, residual)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _mlp(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_pad: torch.Tensor | None = None) -> torch.Tensor:
        """x (b, n, d) queries, context (b, m, d) keys/values, context_pad (b, m) True = ignore."""
        kv = self.norm_kv(context)
        x = x + self.attn(self.norm_q(x), kv, kv, key_padding_mask=context_pad, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))  # (b, n, d)


def sincos_1d(n: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Fixed sinusoidal positions (n, dim): token order (beats by lead then time; signal time) without params."""
    pos = torch.arange(n, dtype=torch.float32, device=device).unsqueeze(1)  # (n, 1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    out = torch.zeros(n, dim, device=device)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return out


def sincos_2d(h: int, w: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """(h*w, dim): half the channels encode the row, half the column; any page size works."""
    half = dim // 2
    rows = sincos_1d(h, half, device).unsqueeze(1).expand(h, w, half)
    cols = sincos_1d(w, dim - half, device).unsqueeze(0).expand(h, w, dim - half)
    return torch.cat([rows, cols], dim=-1).reshape(h * w, dim)
