"""Finite scalar quantisation (FSQ, Mentzer et al. 2023), the discrete bottleneck of the DV tokenizer.

Each of ``len(levels)`` channels is squashed into a bounded range and rounded to one of
``levels[i]`` values (straight-through gradient). The per-channel integers form one token id in
mixed radix, so ``levels=(8, 8, 8, 5, 5, 5)`` gives a 64,000-entry implicit codebook with no
codebook to learn, no commitment loss and no dead codes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cosmos_sim.errors import ConfigError


class FSQ(nn.Module):
    """Quantise the channel axis (dim 1) of ``(B, C, ...)`` tensors to the FSQ grid.

    ``forward`` returns codes in [-1, 1] (same shape as the input); ``codes_to_indices`` and
    ``indices_to_codes`` convert between codes ``(B, C, ...)`` and token ids ``(B, ...)`` (int64).
    """

    def __init__(self, levels: Sequence[int], eps: float = 1e-3):
        super().__init__()
        levels = [int(v) for v in levels]
        if not levels or min(levels) < 2:
            raise ConfigError(f"FSQ levels must be a non-empty list of integers >= 2, got {levels}")
        lv = torch.tensor(levels, dtype=torch.float32)
        basis = torch.cumprod(torch.tensor([1] + levels[:-1], dtype=torch.int64), dim=0)
        self.levels = tuple(levels)
        self.eps = eps
        self.register_buffer("_levels", lv, persistent=False)
        self.register_buffer("_basis", basis, persistent=False)
        self.register_buffer("_half_width", torch.floor(lv / 2), persistent=False)

    @property
    def codebook_size(self) -> int:
        """Number of distinct tokens: the product of the levels."""
        n = 1
        for v in self.levels:
            n *= v
        return n

    @property
    def dim(self) -> int:
        """Channels per token."""
        return len(self.levels)

    def _shape(self, t: torch.Tensor, ndim: int) -> torch.Tensor:
        return t.view(1, -1, *([1] * (ndim - 2)))

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        """Squash ``z`` so that rounding yields exactly ``levels[i]`` integers per channel."""
        lv = self._shape(self._levels, z.ndim)
        half_l = (lv - 1) * (1 + self.eps) / 2
        offset = torch.where(lv % 2 == 0, 0.5, 0.0)  # even levels: the grid is not symmetric about 0
        shift = torch.atanh(offset / half_l)
        return torch.tanh(z + shift) * half_l - offset

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Quantised codes in [-1, 1], straight-through in the backward pass."""
        if z.ndim < 2 or z.shape[1] != self.dim:
            raise ConfigError(f"FSQ expects (B, {self.dim}, ...) input, got shape {tuple(z.shape)}")
        b = self.bound(z.float())
        q = b + (torch.round(b) - b).detach()
        return q / self._shape(self._half_width, z.ndim)

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B, ...)`` in [0, codebook_size) from codes ``(B, C, ...)``."""
        hw = self._shape(self._half_width, codes.ndim)
        digits = torch.round(codes.float() * hw + hw).long()
        return (digits * self._shape(self._basis, codes.ndim)).sum(dim=1)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, C, ...)`` from token ids ``(B, ...)``; refuses ids outside the codebook."""
        if indices.dtype.is_floating_point:
            raise ConfigError(f"token ids must be an integer tensor, got {indices.dtype}")
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= self.codebook_size):
            raise ConfigError(
                f"token ids must lie in [0, {self.codebook_size}), got range "
                f"[{int(indices.min())}, {int(indices.max())}]"
            )
        idx = indices.long().unsqueeze(1)
        shape = lambda t: t.view(1, -1, *([1] * (idx.ndim - 2)))  # noqa: E731
        digits = (idx // shape(self._basis)) % shape(self._levels.long())
        hw = shape(self._half_width)
        return (digits.float() - hw) / hw
