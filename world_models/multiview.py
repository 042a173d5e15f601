"""Multi-view diffusion dynamics: ONE DiT shared by the six driving cameras (Cosmos multi-view, nano).

The next latent of every view is denoised jointly::

    per view v: [K context latents ; noisy next latent] on channels (DIAMOND concat, as the
                manipulation DiT)  -> patchify -> h*w tokens + view_embedding[v]
    all views' tokens in ONE sequence (6 x 64 = 384 tokens at 64x64, patch 1): full self-attention,
    so every camera sees every other one (the overlapping neighbours included)
    AdaLN-Zero from  MLP(Fourier(c_noise)) + MLP(action) [+ MLP(waypoints, present flag)]
    -> per-view output patches -> (B, V, C, h, w)

Why one sequence with a learned view embedding rather than Cosmos's views stacked on the time
axis: with the context on the channels there is no time axis left in the token sequence, and
a time-axis RoPE offset would impose a fake order and distance on cameras that sit on a ring
(front_left is as close to front as to rear_left). Stacking on time *is* one joint attention
over all views' tokens; here the view identity comes from a learned embedding instead of a
position, and the 3D RoPE keeps only the (h, w) positions within a view. At 384 tokens full
attention is cheap next to the MLPs.

Conditioning vector (``condition``): ``[action (A), waypoints (2W) / waypoint_scale, present]``.
The waypoints are the ego car's next ``W`` positions (x forward, y left, metres) in its current
frame; ``present`` = 0 with zero waypoints means "no trajectory given", which training shows a
fraction of the time so the trajectory stays optional at inference.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.dit import DiT, DiTConfig


@dataclass(frozen=True)
class MultiViewDiTConfig(DiTConfig):
    """The shared DiT's architecture plus the number of views and the trajectory conditioning."""

    action_dim: int = 2
    """Ego action size (steering, acceleration)."""
    views: int = 6
    """Cameras predicted jointly by the one backbone (a learned embedding each)."""
    waypoints: int = 0
    """Future ego waypoints (x, y in the current ego frame) the model can be conditioned on; 0 = none."""
    waypoint_scale: float = 10.0
    """Metres per unit of the waypoint input (keeps it near [-1, 1])."""

    def __post_init__(self):
        super().__post_init__()
        if self.context_mode != "concat":
            raise ConfigError(
                f"the multi-view DiT stacks its context on the channels; context_mode must be "
                f"'concat', got {self.context_mode!r}"
            )
        if self.views < 1 or self.waypoints < 0:
            raise ConfigError(
                f"need views >= 1 and waypoints >= 0, got views={self.views}, waypoints={self.waypoints}"
            )

    @property
    def cond_dim(self) -> int:
        """Size of the packed conditioning vector (``MultiViewDiT.condition``)."""
        return self.action_dim + (2 * self.waypoints + 1 if self.waypoints else 0)


class MultiViewDiT(DiT):
    """EDM denoiser of all views' next latents ``(B, V, C, h, w)``; the ``action`` argument of
    ``forward``/``loss``/``sample`` is the packed vector of ``condition``."""

    def __init__(self, config: MultiViewDiTConfig | None = None):
        cfg = config or MultiViewDiTConfig()
        super().__init__(cfg)
        self.view_emb = nn.Parameter(torch.randn(cfg.views, cfg.dim) * 0.02)
        self.traj_emb = None
        if cfg.waypoints:
            self.traj_emb = nn.Sequential(
                nn.Linear(2 * cfg.waypoints + 1, cfg.dim), nn.SiLU(), nn.Linear(cfg.dim, cfg.dim)
            )
            nn.init.zeros_(self.traj_emb[2].weight)  # starts neutral: the action alone drives it
            nn.init.zeros_(self.traj_emb[2].bias)
        # every view has the same (t, h, w) positions; the view embedding tells them apart
        self.rope_cos = self.rope_cos.repeat(cfg.views, 1)
        self.rope_sin = self.rope_sin.repeat(cfg.views, 1)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        cfg = self.config
        return (cfg.views, cfg.latent_channels, *cfg.latent_size)

    def condition(
        self, action: torch.Tensor, waypoints: torch.Tensor | None = None, drop: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Pack ``action`` (B, A) and optional ``waypoints`` (B, W, 2) metres into ``(B, cond_dim)``.

        ``drop`` (bool (B,)): rows shown without their waypoints (training dropout).
        """
        cfg = self.config
        action = action.float()
        if action.ndim != 2 or action.shape[1] != cfg.action_dim:
            raise ConfigError(f"action must be (B, {cfg.action_dim}), got {tuple(action.shape)}")
        if not cfg.waypoints:
            if waypoints is not None:
                raise ConfigError(
                    "this model was trained without waypoint conditioning (waypoints=0); pass none"
                )
            return action
        b = action.shape[0]
        if waypoints is None:
            traj = torch.zeros(b, 2 * cfg.waypoints + 1, device=action.device)
        else:
            w = torch.as_tensor(waypoints, dtype=torch.float32, device=action.device)
            if w.shape != (b, cfg.waypoints, 2):
                raise ConfigError(
                    f"waypoints must be (B, {cfg.waypoints}, 2) metres in the ego frame, got {tuple(w.shape)}"
                )
            traj = torch.cat(
                [w.flatten(1) / cfg.waypoint_scale, torch.ones(b, 1, device=action.device)], dim=1
            )
            if drop is not None:
                traj = traj * (~drop.to(action.device)).float().unsqueeze(1)
        return torch.cat([action, traj], dim=1)

    def raw(
        self, x_in: torch.Tensor, c_noise: torch.Tensor, context: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        """The network F: ``x_in`` (B, V, C, h, w), ``context`` (B, K, V, C, h, w) -> (B, V, C, h, w)."""
        cfg = self.config
        b, v = x_in.shape[:2]
        if v != cfg.views or context.shape[2] != cfg.views:
            raise ValueError(
                f"expected {cfg.views} views, got latents {tuple(x_in.shape)}, context {tuple(context.shape)}"
            )
        stacked = torch.cat([context.transpose(1, 2).flatten(2, 3), x_in], dim=2)  # (B, V, (K+1)C, h, w)
        tokens = self.patch_in(self.patchify(stacked))  # views play the patchifier's time axis
        n = tokens.shape[1] // v
        tokens = tokens + self.view_emb.repeat_interleave(n, dim=0)
        a = cfg.action_dim
        emb = self.noise_emb(c_noise) + self.action_emb(cond[:, :a])
        if self.traj_emb is not None:
            emb = emb + self.traj_emb(cond[:, a:])
        out = self.trunk(tokens, F.silu(emb), v * n)
        return self.unpatchify(out.reshape(b * v, n, -1)).unflatten(0, (b, v))


__all__ = ["MultiViewDiT", "MultiViewDiTConfig"]
