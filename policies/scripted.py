"""Policies that record datasets: random actions, privileged experts and trained policy directories.

A GT env that has an expert implements ``expert_action() -> np.ndarray``: an action in its
action space computed from the simulator's privileged state (object poses, goal). The
``ExpertPolicy`` here is the uniform way to call it.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from cosmos_sim.errors import ConfigError


class Policy(Protocol):
    """Anything that maps an observation (and the env, for privileged policies) to an action."""

    def __call__(self, obs: Any, env: gym.Env) -> np.ndarray: ...


class RandomPolicy:
    """Uniform samples from the env's action space, seeded for reproducible datasets."""

    def __init__(self, action_space: gym.Space, seed: int | None = None):
        self.action_space = action_space
        self.action_space.seed(seed)

    def __call__(self, obs: Any, env: gym.Env) -> np.ndarray:
        return self.action_space.sample()


class ExpertPolicy:
    """The env's own scripted expert (``env.unwrapped.expert_action()``)."""

    def __call__(self, obs: Any, env: gym.Env) -> np.ndarray:
        return env.unwrapped.expert_action()


class NoisyExpertPolicy:
    """The expert with per-episode Gaussian action noise and bursts of random actions: world-model training
    data that covers recoveries from mistakes, not only the expert's narrow path.

    Built once per episode from its seed: the noise std is U(0, ``max_noise``) and, at each step, a burst of
    3-9 uniform random actions starts with probability U(0, ``max_random``) / 5. Actions are clipped to
    [-1, 1]; the env is untouched.
    """

    def __init__(
        self,
        action_space: gym.Space,
        seed: int | None = None,
        max_noise: float = 0.6,
        max_random: float = 0.3,
    ):
        self.rng = np.random.default_rng(seed)
        self.dim = action_space.shape[0]
        self.noise, self.p_burst = self.rng.uniform(0, max_noise), self.rng.uniform(0, max_random) / 5
        self.burst = 0

    def __call__(self, obs: Any, env: gym.Env) -> np.ndarray:
        if self.burst == 0 and self.rng.random() < self.p_burst:
            self.burst = int(self.rng.integers(3, 10))
        if self.burst > 0:
            a, self.burst = self.rng.uniform(-1, 1, self.dim), self.burst - 1
        else:
            a = env.unwrapped.expert_action() + self.rng.normal(0, self.noise, self.dim)
        return np.clip(a, -1, 1).astype(np.float32)


class LearnedPolicy:
    """A trained policy directory (``train-policy``, ``train-loop``): samples of its Gaussian, seeded per
    episode (exploration: how the world-model loop collects real data), or its mean (``deterministic``)."""

    def __init__(self, directory: str, action_space: gym.Space, seed: int | None = None, deterministic=False):
        import torch

        from cosmos_sim.policies.networks import load_policy

        self.net = load_policy(directory, "cpu").net
        self.action_space, self.deterministic = action_space, bool(deterministic)
        self.generator = torch.Generator().manual_seed(int(seed or 0))

    def __call__(self, obs: Any, env: gym.Env) -> np.ndarray:
        a = self.net.act(np.asarray(obs)[None], self.action_space, self.deterministic, self.generator)
        return a[0].astype(self.action_space.dtype)


POLICIES = ("random", "expert", "noisy-expert")
"""The named policies; a policy directory (``train-policy``'s output) is the other choice."""


def make_policy(name: str, env: gym.Env, seed: int | None = None, **options) -> Policy:
    """``"random"``, ``"expert"``, ``"noisy-expert"`` (one per episode: ``seed`` draws its noise; ``options``:
    its ``max_noise`` and ``max_random``) or the path of a policy directory (``options``: ``deterministic``);
    a clear error when the env has no expert."""
    from pathlib import Path

    if Path(name).is_dir():
        return LearnedPolicy(name, env.action_space, seed, **options)
    if options and name != "noisy-expert":
        raise ConfigError(f"policy {name!r} takes no options, got {sorted(options)}")
    if name == "random":
        return RandomPolicy(env.action_space, seed)
    if name in ("expert", "noisy-expert"):
        if not hasattr(env.unwrapped, "expert_action"):
            raise ConfigError(
                f"env {env.spec.id if env.spec else type(env.unwrapped).__name__} has no scripted expert "
                f"(no expert_action() method), so --policy {name} cannot run on it; use --policy random"
            )
        return ExpertPolicy() if name == "expert" else NoisyExpertPolicy(env.action_space, seed, **options)
    raise ConfigError(f"unknown policy {name!r}; choose one of {', '.join(POLICIES)} or a policy directory")
