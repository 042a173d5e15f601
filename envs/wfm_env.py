"""A learned world model as a Gymnasium environment: ``step(action)`` returns the predicted next frame.

``cosmos_sim/Manipulation-WFM-v0`` loads the shipped nano checkpoint (``assets/wfm/manip-dit-nano``)
by default, or any ``WorldModel`` bundle by path (``checkpoint=...``). ``gym.make`` gives
``WorldModelEnv``; ``gym.make_vec(id, num_envs=N)`` gives ``WorldModelVectorEnv``, which steps all
``N`` rollouts with one batched forward pass and resets finished ones on the next step
(``autoreset_mode = NEXT_STEP``, Gymnasium's default).

Start of an episode (``reset(seed=..., options=...)``):
    default             the GT scene (``config.env_id``) is reset with the same seed and its first
                        frame fills all ``K`` context slots (the model was trained on episode starts
                        padded the same way);
    ``options["frames"]``   1..K uint8 frames ``(n, H, W, 3)`` (or one ``(H, W, 3)``), oldest first,
                        front-padded by repeating the first; frames of another size are an error;
    ``options["episode"]``  ``(store_path, index)``: the first frame of a recorded episode.

Observation: the decoded predicted frame (HxWx3 uint8, like the GT env). Reward and termination
come from the model's reward head (terminated when the predicted success probability > 0.5).
``info``: ``step`` (model steps since reset), ``success_prob``, ``is_success``; with
``paired=True`` the GT scene is stepped beside the model with the same actions and ``info`` adds
``gt_frame``, ``gt_reward`` and ``gt_is_success``.

Determinism: the sampler noise of each rollout comes from a torch generator seeded at reset, so
the same seed and actions give the same frames on the CPU.

Other observation layouts (the six driving cameras of ``envs/driving_wfm.py``) subclass
``_Rollouts`` (``observation_space``, ``observation``, ``render``, ``context_frames``, ``step``)
and set ``core_class`` on subclasses of the two envs.
"""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from cosmos_sim.envs.base import check_action

#: Checkpoint the registered WFM env loads when none is given (a directory under assets/wfm/).
DEFAULT_CHECKPOINT = "manip-dit-nano"
SUCCESS_THRESHOLD = 0.5


def resolve_checkpoint(checkpoint: str | os.PathLike | None) -> Path:
    """A bundle directory from a path, a name under ``assets/wfm/``, or None (the shipped default)."""
    from cosmos_sim.assets import ASSETS_DIR

    shipped = ASSETS_DIR / "wfm"
    name = checkpoint or DEFAULT_CHECKPOINT
    path = Path(name)
    if path.is_dir():
        return path
    if (shipped / str(name)).is_dir():
        return shipped / str(name)
    available = sorted(p.name for p in shipped.iterdir() if p.is_dir()) if shipped.is_dir() else []
    raise ValueError(f"world-model checkpoint {str(name)!r} is neither a directory nor a shipped name "
                     f"(shipped: {available}); pass checkpoint=PATH to a WorldModel.save_pretrained directory")


class _Rollouts:
    """What the single and the vector env share: the model, the GT scenes, the batch state."""

    def __init__(self, n: int, checkpoint, device: str, paired: bool, sampler_steps: int | None):
        from cosmos_sim.world_models.wfm import WorldModel

        self.model = WorldModel.from_pretrained(resolve_checkpoint(checkpoint), device=device)
        cfg = self.model.config
        if sampler_steps is not None:
            if sampler_steps < 1:
                raise ValueError(f"sampler_steps must be >= 1, got {sampler_steps}")
            import dataclasses

            self.model.config = dataclasses.replace(cfg, sampler_steps=int(sampler_steps))
        self.n, self.paired = n, paired
        self.k = self.model.context_frames
        self.frame_shape = (*cfg.frame_size, 3)
        # GT scenes: one per row when paired (stepped beside the model), else one for reset frames.
        self.gt = [self._make_gt() for _ in range(n if paired else 1)]
        layout = tuple(getattr(self.gt[0], "action_layout", ()))
        if layout and layout != cfg.action_layout:
            raise ValueError(f"checkpoint action layout {cfg.action_layout} does not match {cfg.env_id}'s {layout}")
        self.action_space: spaces.Box = self.gt[0].action_space
        if self.action_space.shape != (len(cfg.action_layout),):
            raise ValueError(f"checkpoint has {len(cfg.action_layout)} action dims, {cfg.env_id} has "
                             f"{self.action_space.shape}")
        self.generators = [torch.Generator().manual_seed(i) for i in range(n)]
        self.state = None
        self.frames = np.zeros((n, *self.frame_shape), dtype=np.uint8)
        self.steps = np.zeros(n, dtype=np.int64)

    def _make_gt(self) -> gym.Env:
        cfg = self.model.config
        env = gym.make(cfg.env_id, **cfg.env_kwargs).unwrapped
        obs_shape = env.observation_space.shape
        if obs_shape != self.frame_shape:
            raise ValueError(f"checkpoint works on {self.frame_shape} frames but {cfg.env_id} with "
                             f"{cfg.env_kwargs} renders {obs_shape}")
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
                raise ValueError(f"options['frames'] must be uint8 (n, {', '.join(map(str, self.frame_shape))}) "
                                 f"with 1 <= n <= {self.k}, got {f.dtype} {f.shape}; resize frames to "
                                 f"{self.frame_shape[1]}x{self.frame_shape[0]} first")
            if not 1 <= len(f) <= self.k:
                raise ValueError(f"options['frames'] holds {len(f)} frames; pass 1 to {self.k}")
            if self.paired:
                raise ValueError("options['frames'] cannot be used in paired mode (the GT scene starts from a seed)")
            return np.concatenate([np.repeat(f[:1], self.k - len(f), axis=0), f])
        if "episode" in options:
            from cosmos_sim.data.store import TrajectoryStore

            path, index = options["episode"]
            first = TrajectoryStore.open(path).episode(int(index), keys=["rgb"])["rgb"][:1]
            if first.shape[1:] != self.frame_shape:
                raise ValueError(f"episode frames are {first.shape[1:]}, the model needs {self.frame_shape}")
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
        info: dict[str, np.ndarray] = {"step": self.steps.copy(), "success_prob": p.astype(np.float32),
                                       "is_success": terminated.copy()}
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
    """One world-model rollout as a Gymnasium env (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    core_class = _Rollouts

    def __init__(self, checkpoint: str | os.PathLike | None = None, device: str = "auto", paired: bool = False,
                 sampler_steps: int | None = None, render_mode: str | None = "rgb_array"):
        """
        Args:
            checkpoint: a ``WorldModel`` bundle directory or a name under ``assets/wfm/``
                (default: the shipped nano model).
            device: "auto" (CUDA if available), "cpu", "cuda".
            paired: step the GT scene beside the model and put its frame in ``info``.
            sampler_steps: override the checkpoint's denoiser calls per frame (diffusion).
            render_mode: "rgb_array" (the predicted frame) or None.
        """
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode {render_mode!r} not supported; use 'rgb_array' or None")
        self.render_mode = render_mode
        self.core = self.core_class(1, checkpoint, device, paired, sampler_steps)
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
        return self.core.observation(0), float(reward[0]), bool(terminated[0]), False, {k: v[0] for k, v in info.items()}

    def render(self):
        return None if self.render_mode is None else self.core.render(0)

    def close(self):
        self.core.close()


class WorldModelVectorEnv(VectorEnv):
    """``num_envs`` world-model rollouts stepped by one batched forward pass, with next-step autoreset."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20, "autoreset_mode": AutoresetMode.NEXT_STEP}
    core_class = _Rollouts

    def __init__(self, num_envs: int = 1, checkpoint: str | os.PathLike | None = None, device: str = "auto",
                 paired: bool = False, sampler_steps: int | None = None, max_episode_steps: int | None = 100,
                 render_mode: str | None = "rgb_array"):
        """Arguments as ``WorldModelEnv``, plus ``num_envs`` and ``max_episode_steps`` (truncation)."""
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode {render_mode!r} not supported; use 'rgb_array' or None")
        self.num_envs, self.render_mode, self.max_episode_steps = num_envs, render_mode, max_episode_steps
        self.core = self.core_class(num_envs, checkpoint, device, paired, sampler_steps)
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
            raise ValueError(f"got {len(seed)} seeds for {n} envs")
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
            raise ValueError(f"actions have shape {a.shape}, expected {self.action_space.shape} (num_envs x action dims)")
        checked = np.stack([check_action(self.single_action_space, row) for row in a])
        _, reward, terminated, info = self.core.step(checked)
        truncated = (self.core.steps >= self.max_episode_steps) if self.max_episode_steps else np.zeros_like(terminated)
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


__all__ = ["DEFAULT_CHECKPOINT", "WorldModelEnv", "WorldModelVectorEnv", "resolve_checkpoint"]
