"""Nano state estimator: RGB frames of a scene -> the task's state vector (positions in metres).

A policy that must act from pixels needs to know where its hand and its goal are. Learning that
through RL from pixels costs hundreds of thousands of env steps on this CPU; learning it by regression
costs a few minutes, because the GT scenes record the true state next to every frame (``obs_mode=
"pixels+state"``). The estimator is that regression: a small CNN (RGB + pixel coordinates, fixed
cameras) reading one 64x64 frame and returning the named state entries (e.g. ``ee_x, ee_y, ee_z,
goal_x, goal_y``), trained by ``cosmos_sim/train/state_estimator.py``. It reads world-model frames as
well as GT ones, which is what the world-model RL loop needs: the policy sees the same estimate in the
real env and inside the model (``envs/perceived.py``)::

    est = StateEstimator.from_pretrained("manip-state-nano")
    state = est.predict(frames)          # (T, H, W, 3) uint8 -> (T, len(est.names)) float32, metres
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.pretrained import PretrainedModel


@dataclass(frozen=True)
class StateEstimatorConfig:
    """Architecture and output scale of a state estimator."""

    names: tuple[str, ...]
    """The state entries it outputs, in order (names of the env's ``state_layout``)."""
    mean: tuple[float, ...]
    """Per-entry mean of the training targets (outputs are de-normalised with it)."""
    std: tuple[float, ...]
    """Per-entry standard deviation of the training targets."""
    size: int = 64
    """Square input size in pixels; other frame sizes are resized to it."""
    channels: tuple[int, ...] = (32, 64, 64, 128)
    """Conv widths, each level halving the resolution."""
    hidden: int = 256
    """Width of the MLP after the convolutions."""

    def __post_init__(self):
        for name in ("names", "mean", "std", "channels"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.names or not len(self.names) == len(self.mean) == len(self.std):
            raise ConfigError(
                f"need one mean and std per state name, got {len(self.names)} names, {len(self.mean)} means "
                f"and {len(self.std)} stds"
            )
        if min(self.std) <= 0:
            raise ConfigError(f"std must be > 0 for every entry, got {self.std}")
        if not self.channels or self.size % 2 ** len(self.channels):
            raise ConfigError(
                f"size {self.size} must be divisible by 2**{len(self.channels)} (one halving per level)"
            )


class StateEstimator(PretrainedModel):
    """RGB frame -> state vector (see the module docstring)."""

    checkpoint_kind, shipped_folder, label = "state-estimator", "estimators", "state estimator"
    config_class = StateEstimatorConfig

    def __init__(self, config: StateEstimatorConfig):
        super().__init__()
        self.config = config
        layers, cin = [], 5  # RGB + x, y pixel coordinates
        for c in config.channels:
            layers += [nn.Conv2d(cin, c, 4, 2, 1), nn.SiLU()]
            cin = c
        self.conv = nn.Sequential(*layers)
        cells = (config.size // 2 ** len(config.channels)) ** 2
        self.mlp = nn.Sequential(
            nn.Linear(cin * cells, config.hidden), nn.SiLU(), nn.Linear(config.hidden, len(config.names))
        )
        self.register_buffer("mean", torch.tensor(config.mean, dtype=torch.float32), persistent=False)
        self.register_buffer("std", torch.tensor(config.std, dtype=torch.float32), persistent=False)

    @property
    def names(self) -> tuple[str, ...]:
        return self.config.names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, size, size) in [0, 255] -> normalised state (B, D); ``* std + mean`` gives metres."""
        x = x.float() / 127.5 - 1.0
        b, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h, device=x.device).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=x.device).view(1, 1, 1, w).expand(b, 1, h, w)
        return self.mlp(self.conv(torch.cat([x, xs, ys], 1)).flatten(1))

    def frames_to_input(self, frames: np.ndarray) -> torch.Tensor:
        """(T, H, W, 3) uint8 -> (T, 3, size, size) float on this model's device."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ConfigError(
                f"frames must be (T, H, W, 3) or (H, W, 3) uint8 RGB, got shape {frames.shape}, {frames.dtype}"
            )
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.mean.device).permute(0, 3, 1, 2).float()
        s = self.config.size
        if tuple(x.shape[-2:]) != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", antialias=True, align_corners=False)
        return x

    @torch.no_grad()
    def predict(self, frames: np.ndarray, batch: int = 256) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB -> (T, D) float32 state in the env's units ((H, W, 3) -> (D,))."""
        frames = np.asarray(frames)
        single = frames.ndim == 3 and frames.shape[-1] == 3
        x = self.frames_to_input(frames[None] if single else frames)
        out = torch.cat([self(x[i : i + batch]) for i in range(0, len(x), batch)]) * self.std + self.mean
        out = out.cpu().numpy().astype(np.float32)
        return out[0] if single else out


__all__ = ["StateEstimator", "StateEstimatorConfig"]
