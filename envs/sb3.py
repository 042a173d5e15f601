"""Stable-Baselines3 over a natively batched Gymnasium vector env: ``SB3VecEnv``.

SB3 steps its own ``VecEnv`` API; wrapping N single envs in its ``DummyVecEnv`` gives up the one
batched forward pass of ``WorldModelVectorEnv`` (``gym.make_vec("cosmos_sim/Manipulation-WFM-v0", N)``).
``SB3VecEnv(venv)`` hands any Gymnasium ``VectorEnv`` to SB3 as it is::

    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor
    from cosmos_sim.envs.sb3 import SB3VecEnv

    venv = VecMonitor(SB3VecEnv(gym.make_vec("cosmos_sim/Manipulation-WFM-v0", num_envs=16)))
    PPO("CnnPolicy", venv, n_steps=128).learn(100_000)

(``VecMonitor`` gives SB3 its episode returns and lengths; HWC uint8 frames are fine, PPO adds
``VecTransposeImage`` itself.)

SB3's contract: ``step_wait`` returns, for a row whose episode ended, the first observation of its
next episode, with the last one in ``infos[i]["terminal_observation"]`` and
``infos[i]["TimeLimit.truncated"]`` (truncated, not terminated). How the ended rows get their new episode:

- ``autoreset_mode`` SAME_STEP: the env already returns the reset observation and puts the last one in
  ``info["final_obs"]`` (and that step's info in ``info["final_info"]``): nothing to add.
- NEXT_STEP (Gymnasium's default, and ``WorldModelVectorEnv``'s) or DISABLED: right after the step, the
  ended rows alone are reset with ``reset(options={"reset_mask": ended})`` (Gymnasium >= 1.1's partial
  reset; it clears their pending autoreset, so the env's next step is a real step of every row). The
  other rows keep their state and observation (checked: an env that ignores ``reset_mask`` and resets
  every row is an error, not a silent cut of every episode). This costs only the ended rows' resets.

Why not let the NEXT_STEP env's own reset step run, as one extra batched step? That step moves every
row: the rows that did not end would take a transition with an action no policy chose, which SB3 would
never see; and deferring the reset to the user's next step would put a reset transition (reward 0) into
SB3's episodes. A partial reset has neither problem, and is cheaper than an extra step: the world model
env's reset step runs the model for all rows, the partial reset only encodes the new rows' first frames.

``WorldModelVectorEnv`` (and its subclasses) do not take ``reset_mask`` yet, so their ended rows are
restarted the way their own NEXT_STEP reset does it (``core.restart`` with seeds drawn from the env's
generator, pending autoreset cleared): the episodes are those the env itself would give. Give this
adapter the world-model env itself, not a Gymnasium vector wrapper around it (put SB3 ``VecEnvWrapper``s
on top of the adapter instead).

Seeds and options: ``seed(s)`` (SB3) seeds the next ``reset()``, rows ``s, s + 1, ...``;
``set_options(dict)`` passes the dict to the next ``reset()`` (one dict for all rows: a batched env
takes one, so per-row options that differ are an error). ``get_attr``/``set_attr``/``env_method`` go to the
sub-envs of a ``SyncVectorEnv``/``AsyncVectorEnv`` and to the batched env itself otherwise (the same
value for every row).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from cosmos_sim.errors import ConfigError

try:
    from stable_baselines3.common.vec_env.base_vec_env import (
        VecEnv,
        VecEnvIndices,
        VecEnvObs,
        VecEnvStepReturn,
    )
except ImportError as e:  # pragma: no cover
    raise ImportError("cosmos_sim.envs.sb3 needs Stable-Baselines3: pip install stable-baselines3") from e


class SB3VecEnv(VecEnv):
    """A Gymnasium ``VectorEnv`` (SAME_STEP, NEXT_STEP or DISABLED autoreset) as a Stable-Baselines3 ``VecEnv``.

    The env steps all rows at once (one batched forward pass for a world-model env); rows whose episode
    ended are reset before ``step_wait`` returns, so SB3 sees its usual ``terminal_observation`` and
    ``TimeLimit.truncated`` infos and never a reset step (see the module docstring).
    """

    def __init__(self, venv: gym.vector.VectorEnv):
        if not isinstance(venv, gym.vector.VectorEnv):
            raise ConfigError(
                f"SB3VecEnv wraps a gymnasium VectorEnv (gym.make_vec(...)), got {type(venv).__name__}; "
                "for single envs use stable_baselines3's DummyVecEnv"
            )
        mode = venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        self.autoreset_mode = AutoresetMode(mode.value if isinstance(mode, AutoresetMode) else mode)
        self.venv = venv
        self._world_model = _is_world_model_vector_env(venv.unwrapped)
        if self._world_model and venv is not venv.unwrapped:
            raise ConfigError(
                f"SB3VecEnv needs the world-model vector env itself, not {type(venv).__name__} around it "
                "(its ended rows are restarted directly): put SB3 VecEnvWrappers (VecMonitor, VecNormalize, "
                "...) on top of SB3VecEnv instead"
            )
        self._actions: np.ndarray | None = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    # ---- SB3 VecEnv API ------------------------------------------------------------------------------
    def reset(self) -> VecEnvObs:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        # SB3's seed(s) gives rows s, s + 1, ...: pass s itself, which also seeds the env's own generator
        if seeds and seeds == [seeds[0] + i for i in range(self.num_envs)]:
            seeds = seeds[0]
        options = self._options[0] if self._options else {}
        if any(o != options for o in self._options):
            raise ConfigError(
                "set_options() gave the rows different options; a batched env takes one options dict for all "
                "rows: pass one dict"
            )
        obs, info = self.venv.reset(seed=seeds, options=dict(options) or None)
        self.reset_infos = _split_info(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_async(actions) first")
        obs, reward, terminated, truncated, info = self.venv.step(self._actions)
        self._actions = None
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        done = terminated | truncated
        if self.autoreset_mode == AutoresetMode.SAME_STEP and done.any():
            final_obs, final_info = info.pop("final_obs", None), info.pop("final_info", {})
            info.pop("_final_obs", None), info.pop("_final_info", None)
            infos = _split_info(info, self.num_envs)
            finals = _split_info(final_info, self.num_envs)
            for i in np.flatnonzero(done):
                self.reset_infos[i] = infos[i]  # the step's info of an ended row is its reset info
                infos[i] = finals[i] | {"terminal_observation": final_obs[i]}
        else:
            infos = _split_info(info, self.num_envs)
            if done.any():
                for i in np.flatnonzero(done):
                    infos[i]["terminal_observation"] = _row(obs, i)
                obs = self._reset_rows(obs, done)
        for i, inf in enumerate(infos):
            inf["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, np.asarray(reward, dtype=np.float32), done, infos

    def close(self) -> None:
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        images = self.venv.render()
        return [None] * self.num_envs if images is None else list(images)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        rows = self._get_indices(indices)
        if hasattr(self.venv, "get_attr"):  # Sync/AsyncVectorEnv: one value per sub-env
            values = self.venv.get_attr(attr_name)
            return [values[i] for i in rows]
        value = getattr(self.venv, attr_name)
        return [value for _ in rows]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        if hasattr(self.venv, "set_attr"):
            rows = list(self._get_indices(indices))
            if rows != list(range(self.num_envs)):
                raise ConfigError("set_attr on some rows of a vector env: set it on all rows (indices=None)")
            self.venv.set_attr(attr_name, value)
        else:
            setattr(self.venv, attr_name, value)

    def env_method(
        self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs
    ) -> list:
        rows = self._get_indices(indices)
        if hasattr(self.venv, "call"):  # Sync/AsyncVectorEnv: one result per sub-env
            results = self.venv.call(method_name, *method_args, **method_kwargs)
            return [results[i] for i in rows]
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)  # one call for the batch
        return [result for _ in rows]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    # ---- ended rows ----------------------------------------------------------------------------------
    def _reset_rows(self, obs: VecEnvObs, done: np.ndarray) -> VecEnvObs:
        """``obs`` with the ``done`` rows replaced by their new episode's first observation."""
        if self._world_model:
            new_obs, info = _restart_world_model_rows(self.venv, done)
        else:
            new_obs, info = self.venv.reset(options={"reset_mask": done.copy()})
        if not _rows_equal(new_obs, obs, ~done):
            raise RuntimeError(
                f"{type(self.venv.unwrapped).__name__} ignored reset(options={{'reset_mask': ...}}) and reset "
                "rows whose episode had not ended; SB3VecEnv needs a vector env with partial resets "
                "(gymnasium >= 1.1's Sync/AsyncVectorEnv) or autoreset_mode SAME_STEP"
            )
        resets = _split_info(info, self.num_envs)
        for i in np.flatnonzero(done):
            self.reset_infos[i] = resets[i]
        return new_obs


def _is_world_model_vector_env(env: gym.vector.VectorEnv) -> bool:
    module = sys.modules.get("cosmos_sim.envs.wfm_env")  # loaded if env is one; never import torch here
    return module is not None and isinstance(env, module.WorldModelVectorEnv)


def _restart_world_model_rows(env, done: np.ndarray) -> tuple[np.ndarray, dict]:
    """Restart the ``done`` rows of a ``WorldModelVectorEnv`` now, as its own next-step autoreset would
    (seeds from its generator, then no pending autoreset): a partial reset it does not offer yet."""
    rows = np.flatnonzero(done)
    seeds = [int(s) for s in env.np_random.integers(2**31, size=len(rows))]
    env.core.restart(rows, seeds, None)
    env._autoreset[rows] = False
    return env.core.observation(), {"step": env.core.steps.copy()}


def _row(obs: VecEnvObs, i: int):
    if isinstance(obs, dict):
        return {k: np.copy(v[i]) for k, v in obs.items()}
    return np.copy(obs[i])


def _rows_equal(a: VecEnvObs, b: VecEnvObs, rows: np.ndarray) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(np.array_equal(a[k][rows], b[k][rows]) for k in a)
    return np.array_equal(np.asarray(a)[rows], np.asarray(b)[rows])


def _split_info(info: dict, n: int) -> list[dict]:
    """Gymnasium's vector info (arrays over the rows, ``_key`` masks saying which rows have ``key``) as
    SB3's list of one dict per row."""
    rows: list[dict] = [{} for _ in range(n)]
    for key, value in info.items():
        if key.startswith("_") and key[1:] in info:
            continue  # a mask
        mask = info.get(f"_{key}")
        if isinstance(value, dict):
            parts = _split_info(value, n)
            for i in range(n):
                if mask is None or mask[i]:
                    rows[i][key] = parts[i]
        elif isinstance(value, np.ndarray | list | tuple) and len(value) == n:
            for i in range(n):
                if mask is None or mask[i]:
                    rows[i][key] = value[i]
        else:  # not per row
            for i in range(n):
                rows[i][key] = value
    return rows


__all__ = ["SB3VecEnv"]
