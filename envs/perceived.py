"""``cosmos_sim/Perceived-v0``: an image env observed through a state estimator (pixels -> positions).

The policy of the world-model RL loop acts from pixels, but not by learning to see through RL: a
state estimator (``world_models/state_estimator.py``), trained by regression on frames the simulator
labelled, reads each frame, and the policy gets its reading. The wrapper does the same to a GT env and
to a world-model env, so a policy trained in imagination sees in the real env exactly what it saw in
the model::

    env = gym.make("cosmos_sim/Perceived-v0")  # the reach task, read by manip-state-nano
    envs = gym.make_vec("cosmos_sim/Perceived-v0", num_envs=16, env_id="cosmos_sim/WFM-v0",
                        env_kwargs={"checkpoint": "runs/loop/wfm/iter_00/best"})
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cosmos_sim.errors import ConfigError

DEFAULT_ENV = "cosmos_sim/Manipulation-Reach-GT-v0"
DEFAULT_ESTIMATOR = "manip-state-nano"


def _load_estimator(estimator: Any):
    from cosmos_sim.world_models.state_estimator import StateEstimator

    if isinstance(estimator, StateEstimator):
        return estimator
    return StateEstimator.from_pretrained(estimator, device="cpu")


def _check_image(space: spaces.Space, env_id: str) -> None:
    if not (isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3):
        raise ConfigError(
            f"Perceived-v0 reads image observations, but {env_id} observes {space}; use an env (or obs_mode) "
            "whose observation is an RGB frame"
        )


def _state_space(estimator) -> spaces.Box:
    return spaces.Box(-np.inf, np.inf, (len(estimator.names),), np.float32)


class PerceivedStateEnv(gym.Wrapper):
    r"""An image env whose observation is a state estimator's reading of its frame.

    ## Description
    Wraps ``gym.make(env_id, **env_kwargs)`` (an env observing RGB frames: a GT scene with
    ``obs_mode="pixels"``, or ``cosmos_sim/WFM-v0``) and replaces each observation by
    ``estimator.predict(frame)``. Actions, rewards, termination and ``render()`` are the inner env's.

    ## Action Space
    The inner env's.

    ## Observation Space
    ``Box(-inf, inf, (D,), float32)``: the estimator's entries, ``env.unwrapped``-independent names in
    ``estimator.names`` (e.g. ``ee_x, ee_y, ee_z, goal_x, goal_y``, metres).

    ## Rewards
    The inner env's.

    ## Starting State
    The inner env's; ``info["true_state"]`` carries the inner env's true state vector (its
    ``state()``, named by its ``state_layout``) where it has one, so recordings keep the labels
    (``cosmos-sim generate`` stores it as ``true_state``).

    ## Episode End
    The inner env's (its registered time limit applies).

    ## Arguments
    ``env_id`` (default the reach task), ``estimator`` (a shipped name, a directory or a loaded
    ``StateEstimator``; default ``manip-state-nano``), ``env_kwargs`` (dict), ``render_mode``
    ("rgb_array", passed to the inner env).
    """

    def __init__(
        self,
        env_id: str = DEFAULT_ENV,
        estimator: Any = DEFAULT_ESTIMATOR,
        env_kwargs: dict | None = None,
        render_mode: str | None = "rgb_array",
    ):
        inner = gym.make(env_id, **{"render_mode": render_mode, **(env_kwargs or {})})
        super().__init__(inner)
        _check_image(inner.observation_space, env_id)
        self.estimator = _load_estimator(estimator)
        self.observation_space = _state_space(self.estimator)
        self.metadata = {**inner.metadata, "render_modes": ["rgb_array"]}

    def _read(self, frame: np.ndarray, info: dict) -> tuple[np.ndarray, dict]:
        u = self.env.unwrapped
        if hasattr(u, "state"):
            info = {**info, "true_state": np.asarray(u.state(), dtype=np.float32)}
        return self.estimator.predict(np.asarray(frame)), info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self._read(obs, info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        obs, info = self._read(obs, info)
        return obs, reward, terminated, truncated, info


class PerceivedStateVectorEnv(gym.vector.VectorWrapper):
    """``gym.make_vec("cosmos_sim/Perceived-v0", num_envs=N, ...)``: ``gym.make_vec(env_id, N)`` (natively
    batched for the world-model ids) with every row's frame read by the estimator in one batch."""

    def __init__(
        self,
        num_envs: int = 1,
        env_id: str = DEFAULT_ENV,
        estimator: Any = DEFAULT_ESTIMATOR,
        env_kwargs: dict | None = None,
        **vector_kwargs: Any,
    ):
        super().__init__(gym.make_vec(env_id, num_envs=num_envs, **{**(env_kwargs or {}), **vector_kwargs}))
        _check_image(self.env.single_observation_space, env_id)
        self.estimator = _load_estimator(estimator)
        self.single_observation_space = _state_space(self.estimator)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self.estimator.predict(obs), info

    def step(self, actions):
        obs, reward, terminated, truncated, info = self.env.step(actions)
        return self.estimator.predict(obs), reward, terminated, truncated, info


__all__ = ["PerceivedStateEnv", "PerceivedStateVectorEnv"]
