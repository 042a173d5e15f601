"""Actor-critic networks for PPO and behaviour cloning, and the policy checkpoint directory.

One ``ActorCritic`` serves both algorithms: a shared encoder (a small strided CNN for HxWx3 uint8
pixels, an MLP for state vectors), a Gaussian policy head (state-independent log-std, no tanh:
samples are clipped to the action space when acting) and a value head. State observations are
normalised by running statistics kept as buffers, so they travel with the weights.

A policy directory is a checkpoint directory of kind ``"policy"`` (``ActorCritic.save_pretrained`` /
``from_pretrained``, from ``world_models/pretrained.py``): the network config, the observation and
action spaces it was made for, and free ``extra`` metadata (algorithm, steps, command line), in fp32.
``save_policy`` / ``load_policy`` are the same as functions; ``check_spaces`` compares a policy with an env.
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

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.pretrained import PretrainedModel

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


class ActorCritic(PretrainedModel):
    """Shared encoder, Gaussian actor and value head (see the module docstring).

    ``observation_space`` / ``action_space``: the spaces the policy acts in (``make_network`` sets them),
    stored with it by ``save_pretrained`` and checked against an env by ``check_spaces``.
    """

    checkpoint_kind, shipped_folder, label = CHECKPOINT_KIND, "policies", "policy"

    def __init__(
        self,
        config: ActorCriticConfig,
        observation_space: spaces.Box | None = None,
        action_space: spaces.Box | None = None,
    ):
        super().__init__()
        self.config = config
        self.observation_space, self.action_space = observation_space, action_space
        c = config
        if c.pixels:
            h, w, ch = c.obs_shape
            layers: list[nn.Module] = []
            for out in c.channels:
                layers += [
                    _layer(nn.Conv2d(ch, out, 4 if min(h, w) >= 8 else 3, stride=2, padding=1)),
                    nn.ReLU(),
                ]
                ch, h, w = out, (h + 1) // 2, (w + 1) // 2
            with torch.no_grad():
                n = nn.Sequential(*layers)(torch.zeros(1, c.obs_shape[2], *c.obs_shape[:2])).numel()
            self.encoder = nn.Sequential(*layers, nn.Flatten(), _layer(nn.Linear(n, c.hidden)), nn.ReLU())
        else:
            d = int(np.prod(c.obs_shape))
            self.encoder = nn.Sequential(
                _layer(nn.Linear(d, c.hidden)), nn.Tanh(), _layer(nn.Linear(c.hidden, c.hidden)), nn.Tanh()
            )
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
    def act(
        self,
        obs: np.ndarray,
        action_space: spaces.Box,
        deterministic: bool = True,
        generator: torch.Generator | None = None,
    ) -> np.ndarray:
        """Actions (B, A) for a batch of raw observations, clipped to ``action_space``."""
        # contiguous: frames straight from MuJoCo's render() come with negative strides, which torch refuses
        x = torch.as_tensor(np.ascontiguousarray(obs), device=self.log_std.device)
        dist, _ = self(x)
        a = (
            dist.mean
            if deterministic
            else dist.mean
            + dist.stddev * torch.randn(dist.mean.shape, generator=generator, device=dist.mean.device)
        )
        return np.clip(a.cpu().numpy(), action_space.low, action_space.high).astype(action_space.dtype)

    # ---- checkpoints (PretrainedModel) -----------------------------------------------------------
    def config_to_json(self) -> dict[str, Any]:
        if self.observation_space is None or self.action_space is None:
            raise ConfigError(
                "this ActorCritic does not know its observation and action spaces, which a policy "
                "directory stores: build it with make_network(obs_space, action_space) or use "
                "save_policy"
            )
        return {
            "network": dataclasses.asdict(self.config),
            "observation_space": space_to_json(self.observation_space),
            "action_space": space_to_json(self.action_space),
        }

    @classmethod
    def config_from_json(cls, data: dict[str, Any]) -> tuple[ActorCriticConfig, spaces.Box, spaces.Box]:
        def parts(network: dict, observation_space: dict, action_space: dict):  # an unknown key: a TypeError
            net = dict(network, obs_shape=tuple(network["obs_shape"]), channels=tuple(network["channels"]))
            return ActorCriticConfig(**net), space_from_json(observation_space), space_from_json(action_space)

        return parts(**data)

    @classmethod
    def from_config(
        cls, config: tuple[ActorCriticConfig, spaces.Box, spaces.Box], directory: Path
    ) -> ActorCritic:
        return cls(*config)

    def save_pretrained(
        self,
        directory: str | os.PathLike,
        dtype: torch.dtype | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Path:
        """Write the policy directory; fp32 by default (``dtype=None``): policies are small."""
        return super().save_pretrained(directory, dtype=dtype, extra=extra)


# ---- spaces <-> JSON ------------------------------------------------------------------------------
def space_to_json(space: spaces.Space) -> dict[str, Any]:
    """A Box as JSON (bounds as one number when uniform); other spaces are not supported."""
    if not isinstance(space, spaces.Box):
        raise ConfigError(f"policies support Box observation/action spaces only, got {space}")

    def bound(b: np.ndarray) -> Any:
        flat = np.asarray(b, dtype=np.float64).ravel()
        return float(flat[0]) if np.all(flat == flat[0]) else flat.tolist()

    return {
        "shape": list(space.shape),
        "dtype": str(space.dtype),
        "low": bound(space.low),
        "high": bound(space.high),
    }


def space_from_json(d: dict[str, Any]) -> spaces.Box:
    shape = tuple(d["shape"])
    low = np.broadcast_to(np.asarray(d["low"], dtype=np.float64), shape) if shape else d["low"]
    high = np.broadcast_to(np.asarray(d["high"], dtype=np.float64), shape) if shape else d["high"]
    dtype = np.dtype(d["dtype"])
    return spaces.Box(low.astype(dtype), high.astype(dtype), shape=shape, dtype=dtype)


def make_network(obs_space: spaces.Space, action_space: spaces.Space, **overrides: Any) -> ActorCritic:
    """An ``ActorCritic`` for these spaces (``overrides``: other ``ActorCriticConfig`` fields)."""
    if not isinstance(obs_space, spaces.Box) or not isinstance(action_space, spaces.Box):
        raise ConfigError(
            f"PPO/BC need Box spaces; got observation {obs_space} and action {action_space} "
            "(for a Dict observation pick one key, e.g. obs_mode='pixels' or 'state')"
        )
    if len(obs_space.shape) == 3 and (obs_space.dtype != np.uint8 or obs_space.shape[-1] not in (1, 3, 4)):
        raise ConfigError(f"image observations must be uint8 HxWxC, got {obs_space}")
    if len(obs_space.shape) not in (1, 3) or len(action_space.shape) != 1:
        raise ConfigError(
            f"need a (D,) state or (H, W, C) image observation and a (A,) action, got {obs_space} "
            f"and {action_space}"
        )
    cfg = ActorCriticConfig(
        obs_shape=tuple(obs_space.shape), action_dim=int(action_space.shape[0]), **overrides
    )
    return ActorCritic(cfg, obs_space, action_space)


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


def save_policy(
    directory: str | os.PathLike,
    net: ActorCritic,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a policy directory (config.json + model.safetensors, kind "policy") for these spaces; the same
    as setting ``net``'s spaces and calling ``net.save_pretrained``."""
    net.observation_space, net.action_space = observation_space, action_space
    return net.save_pretrained(directory, extra=extra)


def load_policy(directory: str | os.PathLike, device: str | torch.device = "cpu") -> PolicyCheckpoint:
    """Read a policy directory written by ``save_policy`` (a CheckpointError names a bad file)."""
    net = ActorCritic.from_pretrained(directory, device=device)
    return PolicyCheckpoint(net, net.observation_space, net.action_space, net.checkpoint_extra)


def check_spaces(
    policy: PolicyCheckpoint | ActorCritic,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    what: str = "the env",
) -> None:
    """A ConfigError naming both spaces when the policy's observation or action space differs from the env's."""
    for name, mine, theirs in (
        ("observation", policy.observation_space, observation_space),
        ("action", policy.action_space, action_space),
    ):
        if (
            not isinstance(theirs, spaces.Box)
            or mine.shape != theirs.shape
            or mine.dtype != theirs.dtype
            or not (np.allclose(mine.low, theirs.low) and np.allclose(mine.high, theirs.high))
        ):
            raise ConfigError(
                f"the policy's {name} space {mine} does not match {what}'s {name} space {theirs}; "
                f"use a policy trained on this env (or an env made with the policy's settings)"
            )


__all__ = [
    "ActorCritic",
    "ActorCriticConfig",
    "PolicyCheckpoint",
    "check_spaces",
    "load_policy",
    "make_network",
    "save_policy",
    "space_from_json",
    "space_to_json",
]
