"""Image quality metrics: PSNR and SSIM (Wang et al. 2004), batched, for torch tensors or numpy arrays.

Images are channels-first ``(..., C, H, W)``; every leading axis is a batch axis and the result
has the leading shape (one value per image). Values are compared on ``data_range`` (1.0 for
float images in [0, 1], 255 for uint8). SSIM uses an 11x11 Gaussian window with sigma 1.5,
K1 = 0.01, K2 = 0.03, computed per channel over the "valid" region (no padding) and averaged,
as in the reference MATLAB code; this equals ``skimage.metrics.structural_similarity(...,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=...)``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

Array = torch.Tensor | np.ndarray


def _as_tensors(a: Array, b: Array) -> tuple[torch.Tensor, torch.Tensor, bool]:
    is_numpy = isinstance(a, np.ndarray)
    ta = torch.from_numpy(np.asarray(a)) if isinstance(a, np.ndarray) else a
    tb = torch.from_numpy(np.asarray(b)) if isinstance(b, np.ndarray) else b
    if ta.shape != tb.shape:
        raise ValueError(f"images must have the same shape, got {tuple(ta.shape)} and {tuple(tb.shape)}")
    if ta.ndim < 3:
        raise ValueError(f"images must be channels-first (..., C, H, W), got shape {tuple(ta.shape)}")
    dtype = torch.float64 if is_numpy or ta.dtype == torch.float64 else torch.float32
    return ta.to(dtype), tb.to(device=ta.device, dtype=dtype), is_numpy


def _out(t: torch.Tensor, is_numpy: bool) -> Array:
    return t.cpu().numpy() if is_numpy else t


def psnr(a: Array, b: Array, data_range: float = 1.0) -> Array:
    """Peak signal-to-noise ratio in dB per image, ``10 log10(range^2 / MSE)`` (inf where equal)."""
    ta, tb, is_numpy = _as_tensors(a, b)
    mse = (ta - tb).pow(2).flatten(-3).mean(-1)
    return _out(10 * torch.log10(data_range**2 / mse), is_numpy)


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Normalised 1D Gaussian of ``size`` taps (the 2D window is its outer product)."""
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(a: Array, b: Array, data_range: float = 1.0, win_size: int = 11, sigma: float = 1.5) -> Array:
    """Structural similarity per image (mean over channels and valid window positions)."""
    ta, tb, is_numpy = _as_tensors(a, b)
    lead, (c, h, w) = ta.shape[:-3], ta.shape[-3:]
    if h < win_size or w < win_size:
        raise ValueError(f"SSIM needs images of at least {win_size}x{win_size}, got {h}x{w}")
    x = ta.reshape(-1, 1, h, w)
    y = tb.reshape(-1, 1, h, w)
    g = gaussian_window(win_size, sigma, ta.dtype).to(ta.device)
    gx, gy = g.view(1, 1, 1, -1), g.view(1, 1, -1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:  # separable Gaussian, valid region only
        return F.conv2d(F.conv2d(t, gx), gy)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    per_channel = s.flatten(1).mean(1).reshape(*lead, c)
    return _out(per_channel.mean(-1), is_numpy)
