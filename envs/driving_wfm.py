"""The multi-view driving world model as a Gymnasium environment: ``cosmos_sim/Driving-WFM-v0``.

``step(action)`` asks the multi-view DiT (``world_models/multiview.py``) for the next frame of all
six cameras at once (one batched forward pass; ``gym.make_vec`` batches many rollouts into it).
Loads the shipped nano checkpoint ``assets/wfm/drive-mv-nano`` by default (``device="auto"``).

Spaces, reward, reset options, episode end and arguments (``DrivingWorldModelEnvConfig``,
``DrivingWorldModelVectorEnvConfig``) are documented on the two env classes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cosmos_sim.envs.driving import GRID
from cosmos_sim.envs.wfm_env import (
    WorldModelEnv,
    WorldModelEnvConfig,
    WorldModelVectorEnv,
    WorldModelVectorEnvConfig,
    _Rollouts,
)
from cosmos_sim.errors import CheckpointError, ConfigError

#: Checkpoint the registered driving WFM env loads when none is given (a directory under assets/wfm/).
DEFAULT_CHECKPOINT = "drive-mv-nano"
CRASH_THRESHOLD = 0.5


@dataclass(frozen=True)
class DrivingWorldModelEnvConfig(WorldModelEnvConfig):
    """``WorldModelEnvConfig`` with the shipped multi-view driving checkpoint as the default."""

    checkpoint: str | os.PathLike | None = DEFAULT_CHECKPOINT
    """A multiview ``WorldModel`` bundle directory or a name under ``assets/wfm/`` (None: the
    shipped ``drive-mv-nano``)."""


@dataclass(frozen=True)
class DrivingWorldModelVectorEnvConfig(DrivingWorldModelEnvConfig, WorldModelVectorEnvConfig):
    """``DrivingWorldModelEnvConfig`` plus the vector env's own time limit."""

    max_episode_steps: int | None = 200
    """Rows are truncated after this many steps (None or 0: never), 200 as ``Driving-GT-v0``;
    ``gym.make_vec`` passes the registered id's ``max_episode_steps``."""


def grid_image(views: np.ndarray, names: tuple[str, ...], layout=GRID) -> np.ndarray:
    """``(V, H, W, 3)`` views named ``names`` -> one image laid out as ``layout`` (rows of names)."""
    index = {n: i for i, n in enumerate(names)}
    return np.concatenate([np.concatenate([views[index[c]] for c in row], axis=1) for row in layout], axis=0)


class DrivingRollouts(_Rollouts):
    """``_Rollouts`` for the six-camera Dict observation, dead-reckoned speed and crash termination."""

    env_label = "cosmos_sim/Driving-WFM-v0"
    bundle_env_ids = ("cosmos_sim/Driving-GT-v0",)
    multi_view = True  # a bundle of another env or family is refused by _Rollouts.check_bundle

    def __init__(
        self, n: int, checkpoint, device: str, paired: bool, sampler_steps: int | None, adapter=None
    ):
        super().__init__(n, checkpoint or DEFAULT_CHECKPOINT, device, paired, sampler_steps, adapter)
        self.views = self.model.config.views
        self.frames = np.zeros((n, len(self.views), *self.frame_shape), dtype=np.uint8)
        self.speed = np.zeros(n, dtype=np.float32)
        gt_cfg = self.gt[0].config
        self.accel_step, self.max_speed = gt_cfg.max_accel * gt_cfg.dt, gt_cfg.max_speed

    def _make_gt(self) -> gym.Env:
        cfg = self.model.config
        env = gym.make(cfg.env_id, **cfg.env_kwargs).unwrapped
        space = env.observation_space
        missing = [v for v in cfg.views if not isinstance(space, spaces.Dict) or v not in space.spaces]
        if missing:
            raise CheckpointError(f"checkpoint views {missing} are not observations of {cfg.env_id}")
        shapes = {space.spaces[v].shape for v in cfg.views}
        if shapes != {self.frame_shape}:
            raise CheckpointError(
                f"checkpoint works on {self.frame_shape} views but {cfg.env_id} with "
                f"{cfg.env_kwargs} renders {shapes}"
            )
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
            raise ConfigError(f"unknown reset option(s) {sorted(unknown)}; use 'views' (and 'speed')")
        if "views" not in options:
            if "speed" in options:
                raise ConfigError(
                    "options['speed'] goes with options['views']; a seeded reset takes the GT car's speed"
                )
            obs, _ = self.gt[row if self.paired else 0].reset(seed=int(seed))
            self.speed[row] = float(obs["ego"][3])
            return np.repeat(np.stack([obs[v] for v in self.views])[None], self.k, axis=0)
        if self.paired:
            raise ConfigError(
                "options['views'] cannot be used in paired mode (the GT scene starts from a seed)"
            )
        speed = float(options.get("speed", 0.0))
        if not 0 <= speed <= self.max_speed:
            raise ConfigError(f"options['speed']={speed} out of range; use 0..{self.max_speed} m/s")
        self.speed[row] = speed
        return self._user_views(options["views"])

    def _user_views(self, given) -> np.ndarray:
        if not isinstance(given, dict):
            raise ConfigError(
                f"options['views'] must be a dict {{camera: frames}} of the cameras {self.views}, "
                f"got {type(given).__name__}"
            )
        missing, extra = [v for v in self.views if v not in given], sorted(set(given) - set(self.views))
        if missing or extra:
            raise ConfigError(
                f"options['views'] must hold exactly the cameras {self.views}: missing {missing}, "
                f"unknown {extra}"
            )
        arrays = {v: np.asarray(given[v]) for v in self.views}
        arrays = {v: a[None] if a.ndim == 3 else a for v, a in arrays.items()}
        shapes = {v: a.shape for v, a in arrays.items()}
        if len(set(shapes.values())) != 1:
            raise ConfigError(f"options['views'] must all have one shape; got {shapes}")
        f = np.stack([arrays[v] for v in self.views], axis=1)  # (n, V, H, W, 3)
        if f.ndim != 5 or f.shape[2:] != self.frame_shape or f.dtype != np.uint8:
            raise ConfigError(
                f"each view must be uint8 (H, W, 3) = {self.frame_shape} or (n, H, W, 3) with "
                f"1 <= n <= {self.k}, got {f.dtype} {f.shape[:1] + f.shape[2:]}; resize them first"
            )
        if not 1 <= len(f) <= self.k:
            raise ConfigError(f"options['views'] hold {len(f)} frames per camera; pass 1 to {self.k}")
        return np.concatenate([np.repeat(f[:1], self.k - len(f), axis=0), f])

    # ---- step --------------------------------------------------------------------------------------
    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        reward, p = self.model_step(actions)
        self.speed = np.clip(self.speed + actions[:, 1] * self.accel_step, 0.0, self.max_speed).astype(
            np.float32
        )
        terminated = p > CRASH_THRESHOLD
        info: dict[str, np.ndarray] = {"step": self.steps.copy(), "crash_prob": p.astype(np.float32)}
        if self.paired:
            gt = [env.step(a) for env, a in zip(self.gt, actions, strict=True)]
            info["gt_views"] = np.stack([np.stack([g[0][v] for v in self.views]) for g in gt])
            info["gt_reward"] = np.array([g[1] for g in gt], dtype=np.float32)
            info["gt_terminated"] = np.array([bool(g[2]) for g in gt])
        return self.frames.copy(), reward.astype(np.float64), terminated, info


class DrivingWorldModelEnv(WorldModelEnv):
    r"""One multi-view driving world-model rollout: ``step`` predicts the next frame of all six cameras.

    ## Description
    ``cosmos_sim/Driving-WFM-v0``: a multi-view DiT (``world_models/multiview.py``; by default
    the shipped nano checkpoint ``assets/wfm/drive-mv-nano``, trained on
    ``cosmos_sim/Driving-GT-v0`` at 64x64) predicts the next frame of the six ego-car cameras at
    once, in one forward pass, from the last ``K`` frames and the action. The ego speed is
    dead-reckoned from the actions with the GT car's own longitudinal model. ``render()`` is the
    2x3 grid of ``Driving-GT-v0`` (``camera_grid``: front row front_left, front, front_right;
    back row rear_left, rear, rear_right). ``paired=True`` steps the GT scene beside the model
    with the same actions for comparison. The sampler noise comes from a torch generator seeded
    at reset, so the same seed and actions give the same frames on the CPU.
    ``gym.make_vec(id, num_envs=N)`` gives ``DrivingWorldModelVectorEnv``.

    ## Action Space
    As ``Driving-GT-v0``: `Box(-1, 1, (2,), float32)` = (steering, acceleration). An action
    outside the space, of another shape or with NaN raises a ``ValueError``.

    ## Observation Space
    A `Dict` like ``Driving-GT-v0``'s: the six camera views (same keys, each `Box(0, 255,
    (H, W, 3), uint8)` at the checkpoint's ``frame_size``, 64x64 for the shipped one) and
    ``ego``, `Box(0, max_speed, (1,), float32)`: the speed (m/s), the subset of the GT ``ego``
    vector the model env can know without a map. It follows the GT car's longitudinal model
    (``speed += acceleration * max_accel * dt``, clipped to ``[0, max_speed]``), exactly as the
    GT env; position, yaw and lane offset would need the road, which only the pictures show.

    ## Rewards
    The reward head's prediction, trained on the GT reward (progress along the road minus the
    lane and crash penalties). ``info`` after each ``step``: ``step`` (model steps since reset)
    and ``crash_prob`` (the head's termination probability); with ``paired=True`` also
    ``gt_views`` ``(V, H, W, 3)`` in the model's view order, ``gt_reward`` and
    ``gt_terminated``. ``info`` after ``reset``: ``step`` = 0.

    ## Starting State
    ``reset(seed=..., options=...)`` fills the ``K`` context slots:

    - default: the GT scene is reset with that seed and its first six views fill the ``K``
      slots; the speed is the GT car's;
    - ``options["views"]``: ``{camera: (H, W, 3) or (n, H, W, 3) uint8}`` for every camera
      (1..K frames, front-padded by repeating the first), with ``options["speed"]`` (m/s,
      default 0); not allowed with ``paired=True``. Another option is a ``ValueError``.

    ## Episode End
    ### Termination
    When the predicted termination (crash) probability exceeds 0.5 (``CRASH_THRESHOLD``,
    ``info["crash_prob"]``), trained on the GT termination (collision or leaving the road).

    ### Truncation
    The registered id truncates after 200 steps (``max_episode_steps``, as the GT scene); the
    env itself never truncates.

    ## Arguments
    Options come one way: ``DrivingWorldModelEnv(config=None, *, render_mode="rgb_array",
    **overrides)`` where ``config`` is a ``DrivingWorldModelEnvConfig`` (default: the registered
    id's) and every override is one of its fields; an unknown keyword is a ``ValueError`` naming
    it and the valid ones, raised before anything is loaded. The result is ``env.config``.

    ```python
    import gymnasium as gym
    env = gym.make("cosmos_sim/Driving-WFM-v0", device="cpu", sampler_steps=4)
    ```

    | Parameter       | Type                           | Default           | Description                                |
    |-----------------|--------------------------------|-------------------|--------------------------------------------|
    | `config`        | **DrivingWorldModelEnvConfig** | `None`            | all settings at once; keyword options replace fields |
    | `render_mode`   | **str**                        | `"rgb_array"`     | "rgb_array" (the 2x3 grid) or None         |
    | `checkpoint`    | **str or path**                | `"drive-mv-nano"` | multiview bundle directory or name under ``assets/wfm/`` |
    | `device`        | **str**                        | `"auto"`          | torch device; "auto" is CUDA if available, else CPU |
    | `paired`        | **bool**                       | `False`           | step the GT scene beside the model, its outcome in ``info`` |
    | `sampler_steps` | **int or None**                | `None`            | denoiser calls per frame, replacing the checkpoint's (>= 1) |
    | `adapter`       | **str or path**                | `None`            | a LoRA adapter directory trained on `checkpoint` (`train-wfm --lora-rank`), put on top |
    | `head_terminates`| **bool**                       | `True`            | end an episode when the head's crash probability > 0.5; False: only the time limit |
    | `threads`       | **int**                        | `1`               | torch CPU threads of the process, set on the CPU (0: torch's own) |

    ## Version History
    * v0: Initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    core_class = DrivingRollouts
    config_class = DrivingWorldModelEnvConfig
    camera_grid = GRID


class DrivingWorldModelVectorEnv(WorldModelVectorEnv):
    r"""``num_envs`` multi-view driving rollouts, one batched forward pass per step, next-step autoreset.

    ## Description
    The natively batched form of ``DrivingWorldModelEnv`` that ``gym.make_vec(id, num_envs=N)``
    gives for ``cosmos_sim/Driving-WFM-v0``: all ``N`` rollouts share one model and advance with
    one forward pass per step; row ``i`` after ``reset(seed=s)`` is the single env reset with
    seed ``s + i``. Finished rows restart on the next step (``autoreset_mode = NEXT_STEP``): that
    step returns the new episode's first views with reward 0, not terminated or truncated.

    ## Action Space
    ``single_action_space`` is `Box(-1, 1, (2,), float32)` (steering, acceleration);
    ``action_space`` is it batched, ``(num_envs, 2)``. A batch of another shape, or any row
    outside the space or with NaN, raises a ``ValueError``.

    ## Observation Space
    ``single_observation_space`` is ``DrivingWorldModelEnv``'s Dict (six views and ``ego`` =
    ``[speed]``); ``observation_space`` batches every entry over the rows. ``render()`` returns
    the rows' 2x3 grids, ``(num_envs, 2H, 3W, 3)``.

    ## Rewards
    As ``DrivingWorldModelEnv``, per row; ``info`` holds arrays over the rows (``step``,
    ``crash_prob``; with ``paired=True`` ``gt_views``, ``gt_reward``, ``gt_terminated``).

    ## Starting State
    As ``DrivingWorldModelEnv``; ``reset(seed=s)`` seeds row ``i`` with ``s + i`` (a list gives
    one seed per row; None draws them), ``options`` apply to every row. Autoreset rows draw new
    seeds from the env's generator.

    ## Episode End
    ### Termination
    Per row, when the predicted crash probability exceeds 0.5 (``CRASH_THRESHOLD``).

    ### Truncation
    Per row, after ``max_episode_steps`` model steps (default 200, as ``Driving-GT-v0``; None
    or 0: never).

    ## Arguments
    Options come one way: ``DrivingWorldModelVectorEnv(num_envs=1, config=None, *,
    render_mode="rgb_array", **overrides)`` where ``config`` is a
    ``DrivingWorldModelVectorEnvConfig`` (default: the registered id's) and every override is
    one of its fields; an unknown keyword is a ``ValueError`` naming it and the valid ones. The
    result is ``env.config``.

    ```python
    import gymnasium as gym
    envs = gym.make_vec("cosmos_sim/Driving-WFM-v0", num_envs=16, device="cuda")
    ```

    | Parameter           | Type                                 | Default           | Description                   |
    |---------------------|--------------------------------------|-------------------|-------------------------------|
    | `num_envs`          | **int**                              | `1`               | rollouts stepped together (>= 1) |
    | `config`            | **DrivingWorldModelVectorEnvConfig** | `None`            | all settings at once; keyword options replace fields |
    | `render_mode`       | **str**                              | `"rgb_array"`     | "rgb_array" (every row's grid) or None |
    | `checkpoint`        | **str or path**                      | `"drive-mv-nano"` | multiview bundle directory or name under ``assets/wfm/`` |
    | `device`            | **str**                              | `"auto"`          | torch device; "auto" is CUDA if available, else CPU |
    | `paired`            | **bool**                             | `False`           | step a GT scene per row beside the model |
    | `sampler_steps`     | **int or None**                      | `None`            | denoiser calls per frame, replacing the checkpoint's (>= 1) |
    | `adapter`           | **str or path**                      | `None`            | a LoRA adapter directory trained on `checkpoint` (`train-wfm --lora-rank`), put on top |
    | `head_terminates`   | **bool**                             | `True`            | end an episode when the head's crash probability > 0.5; False: only the time limit |
    | `threads`           | **int**                              | `1`               | torch CPU threads of the process, set on the CPU (0: torch's own) |
    | `max_episode_steps` | **int or None**                      | `200`             | truncation per row (None or 0: never) |

    ## Version History
    * v0: Initial version.
    """

    metadata = {
        "render_modes": ["rgb_array"],
        "render_fps": 10,
        "autoreset_mode": WorldModelVectorEnv.metadata["autoreset_mode"],
    }
    core_class = DrivingRollouts
    config_class = DrivingWorldModelVectorEnvConfig
    camera_grid = GRID


__all__ = [
    "DEFAULT_CHECKPOINT",
    "DrivingRollouts",
    "DrivingWorldModelEnv",
    "DrivingWorldModelEnvConfig",
    "DrivingWorldModelVectorEnv",
    "DrivingWorldModelVectorEnvConfig",
    "grid_image",
]
