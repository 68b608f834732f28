"""A fixed Morlet continuous wavelet transform in torch: the one home of the scalogram.

The dataset may precompute `batch["scalogram"]` with this same function; the model computes it itself when the
key is absent, so forward() never needs numpy. The filter bank is applied in the frequency domain (one rfft,
one multiply, one ifft) rather than as a conv1d with explicit kernels: it is the same linear filter bank,
exact for the low frequencies whose time kernels would span seconds (hundreds of taps), and far cheaper.

vizecg/signal/scalogram.py is the numpy/pywt scalogram for plots and data work; rows follow the same order
(highest frequency first), but its real Morlet magnitude is not this analytic one: a precomputed
`batch["scalogram"]` must come from `morlet_scalogram` with the model's `signal_fs` and `scalogram_scales`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def morlet_frequencies(n_scales: int, fmin: float, fmax: float) -> torch.Tensor:
    """Centre frequencies in Hz, geometric, highest first (row 0), as vizecg.signal.scalogram: (n_scales,)."""
    return torch.exp(torch.linspace(math.log(fmax), math.log(fmin), n_scales))


def morlet_scalogram(signal: torch.Tensor, fs: float, n_scales: int = 32, fmin: float = 1.0, fmax: float = 40.0,
                     hop: int = 4, w0: float = 6.0) -> torch.Tensor:
    """|CWT| of each lead with an analytic Morlet wavelet: (b, c, t) mV -> (b, c, n_scales, t // hop).

    Each filter peaks at 2 in the frequency domain, so a sinusoid of amplitude A mV at a centre frequency gives
    |W| ~= A at that scale (scales are comparable). Zero-padding to 2t keeps the circular product from wrapping
    the end of the record onto its start. Time is average-pooled by `hop` to keep the 2-D CNN affordable.
    """
    b, c, t = signal.shape
    if fmax >= fs / 2:
        fmax = 0.45 * fs  # stay below Nyquist for low sampling rates
    nfft = 2 * t
    x = signal - signal.mean(dim=-1, keepdim=True)  # baseline offset would only light up the lowest scale
    spec = torch.fft.rfft(x.float(), n=nfft)  # (b, c, nf)
    omega = 2 * math.pi * torch.fft.rfftfreq(nfft, d=1.0 / fs).to(signal.device)  # (nf,) rad/s
    freqs = morlet_frequencies(n_scales, fmin, fmax).to(signal.device)  # (s,)
    scales = w0 / (2 * math.pi * freqs)  # (s,) seconds
    psi_hat = 2.0 * torch.exp(-0.5 * (scales[:, None] * omega[None, :] - w0) ** 2)  # (s, nf)
    filtered = spec[:, :, None, :] * psi_hat  # (b, c, s, nf)
    # analytic wavelet: negative frequencies are zero, so a full-length ifft of the one-sided product is exact
    full = torch.zeros(b, c, n_scales, nfft, dtype=filtered.dtype, device=signal.device)
    full[..., : filtered.shape[-1]] = filtered
    coeffs = torch.fft.ifft(full, dim=-1)[..., :t].abs()  # (b, c, s, t)
    if hop > 1:
        coeffs = F.avg_pool1d(coeffs.reshape(b * c * n_scales, 1, t), hop, hop).reshape(b, c, n_scales, -1)
    return coeffs.to(signal.dtype)  # (b, c, s, t // hop)
