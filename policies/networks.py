"""Actor-critic networks for PPO and behaviour cloning, and the policy checkpoint directory.

One ``ActorCritic`` serves both algorithms: a shared encoder (a small strided CNN for HxWx3 uint8
pixels, an MLP for state vectors), a Gaussian policy head (state-independent log-std, no tanh:
samples are clipped to the action space when acting) and a value head. State observations are
normalised by running statistics kept as buffers, so they travel with the weights.

A policy directory is a ``world_models.checkpoint`` directory of kind ``"policy"``: the network
config, the observation and action spaces it was made for, and free ``extra`` metadata (algorithm,
steps, command line). ``load_policy`` rebuilds the network; ``check_spaces`` compares it with an env.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.distributions import Normal

from cosmos_sim.world_models.checkpoint import load_checkpoint, save_checkpoint

CHECKPOINT_KIND = "policy"


@dataclass(frozen=True)
class ActorCriticConfig:
    """Shape of an actor-critic network."""

    obs_shape: tuple[int, ...]
    """Observation shape: (H, W, 3) uint8 pixels or (D,) state."""
    action_dim: int
    """Number of continuous action dimensions."""
    channels: tuple[int, ...] = (16, 32, 32, 32)
    """CNN: output channels of the strided convolutions (each halves the image)."""
    hidden: int = 256
    """Width of the encoder's output (and of the MLP's hidden layers for state)."""
    init_log_std: float = -0.5
    """Initial log standard deviation of the Gaussian policy."""

    @property
    def pixels(self) -> bool:
        """True for image observations (H, W, C)."""
        return len(self.obs_shape) == 3


def _layer(m: nn.Module, gain: float = float(np.sqrt(2))) -> nn.Module:
    """Orthogonal init, zero bias (CleanRL's ``layer_init``)."""
    nn.init.orthogonal_(m.weight, gain)
    nn.init.zeros_(m.bias)
    return m


class ActorCritic(nn.Module):
    """Shared encoder, Gaussian actor and value head (see the module docstring)."""

    def __init__(self, config: ActorCriticConfig):
        super().__init__()
        self.config = config
        c = config
        if c.pixels:
            h, w, ch = c.obs_shape
            layers: list[nn.Module] = []
            for out in c.channels:
                layers += [_layer(nn.Conv2d(ch, out, 4 if min(h, w) >= 8 else 3, stride=2, padding=1)), nn.ReLU()]
                ch, h, w = out, (h + 1) // 2, (w + 1) // 2
            with torch.no_grad():
                n = nn.Sequential(*layers)(torch.zeros(1, c.obs_shape[2], *c.obs_shape[:2])).numel()
            self.encoder = nn.Sequential(*layers, nn.Flatten(), _layer(nn.Linear(n, c.hidden)), nn.ReLU())
        else:
            d = int(np.prod(c.obs_shape))
            self.encoder = nn.Sequential(_layer(nn.Linear(d, c.hidden)), nn.Tanh(),
                                         _layer(nn.Linear(c.hidden, c.hidden)), nn.Tanh())
        self.actor_mean = _layer(nn.Linear(c.hidden, c.action_dim), gain=0.01)
        self.critic = _layer(nn.Linear(c.hidden, 1), gain=1.0)
        self.log_std = nn.Parameter(torch.full((c.action_dim,), float(c.init_log_std)))
        # Running observation statistics (state observations only; pixels are scaled to [0, 1]).
        self.register_buffer("obs_mean", torch.zeros(c.obs_shape if not c.pixels else (1,)))
        self.register_buffer("obs_var", torch.ones(c.obs_shape if not c.pixels else (1,)))
        self.register_buffer("obs_count", torch.tensor(1e-4))

    # ---- observations ----------------------------------------------------------------------------
    def preprocess(self, obs: torch.Tensor) -> torch.Tensor:
        """Raw observations (B, *obs_shape) -> network input (CHW floats in [0, 1], or normalised state)."""
        if self.config.pixels:
            return obs.permute(0, 3, 1, 2).float().div(255.0)
        x = (obs.float() - self.obs_mean) / torch.sqrt(self.obs_var + 1e-8)
        return x.clamp(-10, 10).flatten(1)

    @torch.no_grad()
    def update_obs_stats(self, obs: torch.Tensor) -> None:
        """Fold a batch of state observations into the running mean/variance (no-op for pixels)."""
        if self.config.pixels:
            return
        x = obs.float().reshape(-1, *self.config.obs_shape)
        b_mean, b_var, b_n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta, total = b_mean - self.obs_mean, self.obs_count + b_n
        m2 = self.obs_var * self.obs_count + b_var * b_n + delta.pow(2) * self.obs_count * b_n / total
        self.obs_mean += delta * b_n / total
        self.obs_var.copy_(m2 / total)
        self.obs_count.fill_(float(total))

    # ---- heads -----------------------------------------------------------------------------------
    def forward(self, obs: torch.Tensor) -> tuple[Normal, torch.Tensor]:
        """The action distribution and the value (B,) of raw observations."""
        z = self.encoder(self.preprocess(obs))
        mean = self.actor_mean(z)
        return Normal(mean, self.log_std.exp().expand_as(mean)), self.critic(z).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(self.encoder(self.preprocess(obs))).squeeze(-1)

    @torch.no_grad()
    def act(self, obs: np.ndarray, action_space: spaces.Box, deterministic: bool = True,
            generator: torch.Generator | None = None) -> np.ndarray:
        """Actions (B, A) for a batch of raw observations, clipped to ``action_space``."""
        x = torch.as_tensor(np.asarray(obs), device=self.log_std.device)
        dist, _ = self(x)
        a = dist.mean if deterministic else dist.mean + dist.stddev * torch.randn(
            dist.mean.shape, generator=generator, device=dist.mean.device)
        return np.clip(a.cpu().numpy(), action_space.low, action_space.high).astype(action_space.dtype)


# ---- spaces <-> JSON ------------------------------------------------------------------------------
def space_to_json(space: spaces.Space) -> dict[str, Any]:
    """A Box as JSON (bounds as one number when uniform); other spaces are not supported."""
    if not isinstance(space, spaces.Box):
        raise ValueError(f"policies support Box observation/action spaces only, got {space}")

    def bound(b: np.ndarray) -> Any:
        flat = np.asarray(b, dtype=np.float64).ravel()
        return float(flat[0]) if np.all(flat == flat[0]) else flat.tolist()

    return {"shape": list(space.shape), "dtype": str(space.dtype), "low": bound(space.low), "high": bound(space.high)}


def space_from_json(d: dict[str, Any]) -> spaces.Box:
    shape = tuple(d["shape"])
    low = np.broadcast_to(np.asarray(d["low"], dtype=np.float64), shape) if shape else d["low"]
    high = np.broadcast_to(np.asarray(d["high"], dtype=np.float64), shape) if shape else d["high"]
    dtype = np.dtype(d["dtype"])
    return spaces.Box(low.astype(dtype), high.astype(dtype), shape=shape, dtype=dtype)


def make_network(obs_space: spaces.Space, action_space: spaces.Space, **overrides: Any) -> ActorCritic:
    """An ``ActorCritic`` for these spaces (``overrides``: other ``ActorCriticConfig`` fields)."""
    if not isinstance(obs_space, spaces.Box) or not isinstance(action_space, spaces.Box):
        raise ValueError(f"PPO/BC need Box spaces; got observation {obs_space} and action {action_space} "
                         "(for a Dict observation pick one key, e.g. obs_mode='pixels' or 'state')")
    if len(obs_space.shape) == 3 and (obs_space.dtype != np.uint8 or obs_space.shape[-1] not in (1, 3, 4)):
        raise ValueError(f"image observations must be uint8 HxWxC, got {obs_space}")
    if len(obs_space.shape) not in (1, 3) or len(action_space.shape) != 1:
        raise ValueError(f"need a (D,) state or (H, W, C) image observation and a (A,) action, got {obs_space} "
                         f"and {action_space}")
    cfg = ActorCriticConfig(obs_shape=tuple(obs_space.shape), action_dim=int(action_space.shape[0]), **overrides)
    return ActorCritic(cfg)


@dataclass
class PolicyCheckpoint:
    """A loaded policy directory."""

    net: ActorCritic
    """The network (eval mode)."""
    observation_space: spaces.Box
    """The observation space the policy was trained on."""
    action_space: spaces.Box
    """The action space the policy acts in."""
    extra: dict[str, Any]
    """Metadata: algorithm, env id, steps, command line, ..."""


def save_policy(directory: str | os.PathLike, net: ActorCritic, observation_space: spaces.Space,
                action_space: spaces.Space, extra: dict[str, Any] | None = None) -> Path:
    """Write a policy directory (config.json + model.safetensors, kind "policy")."""
    cfg = dataclasses.asdict(net.config)
    config = {"network": cfg, "observation_space": space_to_json(observation_space),
              "action_space": space_to_json(action_space)}
    return save_checkpoint(directory, CHECKPOINT_KIND, config, net.state_dict(), extra=extra)


def load_policy(directory: str | os.PathLike, device: str | torch.device = "cpu") -> PolicyCheckpoint:
    """Read a policy directory written by ``save_policy`` (a CheckpointError names a bad file)."""
    config, state, extra = load_checkpoint(directory, CHECKPOINT_KIND, map_location="cpu")
    net_cfg = dict(config["network"])
    net_cfg["obs_shape"], net_cfg["channels"] = tuple(net_cfg["obs_shape"]), tuple(net_cfg["channels"])
    net = ActorCritic(ActorCriticConfig(**net_cfg))
    net.load_state_dict(state)
    return PolicyCheckpoint(net.to(device).eval(), space_from_json(config["observation_space"]),
                            space_from_json(config["action_space"]), extra)


def check_spaces(policy: PolicyCheckpoint, observation_space: spaces.Space, action_space: spaces.Space,
                 what: str = "the env") -> None:
    """A ValueError naming both spaces when the policy's observation or action space differs from the env's."""
    for name, mine, theirs in (("observation", policy.observation_space, observation_space),
                               ("action", policy.action_space, action_space)):
        if not isinstance(theirs, spaces.Box) or mine.shape != theirs.shape or mine.dtype != theirs.dtype or not (
                np.allclose(mine.low, theirs.low) and np.allclose(mine.high, theirs.high)):
            raise ValueError(f"the policy's {name} space {mine} does not match {what}'s {name} space {theirs}; "
                             f"use a policy trained on this env (or an env made with the policy's settings)")


__all__ = ["ActorCritic", "ActorCriticConfig", "PolicyCheckpoint", "check_spaces", "load_policy", "make_network",
           "save_policy", "space_from_json", "space_to_json"]
