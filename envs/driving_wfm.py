"""The multi-view driving world model as a Gymnasium environment: ``cosmos_sim/Driving-WFM-v0``.

``step(action)`` asks the multi-view DiT (``world_models/multiview.py``) for the next frame of all
six cameras at once (one batched forward pass; ``gym.make_vec`` batches many rollouts into it).
Loads the shipped nano checkpoint ``assets/wfm/drive-mv-nano`` by default (``device="auto"``).

Observation: a Dict like ``Driving-GT-v0``'s: the six camera views (same keys, HxWx3 uint8) and
``ego`` = ``[speed]`` (float32 (1,), m/s). Speed is the documented subset of the GT ``ego`` vector
the model env can know without a map: it is dead-reckoned from the actions with the GT car's own
longitudinal model (``speed += acceleration * max_accel * dt``, clipped to ``[0, max_speed]``), which
is exactly what the GT env does; position, yaw and lane offset would need the road, which only the
pictures show.
Action: as the GT env, Box [-1, 1]^2 = (steering, acceleration).
Reward and termination: the model's head, trained on the GT reward (progress along the road
minus the lane and crash penalties) and on the GT termination (collision or leaving the road);
``terminated`` when the predicted termination probability > 0.5 (``info["crash_prob"]``).
``render()``: the 2x3 grid (front row front_left, front, front_right; back row rear_left, rear,
rear_right; ``envs.driving.GRID``).

Start of an episode (``reset(seed=..., options=...)``):
    default               the GT scene is reset with that seed and its first six views fill the K
                          context slots; the speed is the GT car's;
    ``options["views"]``  ``{camera: (H, W, 3) or (n, H, W, 3) uint8}`` for every camera (1..K
                          frames, front-padded by repeating the first); ``options["speed"]``
                          (m/s, default 0).
With ``paired=True`` the GT scene is stepped beside the model and ``info`` adds ``gt_views``
(V, H, W, 3 in the model's view order), ``gt_reward`` and ``gt_terminated``.
"""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cosmos_sim.envs.driving import GRID
from cosmos_sim.envs.wfm_env import WorldModelEnv, WorldModelVectorEnv, _Rollouts

#: Checkpoint the registered driving WFM env loads when none is given (a directory under assets/wfm/).
DEFAULT_CHECKPOINT = "drive-mv-nano"
CRASH_THRESHOLD = 0.5


def grid_image(views: np.ndarray, names: tuple[str, ...], layout=GRID) -> np.ndarray:
    """``(V, H, W, 3)`` views named ``names`` -> one image laid out as ``layout`` (rows of names)."""
    index = {n: i for i, n in enumerate(names)}
    return np.concatenate([np.concatenate([views[index[c]] for c in row], axis=1) for row in layout], axis=0)


class DrivingRollouts(_Rollouts):
    """``_Rollouts`` for the six-camera Dict observation, dead-reckoned speed and crash termination."""

    def __init__(self, n: int, checkpoint, device: str, paired: bool, sampler_steps: int | None):
        super().__init__(n, checkpoint or DEFAULT_CHECKPOINT, device, paired, sampler_steps)
        self.views = self.model.config.views
        self.frames = np.zeros((n, len(self.views), *self.frame_shape), dtype=np.uint8)
        self.speed = np.zeros(n, dtype=np.float32)
        gt_cfg = self.gt[0].cfg
        self.accel_step, self.max_speed = gt_cfg.max_accel * gt_cfg.dt, gt_cfg.max_speed

    def _make_gt(self) -> gym.Env:
        cfg = self.model.config
        if cfg.family != "multiview":  # checked here: the base class builds the GT scenes right after loading
            raise ValueError(f"Driving-WFM-v0 needs a multiview world model, got a {cfg.family} one; "
                             f"pass checkpoint= a bundle trained with `cosmos-sim train-wfm --family multiview`")
        env = gym.make(cfg.env_id, **cfg.env_kwargs).unwrapped
        space = env.observation_space
        missing = [v for v in cfg.views if not isinstance(space, spaces.Dict) or v not in space.spaces]
        if missing:
            raise ValueError(f"checkpoint views {missing} are not observations of {cfg.env_id}")
        shapes = {space.spaces[v].shape for v in cfg.views}
        if shapes != {self.frame_shape}:
            raise ValueError(f"checkpoint works on {self.frame_shape} views but {cfg.env_id} with "
                             f"{cfg.env_kwargs} renders {shapes}")
        return env

    # ---- observations ------------------------------------------------------------------------------
    def observation_space(self) -> spaces.Space:
        views = {v: spaces.Box(0, 255, self.frame_shape, np.uint8) for v in self.views}
        return spaces.Dict({**views, "ego": spaces.Box(0.0, np.float32(self.max_speed), (1,), np.float32)})

    def observation(self, row: int | None = None) -> dict[str, np.ndarray]:
        sel = slice(None) if row is None else row
        obs = {v: self.frames[sel, i].copy() for i, v in enumerate(self.views)}
        obs["ego"] = self.speed[sel, None].copy() if row is None else self.speed[row : row + 1].copy()
        return obs

    def render(self, row: int | None = None) -> np.ndarray:
        if row is None:
            return np.stack([grid_image(f, self.views) for f in self.frames])
        return grid_image(self.frames[row], self.views)

    # ---- context -----------------------------------------------------------------------------------
    def context_frames(self, row: int, seed: int, options: dict | None) -> np.ndarray:
        """The K six-view frames ``(K, V, H, W, 3)`` a rollout starts from; sets the row's speed."""
        options = dict(options or {})
        unknown = set(options) - {"views", "speed"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; use 'views' (and 'speed')")
        if "views" not in options:
            if "speed" in options:
                raise ValueError("options['speed'] goes with options['views']; a seeded reset takes the GT car's speed")
            obs, _ = self.gt[row if self.paired else 0].reset(seed=int(seed))
            self.speed[row] = float(obs["ego"][3])
            return np.repeat(np.stack([obs[v] for v in self.views])[None], self.k, axis=0)
        if self.paired:
            raise ValueError("options['views'] cannot be used in paired mode (the GT scene starts from a seed)")
        speed = float(options.get("speed", 0.0))
        if not 0 <= speed <= self.max_speed:
            raise ValueError(f"options['speed']={speed} out of range; use 0..{self.max_speed} m/s")
        self.speed[row] = speed
        return self._user_views(options["views"])

    def _user_views(self, given) -> np.ndarray:
        if not isinstance(given, dict):
            raise ValueError(f"options['views'] must be a dict {{camera: frames}} of the cameras {self.views}, "
                             f"got {type(given).__name__}")
        missing, extra = [v for v in self.views if v not in given], sorted(set(given) - set(self.views))
        if missing or extra:
            raise ValueError(f"options['views'] must hold exactly the cameras {self.views}: missing {missing}, "
                             f"unknown {extra}")
        arrays = {v: np.asarray(given[v]) for v in self.views}
        arrays = {v: a[None] if a.ndim == 3 else a for v, a in arrays.items()}
        shapes = {v: a.shape for v, a in arrays.items()}
        if len(set(shapes.values())) != 1:
            raise ValueError(f"options['views'] must all have one shape; got {shapes}")
        f = np.stack([arrays[v] for v in self.views], axis=1)  # (n, V, H, W, 3)
        if f.ndim != 5 or f.shape[2:] != self.frame_shape or f.dtype != np.uint8:
            raise ValueError(f"each view must be uint8 (H, W, 3) = {self.frame_shape} or (n, H, W, 3) with "
                             f"1 <= n <= {self.k}, got {f.dtype} {f.shape[:1] + f.shape[2:]}; resize them first")
        if not 1 <= len(f) <= self.k:
            raise ValueError(f"options['views'] hold {len(f)} frames per camera; pass 1 to {self.k}")
        return np.concatenate([np.repeat(f[:1], self.k - len(f), axis=0), f])

    # ---- step --------------------------------------------------------------------------------------
    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        reward, p = self.model_step(actions)
        self.speed = np.clip(self.speed + actions[:, 1] * self.accel_step, 0.0, self.max_speed).astype(np.float32)
        terminated = p > CRASH_THRESHOLD
        info: dict[str, np.ndarray] = {"step": self.steps.copy(), "crash_prob": p.astype(np.float32)}
        if self.paired:
            gt = [env.step(a) for env, a in zip(self.gt, actions, strict=True)]
            info["gt_views"] = np.stack([np.stack([g[0][v] for v in self.views]) for g in gt])
            info["gt_reward"] = np.array([g[1] for g in gt], dtype=np.float32)
            info["gt_terminated"] = np.array([bool(g[2]) for g in gt])
        return self.frames.copy(), reward.astype(np.float64), terminated, info


class DrivingWorldModelEnv(WorldModelEnv):
    """One multi-view driving rollout (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    core_class = DrivingRollouts
    camera_grid = GRID

    def __init__(self, checkpoint: str | os.PathLike | None = None, device: str = "auto", paired: bool = False,
                 sampler_steps: int | None = None, render_mode: str | None = "rgb_array"):
        """Arguments as ``WorldModelEnv``; the default checkpoint is ``assets/wfm/drive-mv-nano``."""
        super().__init__(checkpoint, device, paired, sampler_steps, render_mode)


class DrivingWorldModelVectorEnv(WorldModelVectorEnv):
    """``num_envs`` multi-view driving rollouts, one batched forward pass per step, next-step autoreset."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10, "autoreset_mode": WorldModelVectorEnv.metadata[
        "autoreset_mode"]}
    core_class = DrivingRollouts
    camera_grid = GRID

    def __init__(self, num_envs: int = 1, checkpoint: str | os.PathLike | None = None, device: str = "auto",
                 paired: bool = False, sampler_steps: int | None = None, max_episode_steps: int | None = 200,
                 render_mode: str | None = "rgb_array"):
        """Arguments as ``WorldModelVectorEnv`` (episodes truncated at 200 steps, as Driving-GT-v0)."""
        super().__init__(num_envs, checkpoint, device, paired, sampler_steps, max_episode_steps, render_mode)


__all__ = ["DEFAULT_CHECKPOINT", "DrivingRollouts", "DrivingWorldModelEnv", "DrivingWorldModelVectorEnv", "grid_image"]
