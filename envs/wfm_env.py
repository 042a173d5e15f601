"""A learned world model as a Gymnasium environment: ``step(action)`` returns the predicted next frame.

``cosmos_sim/Manipulation-WFM-v0`` loads the shipped nano checkpoint (``assets/wfm/manip-dit-nano``)
by default, or any ``WorldModel`` bundle by path (``checkpoint=...``). ``gym.make`` gives
``WorldModelEnv``; ``gym.make_vec(id, num_envs=N)`` gives ``WorldModelVectorEnv``, which steps all
``N`` rollouts with one batched forward pass and resets finished ones on the next step
(``autoreset_mode = NEXT_STEP``, Gymnasium's default).

Spaces, reward, reset options, episode end and arguments (``WorldModelEnvConfig``,
``WorldModelVectorEnvConfig``) are documented on the two env classes.

Other observation layouts (the six driving cameras of ``envs/driving_wfm.py``) subclass
``_Rollouts`` (``observation_space``, ``observation``, ``render``, ``context_frames``, ``step``)
and set ``core_class`` (and ``config_class`` for other defaults) on subclasses of the two envs.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from cosmos_sim.envs.base import check_action, resolve_config
from cosmos_sim.errors import CheckpointError, ConfigError

#: Checkpoint the registered WFM env loads when none is given (a directory under assets/wfm/).
DEFAULT_CHECKPOINT = "manip-dit-nano"
SUCCESS_THRESHOLD = 0.5


@dataclass(frozen=True)
class WorldModelEnvConfig:
    """Settings of a world-model env: which checkpoint, where it runs, and how it is stepped."""

    checkpoint: str | os.PathLike | None = DEFAULT_CHECKPOINT
    """A ``WorldModel.save_pretrained`` bundle directory or a name under ``assets/wfm/`` (None: the
    env's shipped default)."""
    device: str = "auto"
    """Torch device of the model: "auto" (CUDA if available), "cpu", "cuda", ..."""
    paired: bool = False
    """Step the GT scene beside the model with the same actions and put its outcome in ``info``."""
    sampler_steps: int | None = None
    """Denoiser calls per frame (diffusion), replacing the checkpoint's; None keeps it."""

    def __post_init__(self):
        if self.sampler_steps is not None and self.sampler_steps < 1:
            raise ConfigError(f"sampler_steps must be >= 1, got {self.sampler_steps}")


@dataclass(frozen=True)
class WorldModelVectorEnvConfig(WorldModelEnvConfig):
    """``WorldModelEnvConfig`` plus the vector env's own time limit."""

    max_episode_steps: int | None = 100
    """Rows are truncated after this many steps (None or 0: never); ``gym.make_vec`` passes the
    registered id's ``max_episode_steps``."""

    def __post_init__(self):
        super().__post_init__()
        if self.max_episode_steps is not None and self.max_episode_steps < 0:
            raise ConfigError(f"max_episode_steps must be None or >= 0, got {self.max_episode_steps}")


def resolve_checkpoint(checkpoint: str | os.PathLike | None) -> Path:
    """A bundle directory from a path, a name under ``assets/wfm/``, or None (the shipped default)."""
    from cosmos_sim.world_models.pretrained import resolve_pretrained

    return resolve_pretrained(
        checkpoint or DEFAULT_CHECKPOINT,
        "wfm",
        "world-model",
        "pass checkpoint=PATH to a WorldModel.save_pretrained directory",
        strict=True,
    )


class _Rollouts:
    """What the single and the vector env share: the model, the GT scenes, the batch state."""

    def __init__(self, n: int, checkpoint, device: str, paired: bool, sampler_steps: int | None):
        from cosmos_sim.world_models.wfm import WorldModel

        self.model = WorldModel.from_pretrained(resolve_checkpoint(checkpoint), device=device)
        cfg = self.model.config
        if sampler_steps is not None:  # validated >= 1 by WorldModelEnvConfig
            self.model.config = dataclasses.replace(cfg, sampler_steps=int(sampler_steps))
        self.n, self.paired = n, paired
        self.k = self.model.context_frames
        self.frame_shape = (*cfg.frame_size, 3)
        # GT scenes: one per row when paired (stepped beside the model), else one for reset frames.
        self.gt = [self._make_gt() for _ in range(n if paired else 1)]
        layout = tuple(getattr(self.gt[0], "action_layout", ()))
        if layout and layout != cfg.action_layout:
            raise CheckpointError(
                f"checkpoint action layout {cfg.action_layout} does not match {cfg.env_id}'s {layout}"
            )
        self.action_space: spaces.Box = self.gt[0].action_space
        if self.action_space.shape != (len(cfg.action_layout),):
            raise CheckpointError(
                f"checkpoint has {len(cfg.action_layout)} action dims, {cfg.env_id} has "
                f"{self.action_space.shape}"
            )
        self.generators = [torch.Generator().manual_seed(i) for i in range(n)]
        self.state = None
        self.frames = np.zeros((n, *self.frame_shape), dtype=np.uint8)
        self.steps = np.zeros(n, dtype=np.int64)

    def _make_gt(self) -> gym.Env:
        cfg = self.model.config
        env = gym.make(cfg.env_id, **cfg.env_kwargs).unwrapped
        obs_shape = env.observation_space.shape
        if obs_shape != self.frame_shape:
            raise CheckpointError(
                f"checkpoint works on {self.frame_shape} frames but {cfg.env_id} with "
                f"{cfg.env_kwargs} renders {obs_shape}"
            )
        return env

    # ---- context frames ------------------------------------------------------------------------------
    def context_frames(self, row: int, seed: int, options: dict | None) -> np.ndarray:
        """The K frames (K, H, W, 3) a rollout starts from (module docstring)."""
        options = options or {}
        if "frames" in options:
            f = np.asarray(options["frames"])
            if f.ndim == 3:
                f = f[None]
            if f.ndim != 4 or f.shape[1:] != self.frame_shape or f.dtype != np.uint8:
                raise ConfigError(
                    f"options['frames'] must be uint8 (n, {', '.join(map(str, self.frame_shape))}) "
                    f"with 1 <= n <= {self.k}, got {f.dtype} {f.shape}; resize frames to "
                    f"{self.frame_shape[1]}x{self.frame_shape[0]} first"
                )
            if not 1 <= len(f) <= self.k:
                raise ConfigError(f"options['frames'] holds {len(f)} frames; pass 1 to {self.k}")
            if self.paired:
                raise ConfigError(
                    "options['frames'] cannot be used in paired mode (the GT scene starts from a seed)"
                )
            return np.concatenate([np.repeat(f[:1], self.k - len(f), axis=0), f])
        if "episode" in options:
            from cosmos_sim.data.store import TrajectoryStore

            path, index = options["episode"]
            first = TrajectoryStore.open(path).episode(int(index), keys=["rgb"])["rgb"][:1]
            if first.shape[1:] != self.frame_shape:
                raise ConfigError(f"episode frames are {first.shape[1:]}, the model needs {self.frame_shape}")
            return np.repeat(first, self.k, axis=0)
        gt = self.gt[row if self.paired else 0]
        obs, _ = gt.reset(seed=int(seed))
        return np.repeat(np.asarray(obs)[None], self.k, axis=0)

    def restart(self, rows: np.ndarray, seeds: list[int], options: dict | None) -> None:
        """(Re)start the rollouts ``rows`` from their context frames."""
        ctx = np.stack([self.context_frames(int(r), s, options) for r, s in zip(rows, seeds, strict=True)])
        for r, s in zip(rows, seeds, strict=True):
            self.generators[int(r)].manual_seed(int(s) & 0x7FFF_FFFF_FFFF_FFFF)
        z = self.model.encode(ctx)
        if self.state is None:  # first reset: every row at once
            self.state = self.model.start(z)
        else:
            full = self.state.window.clone()
            full[torch.as_tensor(rows)] = z.to(full.device)
            mask = torch.zeros(self.n, dtype=torch.bool)
            mask[torch.as_tensor(rows)] = True
            self.state = self.model.restart_rows(self.state, mask, full)
        self.frames[rows] = ctx[:, -1]
        self.steps[rows] = 0

    # ---- observations (overridden for other layouts) ---------------------------------------------------
    def observation_space(self) -> spaces.Space:
        """One row's observation space."""
        return spaces.Box(0, 255, shape=self.frame_shape, dtype=np.uint8)

    def observation(self, row: int | None = None):
        """The observation of one row, or of all rows (batched) when ``row`` is None."""
        return self.frames.copy() if row is None else self.frames[row].copy()

    def render(self, row: int | None = None) -> np.ndarray:
        """What ``render()`` shows: one row's frame, or all rows' when ``row`` is None."""
        return self.observation(row)

    def model_step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One batched forward pass: the next frames (into ``self.frames``), predicted reward and done
        probability per row."""
        noise = self.model.noise(self.generators)
        self.state, z = self.model.predict_next(self.state, actions, noise=noise)
        self.frames = self.model.decode(z)
        reward, p = self.model.reward(z, actions)
        self.steps += 1
        return reward, p

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """One batched forward pass for all rows: frames, rewards, terminated, info arrays."""
        reward, p = self.model_step(actions)
        terminated = p > SUCCESS_THRESHOLD
        info: dict[str, np.ndarray] = {
            "step": self.steps.copy(),
            "success_prob": p.astype(np.float32),
            "is_success": terminated.copy(),
        }
        if self.paired:
            gt = [env.step(a) for env, a in zip(self.gt, actions, strict=True)]
            info["gt_frame"] = np.stack([np.asarray(g[0]) for g in gt])
            info["gt_reward"] = np.array([g[1] for g in gt], dtype=np.float32)
            info["gt_is_success"] = np.array([bool(g[4].get("is_success", False)) for g in gt])
        return self.frames.copy(), reward.astype(np.float64), terminated, info

    def close(self) -> None:
        for env in self.gt:
            env.close()


class WorldModelEnv(gym.Env):
    r"""One rollout of a learned world model as a Gymnasium env: ``step`` returns the predicted next frame.

    ## Description
    ``cosmos_sim/Manipulation-WFM-v0``: a world model (by default the shipped nano diffusion
    model ``assets/wfm/manip-dit-nano``, trained on ``cosmos_sim/Manipulation-GT-v0`` at 64x64)
    imitates the GT scene it was trained on (``model.config.env_id``). Each ``step`` predicts the
    next latent frame from the last ``K`` (the checkpoint's context frames) and the action,
    decodes it, and predicts reward and success with the model's reward head. Nothing is simulated unless ``paired=True``, which steps the GT
    scene beside the model with the same actions for comparison.

    Determinism: the sampler noise comes from a torch generator seeded at reset, so the same seed
    and actions give the same frames on the CPU. ``gym.make_vec(id, num_envs=N)`` gives
    ``WorldModelVectorEnv``, which steps ``N`` rollouts with one batched forward pass.

    ## Action Space
    The GT scene's action space, checked against the checkpoint's ``action_layout``; for the
    shipped checkpoint `Box(-1, 1, (7,), float32)` ``[dx, dy, dz, droll, dpitch, dyaw,
    gripper]`` as ``cosmos_sim/Manipulation-GT-v0``. An action outside the space, of another
    shape or with NaN raises a ``ValueError``.

    ## Observation Space
    The decoded predicted frame, `Box(0, 255, (H, W, 3), uint8)` at the checkpoint's
    ``frame_size`` (64x64 for the shipped one), like the GT scene's pixels; ``render()`` returns
    the same frame.

    ## Rewards
    The reward head's prediction for the new frame and action (trained on the GT reward).
    ``info`` after each ``step``: ``step`` (model steps since reset), ``success_prob`` (the head's
    success probability) and ``is_success``; with ``paired=True`` also ``gt_frame``,
    ``gt_reward`` and ``gt_is_success`` of the GT scene. ``info`` after ``reset``: ``step`` = 0.

    ## Starting State
    ``reset(seed=..., options=...)`` fills the ``K`` context slots:

    - default: the GT scene is reset with the same seed and its first frame fills all ``K``
      slots (the model was trained on episode starts padded the same way);
    - ``options["frames"]``: 1..K uint8 frames ``(n, H, W, 3)`` (or one ``(H, W, 3)``), oldest
      first, front-padded by repeating the first; frames of another size are a ``ValueError``
      (not allowed with ``paired=True``);
    - ``options["episode"]``: ``(store_path, index)``, the first frame of a recorded episode.

    ## Episode End
    ### Termination
    When the predicted success probability exceeds 0.5 (``SUCCESS_THRESHOLD``;
    ``info["is_success"]``).

    ### Truncation
    The registered id truncates after 100 steps (``max_episode_steps``, as the GT scene); the
    env itself never truncates.

    ## Arguments
    Options come one way: ``WorldModelEnv(config=None, *, render_mode="rgb_array", **overrides)``
    where ``config`` is a ``WorldModelEnvConfig`` (default: the registered id's) and every
    override is one of its fields; an unknown keyword is a ``ValueError`` naming it and the valid
    ones, raised before anything is loaded. The result is ``env.config``.

    ```python
    import gymnasium as gym
    env = gym.make("cosmos_sim/Manipulation-WFM-v0", paired=True, device="cpu")
    ```

    | Parameter       | Type                    | Default            | Description                                     |
    |-----------------|-------------------------|--------------------|-------------------------------------------------|
    | `config`        | **WorldModelEnvConfig** | `None`             | all settings at once; keyword options replace fields |
    | `render_mode`   | **str**                 | `"rgb_array"`      | "rgb_array" (the predicted frame) or None       |
    | `checkpoint`    | **str or path**         | `"manip-dit-nano"` | bundle directory or name under ``assets/wfm/`` (None: the default) |
    | `device`        | **str**                 | `"auto"`           | torch device; "auto" is CUDA if available, else CPU |
    | `paired`        | **bool**                | `False`            | step the GT scene beside the model, its outcome in ``info`` |
    | `sampler_steps` | **int or None**         | `None`             | denoiser calls per frame, replacing the checkpoint's (>= 1) |

    ## Version History
    * v0: Initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    core_class = _Rollouts
    config_class = WorldModelEnvConfig

    def __init__(
        self,
        config: WorldModelEnvConfig | None = None,
        *,
        render_mode: str | None = "rgb_array",
        **overrides: Any,
    ):
        cfg = resolve_config(self, config, overrides)
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"render_mode {render_mode!r} not supported; use 'rgb_array' or None")
        self.config = cfg
        self.render_mode = render_mode
        self.core = self.core_class(1, cfg.checkpoint, cfg.device, cfg.paired, cfg.sampler_steps)
        self.model = self.core.model
        self.action_space = self.core.action_space
        self.action_layout = self.model.config.action_layout
        self.observation_space = self.core.observation_space()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        gt_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        self.core.restart(np.array([0]), [gt_seed], options)
        return self.core.observation(0), {"step": 0}

    def step(self, action):
        if self.core.state is None:
            raise RuntimeError("call reset() before step()")
        action = check_action(self.action_space, action)
        _, reward, terminated, info = self.core.step(action[None])
        return (
            self.core.observation(0),
            float(reward[0]),
            bool(terminated[0]),
            False,
            {k: v[0] for k, v in info.items()},
        )

    def render(self):
        return None if self.render_mode is None else self.core.render(0)

    def close(self):
        self.core.close()


class WorldModelVectorEnv(VectorEnv):
    r"""``num_envs`` world-model rollouts stepped by one batched forward pass, with next-step autoreset.

    ## Description
    The natively batched form of ``WorldModelEnv`` that ``gym.make_vec(id, num_envs=N)`` gives
    for ``cosmos_sim/Manipulation-WFM-v0``: all ``N`` rollouts share one model and advance with
    one forward pass per step. Row ``i`` after ``reset(seed=s)`` is the single env reset with seed
    ``s + i`` and given the same actions. Finished rows restart on the next step
    (``autoreset_mode = NEXT_STEP``, Gymnasium's default): that step returns the new episode's
    first frame with reward 0, not terminated or truncated, and ``info["step"]`` 0.

    ## Action Space
    ``single_action_space`` is ``WorldModelEnv``'s (for the shipped checkpoint
    `Box(-1, 1, (7,), float32)`); ``action_space`` is it batched, `Box(-1, 1, (num_envs, 7),
    float32)`. A batch of another shape, or any row outside the space or with NaN, raises a
    ``ValueError``.

    ## Observation Space
    ``single_observation_space`` is ``WorldModelEnv``'s (`Box(0, 255, (H, W, 3), uint8)`);
    ``observation_space`` is it batched, ``(num_envs, H, W, 3)``. ``render()`` returns all rows'
    frames.

    ## Rewards
    As ``WorldModelEnv``, per row: the reward head's prediction; ``info`` holds arrays over the
    rows (``step``, ``success_prob``, ``is_success``; with ``paired=True`` ``gt_frame``,
    ``gt_reward``, ``gt_is_success``).

    ## Starting State
    As ``WorldModelEnv``; ``reset(seed=s)`` seeds row ``i`` with ``s + i`` (a list gives one seed
    per row; None draws them), ``options`` apply to every row. Autoreset rows draw new seeds
    from the env's generator.

    ## Episode End
    ### Termination
    Per row, when the predicted success probability exceeds 0.5 (``SUCCESS_THRESHOLD``).

    ### Truncation
    Per row, after ``max_episode_steps`` model steps (default 100, the registered id's; None or 0:
    never).

    ## Arguments
    Options come one way: ``WorldModelVectorEnv(num_envs=1, config=None, *,
    render_mode="rgb_array", **overrides)`` where ``config`` is a ``WorldModelVectorEnvConfig``
    (default: the registered id's) and every override is one of its fields; an unknown keyword
    is a ``ValueError`` naming it and the valid ones. The result is ``env.config``.

    ```python
    import gymnasium as gym
    envs = gym.make_vec("cosmos_sim/Manipulation-WFM-v0", num_envs=64, device="cuda")
    ```

    | Parameter           | Type                          | Default            | Description                               |
    |---------------------|-------------------------------|--------------------|-------------------------------------------|
    | `num_envs`          | **int**                       | `1`                | rollouts stepped together (>= 1)          |
    | `config`            | **WorldModelVectorEnvConfig** | `None`             | all settings at once; keyword options replace fields |
    | `render_mode`       | **str**                       | `"rgb_array"`      | "rgb_array" (every row's frame) or None   |
    | `checkpoint`        | **str or path**               | `"manip-dit-nano"` | bundle directory or name under ``assets/wfm/`` (None: the default) |
    | `device`            | **str**                       | `"auto"`           | torch device; "auto" is CUDA if available, else CPU |
    | `paired`            | **bool**                      | `False`            | step a GT scene per row beside the model  |
    | `sampler_steps`     | **int or None**               | `None`             | denoiser calls per frame, replacing the checkpoint's (>= 1) |
    | `max_episode_steps` | **int or None**               | `100`              | truncation per row (None or 0: never)     |

    ## Version History
    * v0: Initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20, "autoreset_mode": AutoresetMode.NEXT_STEP}
    core_class = _Rollouts
    config_class = WorldModelVectorEnvConfig

    def __init__(
        self,
        num_envs: int = 1,
        config: WorldModelVectorEnvConfig | None = None,
        *,
        render_mode: str | None = "rgb_array",
        **overrides: Any,
    ):
        cfg = resolve_config(self, config, overrides, others=("num_envs", "config", "render_mode"))
        if num_envs < 1:
            raise ConfigError(f"num_envs must be >= 1, got {num_envs}")
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"render_mode {render_mode!r} not supported; use 'rgb_array' or None")
        self.config = cfg
        self.num_envs, self.render_mode, self.max_episode_steps = num_envs, render_mode, cfg.max_episode_steps
        self.core = self.core_class(num_envs, cfg.checkpoint, cfg.device, cfg.paired, cfg.sampler_steps)
        self.model = self.core.model
        self.single_action_space = self.core.action_space
        self.single_observation_space = self.core.observation_space()
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._autoreset = np.zeros(num_envs, dtype=bool)

    def _seeds(self, seed: int | list[int] | None, n: int) -> list[int]:
        if seed is None:
            return [int(s) for s in self.np_random.integers(2**31, size=n)]
        if isinstance(seed, int):
            return [seed + i for i in range(n)]
        if len(seed) != n:
            raise ConfigError(f"got {len(seed)} seeds for {n} envs")
        return [int(s) if s is not None else int(self.np_random.integers(2**31)) for s in seed]

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        super().reset(seed=seed if isinstance(seed, int) else None)
        self.core.restart(np.arange(self.num_envs), self._seeds(seed, self.num_envs), options)
        self._autoreset[:] = False
        return self.core.observation(), {"step": self.core.steps.copy()}

    def step(self, actions):
        if self.core.state is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(actions, dtype=np.float32)
        if a.shape != self.action_space.shape:
            raise ConfigError(
                f"actions have shape {a.shape}, expected {self.action_space.shape} (num_envs x action dims)"
            )
        checked = np.stack([check_action(self.single_action_space, row) for row in a])
        _, reward, terminated, info = self.core.step(checked)
        truncated = (
            (self.core.steps >= self.max_episode_steps)
            if self.max_episode_steps
            else np.zeros_like(terminated)
        )
        done = self._autoreset.copy()
        if done.any():  # next-step autoreset: these rows start a new episode instead of stepping
            rows = np.flatnonzero(done)
            self.core.restart(rows, self._seeds(None, len(rows)), None)
            reward[rows], terminated[rows], truncated[rows] = 0.0, False, False
            info["step"][rows] = 0
        self._autoreset = terminated | truncated
        return self.core.observation(), reward, terminated, truncated, info

    def render(self):
        return None if self.render_mode is None else self.core.render()

    def close_extras(self, **kwargs):
        self.core.close()


__all__ = [
    "DEFAULT_CHECKPOINT",
    "WorldModelEnv",
    "WorldModelEnvConfig",
    "WorldModelVectorEnv",
    "WorldModelVectorEnvConfig",
    "resolve_checkpoint",
]
