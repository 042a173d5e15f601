"""Nano proprioception model: the robot's own state (e.g. its hand position) one step ahead, given the action.

A robot knows where its hand is from its joint encoders; a world model that only predicts pixels makes a
policy *read* its hand off blurry imagined frames, and the reading drifts as the gripper ghosts. World
models for control (Dreamer, DIAMOND's and IRIS's successors) predict the proprioception beside the
image. This is that part for our scenes: an MLP from the current state, its last change and the
current and previous actions to the next change, trained on the real episodes' true state
(``cosmos_sim/train/proprio.py``) and stepped by ``envs/perceived.py`` inside a world model::

    model = ProprioModel.from_pretrained("runs/loop/proprio/iter_00")
    p_next = model.step(p, p_prev, action, prev_action)   # (B, D) metres, (B, A) actions -> (B, D)

The mocap-driven hand follows its target with a lag, so one state alone does not fix the next one: the
last change and the previous action carry the lag. Where the state holds two bodies that push each other (the hand
and the block), ``relative`` pairs give the MLP their differences and distance directly: whether they touch is what
decides the next change, and the absolute positions alone leave the MLP to subtract them (session 27: the block 60
steps into an expert episode 2.49 -> 2.24 cm off, the task's verdict on the state 87.5 -> 93.8 % on validation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.pretrained import PretrainedModel


@dataclass(frozen=True)
class ProprioConfig:
    """Inputs, outputs and scales of a proprioception model."""

    names: tuple[str, ...]
    """The state entries it predicts, in order (names of the env's ``state_layout``, e.g. ee_x ee_y ee_z)."""
    action_dim: int
    """Action dimensions of the env."""
    mean: tuple[float, ...]
    """Per-entry mean of the training states (input normalisation)."""
    std: tuple[float, ...]
    """Per-entry standard deviation of the training states."""
    delta_std: tuple[float, ...]
    """Per-entry standard deviation of one step's change (the output scale)."""
    hidden: int = 128
    """Width of the two hidden layers."""
    relative: tuple[tuple[str, str], ...] = ()
    """Pairs (a, b) of entries whose difference b - a (over ``relative_scale``) the MLP also reads, and the norm of
    those differences: how far one body is from another (e.g. ("ee_x", "red_block_x"), ("ee_y", "red_block_y"))."""
    relative_scale: float = 0.05
    """Metres the differences are divided by."""

    def __post_init__(self):
        for name in ("names", "mean", "std", "delta_std"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        n = len(self.names)
        if not n or not n == len(self.mean) == len(self.std) == len(self.delta_std):
            raise ConfigError(
                f"need one mean, std and delta_std per name, got {n} names, {len(self.mean)} means, "
                f"{len(self.std)} stds and {len(self.delta_std)} delta_stds"
            )
        if min(self.std) <= 0 or min(self.delta_std) <= 0:
            raise ConfigError(f"std and delta_std must be > 0, got {self.std} and {self.delta_std}")
        if self.action_dim < 1 or self.hidden < 1:
            raise ConfigError(f"action_dim ({self.action_dim}) and hidden ({self.hidden}) must be >= 1")
        object.__setattr__(self, "relative", tuple(tuple(pair) for pair in self.relative))
        for pair in self.relative:
            if len(pair) != 2 or not set(pair) <= set(self.names):
                raise ConfigError(
                    f"relative pairs must be two of the names {self.names}, got {pair!r}; "
                    'e.g. relative=(("ee_x", "red_block_x"),)'
                )
        if self.relative_scale <= 0:
            raise ConfigError(f"relative_scale must be > 0 (metres), got {self.relative_scale}")


class ProprioModel(PretrainedModel):
    """(state, last change, action, previous action) -> next state (see the module docstring)."""

    checkpoint_kind, shipped_folder, label = "proprio", "proprio", "proprioception model"
    config_class = ProprioConfig

    def __init__(self, config: ProprioConfig):
        super().__init__()
        self.config = config
        d, a, h = len(config.names), config.action_dim, config.hidden
        n_rel = len(config.relative) + 1 if config.relative else 0  # the differences and their norm
        self.mlp = nn.Sequential(
            nn.Linear(2 * d + 2 * a + n_rel, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, d)
        )
        index = {name: i for i, name in enumerate(config.names)}
        self._rel_a = [index[a] for a, _ in config.relative]
        self._rel_b = [index[b] for _, b in config.relative]
        for name in ("mean", "std", "delta_std"):
            self.register_buffer(
                name, torch.tensor(getattr(config, name), dtype=torch.float32), persistent=False
            )

    @property
    def names(self) -> tuple[str, ...]:
        return self.config.names

    def forward(self, p, p_prev, action, prev_action) -> torch.Tensor:
        """Tensors (B, D), (B, D), (B, A), (B, A) in metres and action units -> the normalised change (B, D)."""
        parts = [(p - self.mean) / self.std, (p - p_prev) / self.delta_std, action, prev_action]
        if self._rel_a:
            rel = (p[:, self._rel_b] - p[:, self._rel_a]) / self.config.relative_scale
            parts += [rel, rel.norm(dim=-1, keepdim=True)]
        return self.mlp(torch.cat(parts, -1))

    @torch.no_grad()
    def step(self, p, p_prev, action, prev_action) -> np.ndarray:
        """Arrays (B, D), (B, D), (B, A), (B, A) -> the next state (B, D) float32 in metres."""
        t = [
            torch.as_tensor(np.array(v, dtype=np.float32), device=self.mean.device)
            for v in (p, p_prev, action, prev_action)
        ]
        widths = (len(self.names),) * 2 + (self.config.action_dim,) * 2
        for v, width, what in zip(t, widths, ("p", "p_prev", "action", "prev_action"), strict=True):
            if v.ndim != 2 or v.shape[1] != width:
                raise ConfigError(f"{what} must be (B, {width}), got {tuple(v.shape)}")
        out = t[0] + self(*t) * self.delta_std
        return out.cpu().numpy().astype(np.float32)


__all__ = ["ProprioConfig", "ProprioModel"]
