"""Scripted policies used for datasets and baselines: random actions and privileged experts.

A GT env that has an expert implements ``expert_action() -> np.ndarray``: an action in its
action space computed from the simulator's privileged state (object poses, goal). The
``ExpertPolicy`` here is the uniform way to call it.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np


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


def make_policy(name: str, env: gym.Env, seed: int | None = None) -> Policy:
    """``"random"`` or ``"expert"``; a clear error when the env has no expert."""
    if name == "random":
        return RandomPolicy(env.action_space, seed)
    if name == "expert":
        if not hasattr(env.unwrapped, "expert_action"):
            raise ValueError(
                f"env {env.spec.id if env.spec else type(env.unwrapped).__name__} has no scripted expert "
                "(no expert_action() method); use --policy random"
            )
        return ExpertPolicy()
    raise ValueError(f"unknown policy {name!r}; choose 'random' or 'expert'")
