"""Reward and termination model: a small conv net on the next frame's latent and the action.

As in DIAMOND and IRIS the world model env returns real rewards: this head is trained on the GT
env's rewards and success flags (``is_success``, which also ends a GT episode) and reads the
latent the dynamics model predicted. Input: a latent ``(B, C, h, w)`` (normalised CV latents, or
the FSQ codes in [-1, 1] of DV token ids) and the action ``(B, A)`` that led to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.configs import FieldsMapping


@dataclass(frozen=True)
class RewardHeadConfig(FieldsMapping):
    """Architecture of the reward/termination model."""

    latent_channels: int = 16
    """Input channels (16 CV latent channels, 6 FSQ code channels for DV)."""
    latent_size: tuple[int, int] = (8, 8)
    """Latent height and width."""
    action_dim: int = 7
    """Action vector size."""
    channels: int = 64
    """Conv width."""
    hidden: int = 128
    """MLP width after pooling."""
    action_path: int = 0
    """Add an MLP of the first ``action_path`` action entries (the env's own actions, not a renderer's body
    positions after them) to the reward: what an action itself costs (Reacher's control penalty) is then learnt
    without the image. Without it the head fits the reward from thousands of image features and ignores the
    action: on held-out Reacher-v5 steps of a renderer of state a mean error of 0.33 against 0.05 with it (the
    reward's spread 0.45; reading the positions too: 0.37). ``train-wfm`` sets it for new models; 0 (older
    bundles): none."""

    def __post_init__(self):
        object.__setattr__(self, "latent_size", tuple(int(v) for v in self.latent_size))
        object.__setattr__(self, "action_path", int(self.action_path))  # older configs: a bool
        if not 0 <= self.action_path <= self.action_dim:
            raise ConfigError(
                f"action_path must be 0..action_dim ({self.action_dim}), got {self.action_path}"
            )


class RewardHead(nn.Module):
    """``(latent, action) -> (reward, success logit)``."""

    def __init__(self, config: RewardHeadConfig | None = None):
        super().__init__()
        cfg = config or RewardHeadConfig()
        self.config = cfg
        c = cfg.channels
        self.conv = nn.Sequential(
            nn.Conv2d(cfg.latent_channels, c, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.SiLU(),
        )
        cells = (cfg.latent_size[0] + 1) // 2 * ((cfg.latent_size[1] + 1) // 2)
        self.mlp = nn.Sequential(
            nn.Linear(c * cells + cfg.action_dim, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, 2)
        )
        self.action_mlp = (
            nn.Sequential(nn.Linear(cfg.action_path, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, 1))
            if cfg.action_path
            else None
        )

    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reward ``(B,)`` and the logit of ``is_success`` ``(B,)``."""
        h = self.conv(latent.float()).flatten(1)
        out = self.mlp(torch.cat([h, action.float()], dim=1))
        if self.action_mlp is None:
            return out[:, 0], out[:, 1]
        reward = out[:, 0] + self.action_mlp(action[:, : self.config.action_path].float())[:, 0]
        return reward, out[:, 1]

    def loss(
        self,
        latent: torch.Tensor,
        action: torch.Tensor,
        reward: torch.Tensor,
        success: torch.Tensor,
        success_weight: float = 1.0,
    ) -> torch.Tensor:
        """Smooth-L1 on the reward plus (class-balanced) binary cross-entropy on success."""
        r, logit = self(latent, action)
        pos = success.float().mean().clamp(0.01, 0.99)
        weight = torch.where(success.bool(), 0.5 / pos, 0.5 / (1 - pos))  # successes are rare
        bce = F.binary_cross_entropy_with_logits(logit, success.float(), weight=weight)
        return F.smooth_l1_loss(r, reward.float(), beta=0.05) + success_weight * bce


__all__ = ["RewardHead", "RewardHeadConfig"]
