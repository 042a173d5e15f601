"""A learned world model as a Gymnasium environment: ``step(action)`` returns the predicted next frame.

``cosmos_sim/Manipulation-WFM-v0`` loads the shipped renderer of state (``assets/wfm/manip-render-fast-nano``:
``manip-render-nano`` over a narrower decoder, 1.7x faster; ``envs/state_render.py``) by default, or any
manipulation ``WorldModel`` bundle by path (``checkpoint=...``;
``manip-dit-nano`` is the frame-to-frame model, which can start from any frames). ``gym.make`` gives
``WorldModelEnv``; ``gym.make_vec(id, num_envs=N)`` gives ``WorldModelVectorEnv``, which steps all
``N`` rollouts with one batched forward pass and resets finished ones on the next step
(``autoreset_mode = NEXT_STEP``, Gymnasium's default).

``cosmos_sim/WFM-v0`` (``GenericWorldModelEnv``, ``GenericWorldModelVectorEnv``) runs a single-view
bundle of *any* Gymnasium env that renders ``rgb_array``, e.g. one trained on
``cosmos-sim generate --env Reacher-v5`` episodes: ``gym.make("cosmos_sim/WFM-v0", checkpoint=DIR)``.
Its frames, reset frames, episode length and the source env's kwargs (camera settings) all come from
the bundle; where the source env observes state, reset frames come from its ``render()``, exactly as
``cosmos-sim generate`` recorded them. An id refuses a bundle made for another one, naming the id to use
(``env_id_for_bundle``).

Spaces, reward, reset options, episode end and arguments (``WorldModelEnvConfig``,
``WorldModelVectorEnvConfig``, ``GenericWorldModelEnvConfig``) are documented on the env classes.

Other observation layouts (the six driving cameras of ``envs/driving_wfm.py``) subclass
``_Rollouts`` (``observation_space``, ``observation``, ``render``, ``context_frames``, ``step``)
and set ``core_class`` (and ``config_class`` for other defaults) on subclasses of the two envs.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from cosmos_sim.envs.base import check_action, resolve_config
from cosmos_sim.errors import CheckpointError, ConfigError

#: Checkpoint the registered WFM env loads when none is given (a directory under assets/wfm/).
DEFAULT_CHECKPOINT = "manip-render-fast-nano"
SUCCESS_THRESHOLD = 0.5
#: The registered id that runs a bundle of any single-view env.
GENERIC_ID = "cosmos_sim/WFM-v0"
#: GT envs whose bundles ``cosmos_sim/Manipulation-WFM-v0`` runs (the same push task and action layout).
MANIPULATION_ENV_IDS = (
    "cosmos_sim/Manipulation-GT-v0",
    "cosmos_sim/Manipulation-Reach-GT-v0",
    "cosmos_sim/Manipulation-Bullet-GT-v0",
)
#: Reset options of the single-view envs (``_Rollouts.context_frames``).
RESET_OPTIONS = ("frames", "episode")


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
    adapter: str | os.PathLike | None = None
    """A LoRA adapter directory (``cosmos-sim train-wfm --lora-rank R --init-from BASE``) put on the
    checkpoint, which must be its base; None: the checkpoint as it is."""
    head_terminates: bool = True
    """End an episode when the reward head's termination probability exceeds 0.5; False: only the time
    limit ends it (under a wrapper that judges success itself: ``Perceived-v0`` with a task reward, whose
    episodes a head trained on quick successes otherwise cut short)."""
    threads: int = 1
    """torch CPU threads of this process, set when the env is made with its model on the CPU (0: leave
    torch's setting as it is). One by default: on a busy 2-core machine two threads ran the batched env
    3-9x slower than one (README, "Bring your own environment")."""

    def __post_init__(self):
        if self.sampler_steps is not None and self.sampler_steps < 1:
            raise ConfigError(f"sampler_steps must be >= 1, got {self.sampler_steps}")
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0 (0: torch's own setting), got {self.threads}")


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


@dataclass(frozen=True)
class GenericWorldModelEnvConfig(WorldModelEnvConfig):
    """Settings of ``cosmos_sim/WFM-v0`` (single and vector env): a bundle is required, and the episode
    length is the bundle's."""

    checkpoint: str | os.PathLike | None = None
    """A single-view ``WorldModel`` bundle directory (e.g. a ``cosmos-sim train-wfm`` run's ``OUT/best``)
    or a name under ``assets/wfm/``; required."""
    max_episode_steps: int | None = None
    """Rollouts are truncated after this many steps; None: the bundle's (the source env's time limit
    when its store was recorded, else its registered ``max_episode_steps``); 0: never."""
    start_from: tuple[str, ...] = ()
    """Trajectory stores whose recorded frames start the rollouts (DIAMOND and IRIS imagine from real
    data): a reset without options takes, from its seed, a random step of a random episode and its
    K frames of history as the context; empty: the source env's first frame for the seed."""

    def __post_init__(self):
        super().__post_init__()
        if self.max_episode_steps is not None and self.max_episode_steps < 0:
            raise ConfigError(f"max_episode_steps must be None or >= 0, got {self.max_episode_steps}")
        object.__setattr__(self, "start_from", tuple(str(p) for p in self.start_from))
        if self.start_from and self.paired:
            raise ConfigError("start_from cannot be used with paired=True (the GT scene starts from a seed)")


class StartFrames:
    """K-frame contexts at random steps of recorded episodes (``start_from``): the frames of every row of
    the stores but each episode's last, the history padded with the episode's first frame."""

    def __init__(self, paths: tuple[str, ...], frame_shape: tuple[int, ...], k: int):
        from cosmos_sim.data.store import TrajectoryStore

        frames, first, rows, offset = [], [], [], 0
        for p in paths:
            s = TrajectoryStore.open(p)
            f = s.read("rgb", 0, s.n_steps)
            if f.shape[1:] != tuple(frame_shape):
                raise ConfigError(
                    f"start_from store {p} has {f.shape[1:]} frames, the model needs {frame_shape}"
                )
            ends = s.episode_ends
            starts = np.concatenate([[0], ends[:-1]])
            first.append(np.repeat(starts, ends - starts) + offset)
            rows.append(np.setdiff1d(np.arange(s.n_steps), ends - 1) + offset)
            frames.append(f)
            offset += s.n_steps
        self.frames, self.first, self.rows, self.k = (
            np.concatenate(frames),
            np.concatenate(first),
            np.concatenate(rows),
            k,
        )
        if not len(self.rows):
            raise ConfigError(f"start_from stores {paths} hold no step to start from")

    def sample(self, seed: int) -> np.ndarray:
        """The (K, H, W, 3) context of the row that ``seed`` picks."""
        t = int(self.rows[np.random.default_rng(seed).integers(len(self.rows))])
        return self.frames[np.maximum(np.arange(t - self.k + 1, t + 1), self.first[t])]


def env_id_for_bundle(config) -> str | None:
    """The registered WFM id made for a bundle's ``WorldModelConfig``: its family's id where one exists
    (manipulation, driving), ``cosmos_sim/WFM-v0`` for any other single-view bundle; None for a
    multi-view bundle of another env than the driving scene (no registered id runs it)."""
    if config.family_adapter.multi_view:
        return "cosmos_sim/Driving-WFM-v0" if config.env_id == "cosmos_sim/Driving-GT-v0" else None
    return "cosmos_sim/Manipulation-WFM-v0" if config.env_id in MANIPULATION_ENV_IDS else GENERIC_ID


def bundle_episode_steps(config) -> int | None:
    """Episode length of a bundle's source env: recorded in the bundle, else the env's registered spec's."""
    if config.max_episode_steps:
        return int(config.max_episode_steps)
    try:
        return gym.spec(config.env_id).max_episode_steps
    except gym.error.Error:
        return None


def check_reset_options(options: dict | None, valid: tuple[str, ...] = RESET_OPTIONS) -> dict:
    """``options`` as a dict, refusing an unknown key (a ``ValueError`` naming the valid ones and the closest)
    and more than one of them."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ConfigError(
            f"reset options must be a dict with one of {list(valid)}, got {type(options).__name__}"
        )
    unknown = [k for k in options if k not in valid]
    if unknown:
        hints = [
            f"{close[0]!r} for {k!r}"
            for k in unknown
            if (close := difflib.get_close_matches(str(k), valid, n=1, cutoff=0.6))
        ]
        raise ConfigError(
            f"unknown reset option(s) {unknown}; valid options: {list(valid)}"
            + (f" (did you mean {', '.join(hints)}?)" if hints else "")
            + "; without options the rollout starts from the GT scene's first frame for the seed"
        )
    given = [k for k in valid if k in options]
    if len(given) > 1:
        raise ConfigError(f"reset options {given} are alternatives; pass one of them")
    return options


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


def _is_image_space(space: gym.Space) -> bool:
    return (
        isinstance(space, spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) == 3
        and space.shape[-1] == 3
    )


class _Rollouts:
    """What the single and the vector env share: the model, the GT scenes, the batch state."""

    #: The id these rollouts serve (in messages) and the bundles they take: the GT env ids (None: any) and
    #: whether single-view or multi-view (``check_bundle``).
    env_label: ClassVar[str] = "cosmos_sim/Manipulation-WFM-v0"
    bundle_env_ids: ClassVar[tuple[str, ...] | None] = MANIPULATION_ENV_IDS
    multi_view: ClassVar[bool] = False
    #: Where the GT scene's frames come from: its observation, or its ``render()`` (``_make_gt``).
    from_render: bool = False

    def __init__(
        self, n: int, checkpoint, device: str, paired: bool, sampler_steps: int | None, adapter=None
    ):
        from cosmos_sim.world_models.wfm import WorldModel

        path = resolve_checkpoint(checkpoint)
        self.model = WorldModel.from_pretrained(path, device=device, adapter=adapter)
        self.check_bundle(path)
        cfg = self.model.config
        if sampler_steps is not None:  # validated >= 1 by WorldModelEnvConfig
            self.model.config = dataclasses.replace(cfg, sampler_steps=int(sampler_steps))
        self.n, self.paired = n, paired
        self.k = self.model.context_frames
        self.frame_shape = (*cfg.frame_size, 3)
        # GT scenes: one per row when paired (stepped beside the model), else one for reset frames.
        self.gt = [self._make_gt() for _ in range(n if paired else 1)]
        layout, mine = tuple(getattr(self.gt[0], "action_layout", ())), self.env_action_layout()
        if layout and layout != mine:
            raise CheckpointError(f"checkpoint action layout {mine} does not match {cfg.env_id}'s {layout}")
        self.action_space: spaces.Box = self.gt[0].action_space
        if self.action_space.shape != (len(mine),):
            raise CheckpointError(
                f"checkpoint has {len(mine)} action dims, {cfg.env_id} has {self.action_space.shape}"
            )
        self.generators = [torch.Generator().manual_seed(i) for i in range(n)]
        self.state = None
        self.frames = np.zeros((n, *self.frame_shape), dtype=np.uint8)
        self.steps = np.zeros(n, dtype=np.int64)
        self.starts: StartFrames | None = None  # set by the env from its config's start_from

    @classmethod
    def for_bundle(cls, checkpoint) -> type[_Rollouts]:
        """The rollouts class of a bundle: a renderer of state has its own, the manipulation scene's
        (``DiTConfig.state_maps``: ``envs/state_render.py``) for the manipulation id, any MuJoCo env's
        (``DiTConfig.state_bodies``: ``envs/body_render.py``) for ``cosmos_sim/WFM-v0``."""
        path = resolve_checkpoint(checkpoint) / "config.json"
        try:
            dynamics = json.loads(path.read_text())["config"]["dynamics"]
            scene, bodies = dynamics.get("state_maps", False), dynamics.get("state_bodies", ())
        except (OSError, ValueError, KeyError, AttributeError):
            return cls  # loading the bundle reports what is wrong with it
        if bodies:
            if not issubclass(cls, _AnyRollouts):
                raise CheckpointError(
                    f"{path.parent} is a renderer of a MuJoCo env's state, which {cls.env_label} does not run; "
                    f"use gym.make({GENERIC_ID!r}, checkpoint=...)"
                )
            from cosmos_sim.envs.body_render import BodyRenderRollouts

            return BodyRenderRollouts
        if not scene:
            return cls
        if cls is not _Rollouts:
            raise CheckpointError(
                f"{path.parent} is a renderer of the manipulation scene's state, which {cls.env_label} does not "
                "run; use gym.make('cosmos_sim/Manipulation-WFM-v0', checkpoint=...)"
            )
        from cosmos_sim.envs.state_render import StateRenderRollouts

        return StateRenderRollouts

    def env_action_layout(self) -> tuple[str, ...]:
        """The GT env's action entries the bundle takes (all of its ``action_layout`` here)."""
        return tuple(self.model.config.action_layout)

    def state_info(self) -> dict[str, np.ndarray]:
        """Extra ``info`` entries per row after each step (none here)."""
        return {}

    def check_bundle(self, path: Path) -> None:
        """Refuse a bundle made for another id (another env, or single- vs multi-view), naming the id to use."""
        cfg = self.model.config
        multi = self.model.family.multi_view
        if multi == self.multi_view and (self.bundle_env_ids is None or cfg.env_id in self.bundle_env_ids):
            return
        use = env_id_for_bundle(cfg)
        fix = (
            f"use gym.make({use!r}, checkpoint={str(path)!r})"
            if use
            else "no registered id runs multi-view bundles of other envs than cosmos_sim/Driving-GT-v0"
        )
        kind = "multiview" if self.multi_view else "single-view"
        of = " or ".join(self.bundle_env_ids) if self.bundle_env_ids else "any env"
        raise CheckpointError(
            f"{self.env_label} runs {kind} world models of {of}, but {path} is a {cfg.family} world model "
            f"of {cfg.env_id}; {fix}"
        )

    def _make_gt(self) -> gym.Env:
        """The GT scene the bundle imitates, made with the kwargs its store was recorded with. Frames come
        from its observation when that is an image, else from ``render()`` (as ``cosmos-sim generate``
        recorded them), which is then checked once after a reset."""
        cfg = self.model.config
        kwargs = dict(cfg.env_kwargs)
        try:
            env = gym.make(cfg.env_id, **kwargs).unwrapped
        except gym.error.UnregisteredEnv as e:
            raise CheckpointError(
                f"the bundle imitates {cfg.env_id!r}, which is not registered in this process ({e}); "
                "import the package that registers it first"
            ) from None
        where = f"{cfg.env_id} with {kwargs}"
        space = env.observation_space
        if _is_image_space(space):
            if space.shape != self.frame_shape:
                env.close()
                raise CheckpointError(
                    f"checkpoint works on {self.frame_shape} frames but {where} observes {space.shape} images"
                )
            return env
        # State observations: the frames are what the env renders.
        if env.render_mode != "rgb_array" and "render_mode" not in kwargs:
            env.close()
            env = gym.make(cfg.env_id, **kwargs, render_mode="rgb_array").unwrapped
        env.reset(seed=0)
        frame = env.render() if env.render_mode == "rgb_array" else None
        shape = None if frame is None else np.asarray(frame).shape
        if shape != self.frame_shape:
            env.close()
            raise CheckpointError(
                f"checkpoint works on {self.frame_shape} frames but {where} observes "
                f"{space} and renders {'no rgb_array frames' if shape is None else f'{shape} frames'}"
            )
        self.from_render = True
        return env

    def gt_frame(self, env: gym.Env, obs) -> np.ndarray:
        """The GT scene's current frame: its observation, or its render (``_make_gt``)."""
        if not self.from_render:
            return np.asarray(obs)
        # Gymnasium's MuJoCo envs render into an EGL/OSMesa context that closing *another* MuJoCo env in
        # this process leaves un-current (then every render is black): make it current first.
        viewer = getattr(getattr(env, "mujoco_renderer", None), "viewer", None)
        if viewer is not None and hasattr(viewer, "make_context_current"):
            viewer.make_context_current()
        return np.asarray(env.render())

    # ---- context frames ------------------------------------------------------------------------------
    def context_frames(self, row: int, seed: int, options: dict | None) -> np.ndarray:
        """The K frames (K, H, W, 3) a rollout starts from (module docstring)."""
        options = check_reset_options(options)
        if not options and self.starts is not None:
            return self.starts.sample(seed)
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
        return np.repeat(self.gt_frame(gt, obs)[None], self.k, axis=0)

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
            **self.state_info(),
        }
        if self.paired:
            gt = [env.step(a) for env, a in zip(self.gt, actions, strict=True)]
            info["gt_frame"] = np.stack(
                [self.gt_frame(env, g[0]) for env, g in zip(self.gt, gt, strict=True)]
            )
            info["gt_reward"] = np.array([g[1] for g in gt], dtype=np.float32)
            info["gt_is_success"] = np.array([bool(g[4].get("is_success", False)) for g in gt])
        return self.frames.copy(), reward.astype(np.float64), terminated, info

    def close(self) -> None:
        gt, self.gt = self.gt, []
        for env in gt:
            close_gt_env(env)

    def __del__(self):  # an env dropped without close() must free its GL resources the safe way too
        try:
            self.close()
        except Exception:  # at interpreter exit the GL platform may be gone already
            pass


def close_gt_env(env: gym.Env) -> None:
    """Close a GT env. Gymnasium's MuJoCo envs first get their renderers' ``MjrContext`` freed under
    their own GL context: ``env.close()`` frees only the GL context, and the garbage collector later frees
    the ``MjrContext`` under whatever context is current *then* (another env's), deleting that env's
    framebuffer: every later render of it is black (a second ``WFM-v0`` of a Reacher bundle in one process
    started its rollouts from black frames)."""
    renderer = getattr(env, "mujoco_renderer", None)
    viewers = list(getattr(renderer, "_viewers", {}).values()) if renderer is not None else []
    for viewer in viewers:
        con, gl = getattr(viewer, "con", None), getattr(viewer, "opengl_context", None)
        if con is None or gl is None:
            continue
        if hasattr(gl, "as_current"):
            with gl.as_current():
                con.free()
        else:
            gl.make_current()
            con.free()
    env.close()


class _AnyRollouts(_Rollouts):
    """``_Rollouts`` of ``cosmos_sim/WFM-v0``: single-view bundles of any env."""

    env_label = GENERIC_ID
    bundle_env_ids = None


def _set_threads(cfg: WorldModelEnvConfig, label: str) -> None:
    """One torch thread (``cfg.threads``) when the model runs on the CPU."""
    from cosmos_sim.world_models.pretrained import resolve_device
    from cosmos_sim.world_models.wfm import set_torch_threads

    if cfg.threads and resolve_device(cfg.device).type == "cpu":
        set_torch_threads(cfg.threads, what=label)


class WorldModelEnv(gym.Env):
    r"""One rollout of a learned world model as a Gymnasium env: ``step`` returns the predicted next frame.

    ## Description
    ``cosmos_sim/Manipulation-WFM-v0``: a world model trained on ``cosmos_sim/Manipulation-GT-v0`` at
    64x64 imitates the GT scene (``model.config.env_id``). A bundle of another env is a
    ``CheckpointError`` naming the id that runs it (``cosmos_sim/WFM-v0`` for any single-view
    bundle, ``GenericWorldModelEnv``). Two kinds of bundle:

    - a **renderer of state** (the default, ``assets/wfm/manip-render-fast-nano``, or ``manip-render-nano``
      with the full decoder, 0.2 dB sharper and 1.7x slower; ``envs/state_render.py``):
      a learned state model steps the arm's and the block's positions with each action, and the DiT
      draws the frame from the episode's first frame and maps of that state, so nothing drifts in
      pixels; reward and success are the task's rule on that state (``info["ee_pos"]``,
      ``info["block_pos"]``);
    - a frame-to-frame model (``manip-dit-nano``, ``manip-dit16r-nano``, ...): each ``step`` predicts
      the next latent frame from the last ``K`` (the checkpoint's context frames) and the action,
      decodes it, and predicts reward and success with the model's reward head.

    Nothing is simulated unless ``paired=True``, which steps the GT scene beside the model with the
    same actions for comparison.

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
    A renderer of state: the push (or reach) task's reward and success computed from its state, as
    the GT scene computes them from its own. A frame-to-frame model: the reward head's prediction for
    the new frame and action (trained on the GT reward).
    ``info`` after each ``step``: ``step`` (model steps since reset), ``success_prob`` (the head's
    success probability) and ``is_success``; with ``paired=True`` also ``gt_frame``,
    ``gt_reward`` and ``gt_is_success`` of the GT scene. ``info`` after ``reset``: ``step`` = 0.

    ## Starting State
    ``reset(seed=..., options=...)`` fills the ``K`` context slots:

    - default: the GT scene is reset with the same seed and its first frame fills all ``K``
      slots (the model was trained on episode starts padded the same way);
    A renderer of state also takes the GT scene's state (arm, block, goal) there, and refuses the two
    options below (frames carry no arm state: use ``checkpoint="manip-dit-nano"`` to start from frames).

    - ``options["frames"]``: 1..K uint8 frames ``(n, H, W, 3)`` (or one ``(H, W, 3)``), oldest
      first, front-padded by repeating the first; frames of another size are a ``ValueError``
      (not allowed with ``paired=True``);
    - ``options["episode"]``: ``(store_path, index)``, the first frame of a recorded episode.

    Any other option is a ``ValueError`` naming the valid ones.

    ## Episode End
    ### Termination
    When the predicted success probability exceeds 0.5 (``SUCCESS_THRESHOLD``; a renderer of state: its
    state's success;
    ``info["is_success"]``). Never with ``head_terminates=False``.

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
    | `checkpoint`    | **str or path**         | `"manip-render-fast-nano"` | bundle directory or name under ``assets/wfm/`` (None: the default) |
    | `device`        | **str**                 | `"auto"`           | torch device; "auto" is CUDA if available, else CPU |
    | `paired`        | **bool**                | `False`            | step the GT scene beside the model, its outcome in ``info`` |
    | `sampler_steps` | **int or None**         | `None`             | denoiser calls per frame, replacing the checkpoint's (>= 1) |
    | `adapter`       | **str or path**         | `None`             | a LoRA adapter directory trained on `checkpoint` (`train-wfm --lora-rank`), put on top |
    | `head_terminates`| **bool**                | `True`             | end an episode when the head's termination probability > 0.5; False: only the time limit |
    | `threads`       | **int**                 | `1`                | torch CPU threads of the process, set on the CPU (0: torch's own) |

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
        self.check_config(cfg)
        _set_threads(cfg, type(self).__name__)
        core = self.core_class.for_bundle(cfg.checkpoint)
        self.core = core(1, cfg.checkpoint, cfg.device, cfg.paired, cfg.sampler_steps, cfg.adapter)
        if getattr(cfg, "start_from", ()):
            self.core.starts = StartFrames(cfg.start_from, self.core.frame_shape, self.core.k)
        self.model = self.core.model
        self.action_space = self.core.action_space
        self.action_layout = self.model.config.action_layout
        self.observation_space = self.core.observation_space()
        #: The env's own time limit (None: none; the registered id's ``max_episode_steps`` truncates).
        self.max_episode_steps: int | None = self.episode_steps(cfg)

    def check_config(self, cfg: WorldModelEnvConfig) -> None:
        """Checks of the config before anything is loaded (subclasses)."""

    def episode_steps(self, cfg: WorldModelEnvConfig) -> int | None:
        """The env's own time limit once the model is loaded (None: the registered id's TimeLimit)."""
        return None

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
        terminated &= self.config.head_terminates
        truncated = bool(self.max_episode_steps) and int(self.core.steps[0]) >= self.max_episode_steps
        return (
            self.core.observation(0),
            float(reward[0]),
            bool(terminated[0]),
            truncated,
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
    Per row, when the predicted success probability exceeds 0.5 (``SUCCESS_THRESHOLD``). Never with ``head_terminates=False``.

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
    | `checkpoint`        | **str or path**               | `"manip-render-fast-nano"` | bundle directory or name under ``assets/wfm/`` (None: the default) |
    | `device`            | **str**                       | `"auto"`           | torch device; "auto" is CUDA if available, else CPU |
    | `paired`            | **bool**                      | `False`            | step a GT scene per row beside the model  |
    | `sampler_steps`     | **int or None**               | `None`             | denoiser calls per frame, replacing the checkpoint's (>= 1) |
    | `adapter`           | **str or path**               | `None`             | a LoRA adapter directory trained on `checkpoint` (`train-wfm --lora-rank`), put on top |
    | `head_terminates`   | **bool**                      | `True`             | end an episode when the head's termination probability > 0.5; False: only the time limit |
    | `threads`           | **int**                       | `1`                | torch CPU threads of the process, set on the CPU (0: torch's own) |
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
        self.num_envs, self.render_mode = num_envs, render_mode
        self.check_config(cfg)
        _set_threads(cfg, type(self).__name__)
        self.core = self.core_class.for_bundle(cfg.checkpoint)(
            num_envs, cfg.checkpoint, cfg.device, cfg.paired, cfg.sampler_steps, cfg.adapter
        )
        if getattr(cfg, "start_from", ()):
            self.core.starts = StartFrames(cfg.start_from, self.core.frame_shape, self.core.k)
        self.model = self.core.model
        self.max_episode_steps = self.episode_steps(cfg)
        self.single_action_space = self.core.action_space
        self.single_observation_space = self.core.observation_space()
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._autoreset = np.zeros(num_envs, dtype=bool)

    def check_config(self, cfg: WorldModelEnvConfig) -> None:
        """Checks of the config before anything is loaded (subclasses)."""

    def episode_steps(self, cfg: WorldModelVectorEnvConfig) -> int | None:
        """Per-row time limit once the model is loaded (None or 0: never)."""
        return cfg.max_episode_steps

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
        terminated &= self.config.head_terminates
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


def _require_checkpoint(cfg: GenericWorldModelEnvConfig) -> None:
    if cfg.checkpoint is None or str(cfg.checkpoint) == "":
        from cosmos_sim.assets import ASSETS_DIR

        shipped = sorted(p.name for p in (ASSETS_DIR / "wfm").iterdir() if p.is_dir())
        raise ConfigError(
            f"{GENERIC_ID} runs the world-model bundle you give it: gym.make({GENERIC_ID!r}, checkpoint=DIR) "
            f"with DIR a `cosmos-sim train-wfm` run's OUT/best, or a shipped name ({', '.join(shipped)})"
        )


class GenericWorldModelEnv(WorldModelEnv):
    r"""A world model of any Gymnasium env that renders ``rgb_array``, as a Gymnasium env: ``cosmos_sim/WFM-v0``.

    ## Description
    ``gym.make("cosmos_sim/WFM-v0", checkpoint=DIR)`` runs the single-view ``WorldModel`` bundle
    ``DIR`` (a ``cosmos-sim train-wfm`` run's ``OUT/best``, or a shipped name) as an env: each
    ``step`` predicts the next frame of the env the bundle imitates (``model.config.env_id``, made
    with the kwargs its training store was recorded with, e.g. camera settings) from the last ``K``
    frames and the action, and the reward head predicts reward and termination. Works for bundles
    of any env, e.g. ``Reacher-v5`` recorded with ``cosmos-sim generate`` (README, "Bring your own
    environment"), and for the manipulation and physics bundles. Multi-view bundles are refused,
    naming ``cosmos_sim/Driving-WFM-v0``. ``paired=True`` steps the source env beside the model. The
    sampler noise is seeded at reset: the same seed and actions give the same frames on the CPU.
    ``gym.make_vec("cosmos_sim/WFM-v0", num_envs=N, checkpoint=DIR)`` gives
    ``GenericWorldModelVectorEnv`` (one batched forward pass per step). A bundle trained with
    ``train-wfm --render-from-state`` (a Gymnasium MuJoCo env) is a renderer of state (``envs/body_render.py``):
    a state model steps the env's ``qpos``/``qvel`` with each action (also in ``info``) and the DiT draws every
    frame from the episode's first one and the bodies' positions, so its rollouts cannot drift in pixels; it
    starts from the source env's state at the reset seed and refuses ``options["frames"/"episode"]`` and
    ``start_from``.

    ## Action Space
    The source env's action space, checked against the bundle's ``action_layout`` (for
    ``Reacher-v5`` `Box(-1, 1, (2,), float32)`). An action outside the space, of another shape or
    with NaN raises a ``ValueError``.

    ## Observation Space
    The decoded predicted frame, `Box(0, 255, (H, W, 3), uint8)` at the bundle's ``frame_size``:
    what the source env observes when that is an image, else what it renders (``rgb_array``), as
    ``cosmos-sim generate`` recorded it. ``render()`` returns the same frame.

    ## Rewards
    The reward head's prediction for the new frame and action (trained on the source env's reward).
    ``info`` after each ``step``: ``step``, ``success_prob`` (the head's termination probability)
    and ``is_success``; with ``paired=True`` also ``gt_frame``, ``gt_reward`` and
    ``gt_is_success`` of the source env. ``info`` after ``reset``: ``step`` = 0.

    ## Starting State
    ``reset(seed=..., options=...)`` fills the ``K`` context slots: by default with the first frame
    of the source env reset with that seed (its observation, or its render when it observes state);
    ``options["frames"]`` (1..K uint8 frames ``(n, H, W, 3)``) or ``options["episode"]``
    (``(store_path, index)``) start elsewhere, as for ``WorldModelEnv``. Any other option is a
    ``ValueError`` naming the valid ones.

    ## Episode End
    ### Termination
    When the head's termination probability exceeds 0.5 (``SUCCESS_THRESHOLD``; trained on
    ``is_success``, or on ``terminated`` in stores without it, so an env that never terminates,
    like ``Reacher-v5``, gives a head that learns not to). Never with ``head_terminates=False``.

    ### Truncation
    The env truncates itself after ``max_episode_steps`` steps: by default the bundle's episode
    length (the source env's time limit when its store was recorded, 50 for ``Reacher-v5``, else its
    registered one). ``gym.make``'s own ``max_episode_steps=`` adds Gymnasium's ``TimeLimit`` on
    top (it can only shorten episodes); a longer limit is ``config=GenericWorldModelEnvConfig(...)``.

    ## Arguments
    Options come one way: ``GenericWorldModelEnv(config=None, *, render_mode="rgb_array",
    **overrides)`` where ``config`` is a ``GenericWorldModelEnvConfig`` and every override is one
    of its fields; an unknown keyword is a ``ValueError`` naming it and the valid ones, raised
    before anything is loaded; no ``checkpoint`` is a ``ValueError`` too. The result is
    ``env.config``.

    ```python
    import gymnasium as gym
    env = gym.make("cosmos_sim/WFM-v0", checkpoint="runs/reacher/wfm/best")
    ```

    | Parameter           | Type                           | Default       | Description                                     |
    |---------------------|--------------------------------|---------------|-------------------------------------------------|
    | `config`            | **GenericWorldModelEnvConfig** | `None`        | all settings at once; keyword options replace fields |
    | `render_mode`       | **str**                        | `"rgb_array"` | "rgb_array" (the predicted frame) or None       |
    | `checkpoint`        | **str or path**                | `None`        | bundle directory or name under ``assets/wfm/``; required |
    | `device`            | **str**                        | `"auto"`      | torch device; "auto" is CUDA if available, else CPU |
    | `paired`            | **bool**                       | `False`       | step the source env beside the model, its outcome in ``info`` |
    | `sampler_steps`     | **int or None**                | `None`        | denoiser calls per frame, replacing the checkpoint's (>= 1) |
    | `adapter`           | **str or path**                | `None`        | a LoRA adapter directory trained on `checkpoint` (`train-wfm --lora-rank`), put on top |
    | `head_terminates`   | **bool**                       | `True`        | end an episode when the head's termination probability > 0.5; False: only the time limit |
    | `threads`           | **int**                        | `1`           | torch CPU threads of the process, set on the CPU (0: torch's own) |
    | `max_episode_steps` | **int or None**                | `None`        | own time limit (None: the bundle's; 0: never)   |
    | `start_from`        | **tuple of str**               | `()`          | stores whose recorded frames start the rollouts (a random step per reset seed) |

    ## Version History
    * v0: Initial version.
    """

    core_class = _AnyRollouts
    config_class = GenericWorldModelEnvConfig

    def check_config(self, cfg: GenericWorldModelEnvConfig) -> None:
        _require_checkpoint(cfg)

    def episode_steps(self, cfg: GenericWorldModelEnvConfig) -> int | None:
        if cfg.max_episode_steps is not None:
            return cfg.max_episode_steps or None
        return bundle_episode_steps(self.model.config)


class GenericWorldModelVectorEnv(WorldModelVectorEnv):
    r"""``num_envs`` rollouts of a world model of any env, one batched forward pass per step: ``cosmos_sim/WFM-v0``.

    ## Description
    The natively batched form of ``GenericWorldModelEnv`` that
    ``gym.make_vec("cosmos_sim/WFM-v0", num_envs=N, checkpoint=DIR)`` gives: all ``N`` rollouts
    share one model and advance with one forward pass per step; row ``i`` after ``reset(seed=s)``
    is the single env reset with seed ``s + i``. Finished rows restart on the next step
    (``autoreset_mode = NEXT_STEP``): that step returns the new episode's first frame with reward
    0, not terminated or truncated, and ``info["step"]`` 0.

    ## Action Space
    ``single_action_space`` is the source env's (checked against the bundle's ``action_layout``);
    ``action_space`` is it batched, ``(num_envs, A)``. A batch of another shape, or any row outside
    the space or with NaN, raises a ``ValueError``.

    ## Observation Space
    ``single_observation_space`` is ``GenericWorldModelEnv``'s (`Box(0, 255, (H, W, 3), uint8)` at
    the bundle's frame size); ``observation_space`` is it batched. ``render()`` returns all rows'
    frames.

    ## Rewards
    As ``GenericWorldModelEnv``, per row; ``info`` holds arrays over the rows (``step``,
    ``success_prob``, ``is_success``; with ``paired=True`` ``gt_frame``, ``gt_reward``,
    ``gt_is_success``).

    ## Starting State
    As ``GenericWorldModelEnv``; ``reset(seed=s)`` seeds row ``i`` with ``s + i`` (a list gives
    one seed per row; None draws them), ``options`` apply to every row. Autoreset rows draw new
    seeds from the env's generator.

    ## Episode End
    ### Termination
    Per row, when the head's termination probability exceeds 0.5 (``SUCCESS_THRESHOLD``). Never with ``head_terminates=False``.

    ### Truncation
    Per row, after ``max_episode_steps`` model steps: by default the bundle's episode length (the
    source env's time limit when its store was recorded, else its registered one); 0: never.

    ## Arguments
    Options come one way: ``GenericWorldModelVectorEnv(num_envs=1, config=None, *,
    render_mode="rgb_array", **overrides)`` where ``config`` is a ``GenericWorldModelEnvConfig`` and
    every override is one of its fields; an unknown keyword is a ``ValueError`` naming it and the
    valid ones; no ``checkpoint`` is a ``ValueError`` too. The result is ``env.config``.

    ```python
    import gymnasium as gym
    envs = gym.make_vec("cosmos_sim/WFM-v0", num_envs=32, checkpoint="runs/reacher/wfm/best")
    ```

    | Parameter           | Type                           | Default       | Description                               |
    |---------------------|--------------------------------|---------------|-------------------------------------------|
    | `num_envs`          | **int**                        | `1`           | rollouts stepped together (>= 1)          |
    | `config`            | **GenericWorldModelEnvConfig** | `None`        | all settings at once; keyword options replace fields |
    | `render_mode`       | **str**                        | `"rgb_array"` | "rgb_array" (every row's frame) or None   |
    | `checkpoint`        | **str or path**                | `None`        | bundle directory or name under ``assets/wfm/``; required |
    | `device`            | **str**                        | `"auto"`      | torch device; "auto" is CUDA if available, else CPU |
    | `paired`            | **bool**                       | `False`       | step a source env per row beside the model |
    | `sampler_steps`     | **int or None**                | `None`        | denoiser calls per frame, replacing the checkpoint's (>= 1) |
    | `adapter`           | **str or path**                | `None`        | a LoRA adapter directory trained on `checkpoint` (`train-wfm --lora-rank`), put on top |
    | `head_terminates`   | **bool**                       | `True`        | end an episode when the head's termination probability > 0.5; False: only the time limit |
    | `threads`           | **int**                        | `1`           | torch CPU threads of the process, set on the CPU (0: torch's own) |
    | `max_episode_steps` | **int or None**                | `None`        | truncation per row (None: the bundle's; 0: never) |
    | `start_from`        | **tuple of str**               | `()`          | stores whose recorded frames start the rows (a random step per reset seed) |

    ## Version History
    * v0: Initial version.
    """

    core_class = _AnyRollouts
    config_class = GenericWorldModelEnvConfig

    def check_config(self, cfg: GenericWorldModelEnvConfig) -> None:
        _require_checkpoint(cfg)

    def episode_steps(self, cfg: GenericWorldModelEnvConfig) -> int | None:
        if cfg.max_episode_steps is not None:
            return cfg.max_episode_steps
        return bundle_episode_steps(self.model.config)


__all__ = [
    "DEFAULT_CHECKPOINT",
    "GENERIC_ID",
    "MANIPULATION_ENV_IDS",
    "RESET_OPTIONS",
    "GenericWorldModelEnv",
    "GenericWorldModelEnvConfig",
    "GenericWorldModelVectorEnv",
    "WorldModelEnv",
    "WorldModelEnvConfig",
    "WorldModelVectorEnv",
    "WorldModelVectorEnvConfig",
    "bundle_episode_steps",
    "check_reset_options",
    "env_id_for_bundle",
    "resolve_checkpoint",
]
