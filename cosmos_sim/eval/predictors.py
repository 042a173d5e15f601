"""Video predictors for the physics benchmark: given the first frames of a GT episode, predict the next ones.

A ``Predictor`` has a ``name`` and ``predict(episode, horizon, seed) -> (horizon, H, W, 3)`` uint8.
The ``Episode`` carries the context frames (frames ``0 .. C-1`` of a GT episode) and, for the
predictors that re-simulate rather than look at pixels, the env id, its kwargs and the reset
seed. The prediction covers frames ``C .. C + horizon - 1``.

- ``CopyLast``: holds the last context frame (the "nothing moves" floor every model must beat).
- ``FlowExtrapolation``: constant velocity in image space. Farneback optical flow from the last
  context frame back to the one before gives each pixel's velocity; every step forward-splats
  the frame and its velocity field by that velocity (so moving regions keep moving), and the
  pixels a moving region uncovers are in-painted from their surroundings (OpenCV Telea). With a
  1-frame context there is no flow: it degenerates to copy-last.
- ``PhysicalVariance``: not frame-based. Re-runs the GT simulator from the same seed (same initial
  state) with every mass, friction and restitution scaled by its own factor in [0.95, 1.05]
  (``reset(options={"perturb": 0.05, "take": 1})``) and returns its frames: how far a second
  "take" of the same physical event lands, i.e. what "as good as physics" scores.
- ``WorldModelPredictor``: a ``WorldModel`` rolled out open loop with zero actions (the physics
  scenes take a no-op action) from the encoded context.
- ``Video2WorldPredictor``: a local diffusers ``Cosmos2VideoToWorldPipeline`` checkpoint (NVIDIA's
  Cosmos-Predict2 Video2World, or anything in that layout): the context resized to its resolution, one
  generated video per episode, the predicted frames cut out of it and resized back; guarded.

``make_predictor("copy-last" | "flow" | "physical-variance" | DIR | shipped name)`` builds one; a
directory with a ``model_index.json`` is a diffusers pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from cosmos_sim.errors import CheckpointError, ConfigError

BASELINES = ("copy-last", "flow", "physical-variance")
ONE_STEP = "one-step:"
"""Prefix of a world model's one-step predictor (``"one-step:physics-dit16-nano"``: ``OneStep``)."""
PERTURB = 0.05


@dataclass(frozen=True)
class Episode:
    """What a predictor gets: the context frames of a GT episode and how to re-create that episode."""

    context: np.ndarray
    """``(C, H, W, 3)`` uint8: frames ``0 .. C-1`` of the episode."""
    env_id: str = ""
    """Gymnasium id of the GT env that rendered it (needed by ``PhysicalVariance`` only)."""
    seed: int = 0
    """The env's reset seed of the episode."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Constructor kwargs of the GT env (e.g. width/height)."""

    def __post_init__(self):
        c = np.asarray(self.context)
        if c.ndim != 4 or c.shape[-1] != 3 or c.dtype != np.uint8 or len(c) < 1:
            raise ConfigError(f"context must be (C, H, W, 3) uint8 with C >= 1, got {c.dtype} {c.shape}")


@runtime_checkable
class Predictor(Protocol):
    """Predicts the ``horizon`` frames that follow an episode's context."""

    name: str

    def predict(self, episode: Episode, horizon: int, seed: int = 0) -> np.ndarray:
        """``(horizon, H, W, 3)`` uint8; ``seed`` seeds any sampling noise."""
        ...


def _check_horizon(horizon: int) -> None:
    if horizon < 1:
        raise ConfigError(f"horizon must be >= 1, got {horizon}")


@dataclass(frozen=True)
class CopyLast:
    """Holds the last context frame."""

    name: str = "copy-last"
    """Label in tables."""

    def predict(self, episode: Episode, horizon: int, seed: int = 0) -> np.ndarray:
        _check_horizon(horizon)
        return np.repeat(episode.context[-1:], horizon, axis=0)


@dataclass(frozen=True)
class FlowConfig:
    """Farneback optical flow and splatting settings of ``FlowExtrapolation``."""

    pyr_scale: float = 0.5
    """Image scale between pyramid levels."""
    levels: int = 3
    """Pyramid levels (64x64 frames: 3 reach 16x16)."""
    winsize: int = 9
    """Averaging window (pixels): small, the objects are 5-15 pixels wide."""
    iterations: int = 5
    """Iterations per pyramid level."""
    poly_n: int = 5
    """Neighbourhood of the per-pixel polynomial expansion."""
    poly_sigma: float = 1.1
    """Gaussian sigma of that expansion (1.1 for poly_n 5, as OpenCV suggests)."""
    min_motion: float = 0.5
    """Pixels moving less than this (pixels per frame) are treated as static."""
    inpaint_radius: int = 3
    """Radius of the in-painting of uncovered pixels."""


def farneback_velocity(prev: np.ndarray, last: np.ndarray, cfg: FlowConfig = FlowConfig()) -> np.ndarray:
    """``(H, W, 2)`` velocity (dx, dy pixels per frame) of each pixel of ``last``, from ``prev`` -> ``last``."""
    g0 = cv2.cvtColor(np.ascontiguousarray(prev), cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(np.ascontiguousarray(last), cv2.COLOR_RGB2GRAY)
    # Flow from last back to prev lives on last's pixel grid: last(x) ~ prev(x + b(x)), so v = -b.
    back = cv2.calcOpticalFlowFarneback(
        g1, g0, None, cfg.pyr_scale, cfg.levels, cfg.winsize, cfg.iterations, cfg.poly_n, cfg.poly_sigma, 0
    )
    return -back


def splat_forward(
    frame: np.ndarray, velocity: np.ndarray, cfg: FlowConfig = FlowConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """Move every moving pixel of ``frame`` (and its velocity) by its velocity; in-paint what it uncovers."""
    h, w = frame.shape[:2]
    moving = np.linalg.norm(velocity, axis=-1) >= cfg.min_motion
    ys, xs = np.nonzero(moving)
    tx = np.rint(xs + velocity[ys, xs, 0]).astype(int)
    ty = np.rint(ys + velocity[ys, xs, 1]).astype(int)
    inside = (tx >= 0) & (tx < w) & (ty >= 0) & (ty < h)
    out, vel = frame.copy(), np.where(moving[..., None], 0.0, velocity).astype(np.float32)
    hole = moving.copy()
    src_y, src_x, ty, tx = ys[inside], xs[inside], ty[inside], tx[inside]
    out[ty, tx] = frame[src_y, src_x]
    vel[ty, tx] = velocity[src_y, src_x]
    hole[ty, tx] = False
    if hole.any():
        out = cv2.inpaint(out, hole.astype(np.uint8), cfg.inpaint_radius, cv2.INPAINT_TELEA)
    return out, vel


@dataclass(frozen=True)
class FlowExtrapolation:
    """Constant-velocity extrapolation of Farneback flow (copy-last with a 1-frame context)."""

    config: FlowConfig = FlowConfig()
    """Flow and splatting settings."""
    name: str = "flow"
    """Label in tables."""

    def predict(self, episode: Episode, horizon: int, seed: int = 0) -> np.ndarray:
        _check_horizon(horizon)
        ctx = episode.context
        if len(ctx) < 2:  # no motion to measure from one frame
            return CopyLast().predict(episode, horizon)
        frame = ctx[-1]
        velocity = farneback_velocity(ctx[-2], frame, self.config)
        out = []
        for _ in range(horizon):
            frame, velocity = splat_forward(frame, velocity, self.config)
            out.append(frame)
        return np.stack(out)


@dataclass(frozen=True)
class PhysicalVariance:
    """The GT simulator re-run from the same seed with masses, frictions, restitutions perturbed by +-``perturb``."""

    perturb: float = PERTURB
    """Relative half-width of the uniform perturbation of each physical parameter."""
    take: int = 1
    """Which independent perturbation (take 0 is the unperturbed GT when perturb is 0)."""
    name: str = "physical-variance"
    """Label in tables."""

    def predict(self, episode: Episode, horizon: int, seed: int = 0) -> np.ndarray:
        import gymnasium as gym

        import cosmos_sim  # noqa: F401  (registers the ids)

        _check_horizon(horizon)
        if not episode.env_id:
            raise ConfigError(
                "PhysicalVariance re-simulates the episode: give the Episode its env_id and seed"
            )
        env = gym.make(episode.env_id, **episode.env_kwargs)
        try:
            obs, _ = env.reset(seed=episode.seed, options={"perturb": self.perturb, "take": self.take})
            noop = np.zeros(env.action_space.shape, env.action_space.dtype)
            frames = [obs]
            for _ in range(len(episode.context) - 1 + horizon):
                obs, *_ = env.step(noop)
                frames.append(obs)
        finally:
            env.close()
        out = np.stack(frames[len(episode.context) :])
        if out.shape[1:] != episode.context.shape[1:]:
            raise ConfigError(
                f"{episode.env_id} renders {out.shape[1:3]} frames but the context is "
                f"{episode.context.shape[1:3]}; pass the same width/height in env_kwargs"
            )
        return out


class WorldModelPredictor:
    """A ``WorldModel`` rolled out open loop with zero actions from the encoded context.

    The context is encoded frame by frame. With fewer than the model's ``K`` context frames it is
    padded at the front by repeating the first frame (how training starts episodes); with more, the
    last ``K`` are kept. Sampler noise comes from a generator seeded with ``seed``.
    """

    def __init__(self, model, name: str = "model"):
        self.model = model
        self.name = name

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, device: str = "auto", name: str | None = None
    ) -> WorldModelPredictor:
        """Load a world-model bundle or a shipped name (``CheckpointError`` for an empty or corrupt one)."""
        from cosmos_sim.world_models.wfm import WorldModel

        d = Path(directory)
        return cls(WorldModel.from_pretrained(d, device=device), name=name or d.name)

    def check_size(self, context: np.ndarray) -> None:
        """ConfigError unless the context frames have the model's size."""
        size = tuple(self.model.config.frame_size)
        if tuple(context.shape[1:3]) != size:
            raise ConfigError(
                f"world model {self.name!r} works on {size[0]}x{size[1]} (HxW) frames but the scenario "
                f"renders {context.shape[1]}x{context.shape[2]}; render the scenario at the model's "
                "resolution or use a model trained at the scenario's"
            )

    def predict(self, episode: Episode, horizon: int, seed: int = 0) -> np.ndarray:
        import torch

        _check_horizon(horizon)
        m = self.model
        ctx = episode.context
        self.check_size(ctx)
        k = m.context_frames
        z = m.encode(ctx[None])  # (1, C, ...)
        if z.shape[1] < k:
            z = torch.cat([z[:, :1].expand(-1, k - z.shape[1], *z.shape[2:]), z], dim=1)
        state = m.start(z[:, -k:].contiguous())
        action = np.zeros((1, m.dynamics.config.action_dim), np.float32)
        gen = torch.Generator().manual_seed(int(seed))
        out = []
        for _ in range(horizon):
            state, nxt = m.predict_next(state, action, noise=m.noise([gen]), generator=gen)
            out.append(m.decode(nxt)[0])
        return np.stack(out)


class OneStep:
    """A world model's one-step error: every frame predicted from the true frames before it, so no error
    feeds on itself. The truth after the context is the episode re-simulated from its ``env_id`` and seed
    (``PhysicalVariance`` unperturbed). The gap to the same model's open loop (``WorldModelPredictor``) is
    what the model loses to drift: its own slightly-off frames fed back as context."""

    def __init__(self, inner: WorldModelPredictor):
        self.inner = inner
        self.name = f"{inner.name} one-step"

    def predict(self, episode: Episode, horizon: int, seed: int = 0) -> np.ndarray:
        import torch

        self.inner.check_size(episode.context)  # before simulating anything
        truth = PhysicalVariance(perturb=0.0, take=0).predict(episode, horizon)
        m, c = self.inner.model, len(episode.context)
        k = m.context_frames
        z = m.encode(np.concatenate([episode.context, truth[:-1]])[None])  # (1, C + H - 1, ...)
        if c < k:  # padded at the front like the open loop
            z = torch.cat([z[:, :1].expand(-1, k - c, *z.shape[2:]), z], dim=1)
        start = z.shape[1] - horizon + 1 - k  # the open loop's first window
        windows = torch.stack([z[0, start + t : start + t + k] for t in range(horizon)])
        gen = torch.Generator().manual_seed(int(seed))
        draws = [m.noise([gen]) for _ in range(horizon)]  # the open loop's draws, step by step
        noise = None if draws[0] is None else torch.cat(draws)
        action = np.zeros((horizon, m.dynamics.config.action_dim), np.float32)
        _, nxt = m.predict_next(m.start(windows.contiguous()), action, noise=noise, generator=gen)
        return m.decode(nxt)


@dataclass(frozen=True)
class Video2WorldOptions:
    """How ``Video2WorldPredictor`` runs a diffusers checkpoint (``bench physics --model-options`` JSON)."""

    height: int = 704
    """Height the context is resized to and the video generated at (the checkpoint's; Predict2-2B: 704)."""
    width: int = 1280
    """Width of the same (Predict2-2B: 1280)."""
    steps: int = 35
    """Denoising steps."""
    guidance_scale: float = 7.0
    """Classifier-free guidance scale (1: none; > 1 needs a text encoder or negative_prompt_embeds)."""
    max_sequence_length: int = 512
    """T5 tokens of a prompt."""
    fps: int = 16
    """Frame rate the transformer is told."""
    prompt: str = ""
    """One prompt for every scenario; empty: each episode's own caption (``cosmos_sim.envs.captions``)."""
    prompt_embeds: str = ""
    """Precomputed prompt embedding file (.safetensors, .pt, .npy) for a checkpoint without a text encoder."""
    negative_prompt_embeds: str = ""
    """Its negative prompt's embedding (guidance > 1 without a text encoder)."""
    safety_checker: str = "cosmos_sim.guardrail:SafetyChecker"
    """MODULE:CALLABLE giving the safety checker (cosmos-sim's guardrail by default)."""

    @classmethod
    def from_json(cls, text: str) -> Video2WorldOptions:
        """Options from a JSON object (empty: the defaults); a ConfigError naming unknown keys."""
        import json
        from dataclasses import fields

        if not text:
            return cls()
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"--model-options must be a JSON object, got {text!r}: {e}") from None
        names = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) - names:
            bad = sorted(set(raw) - names) if isinstance(raw, dict) else raw
            raise ConfigError(f"--model-options: unknown {bad}; valid keys: {sorted(names)}")
        return cls(**raw)


def episode_prompt(episode: Episode, frames: int | None = None) -> str:
    """The text a prompted model gets for ``episode``: the long caption its GT scene gives of the same seed
    over ``frames`` frames (``cosmos_sim.envs.captions``: objects, colours, how they move), or a sentence
    naming the scene for an env that does not describe itself."""
    import gymnasium as gym

    import cosmos_sim  # noqa: F401  (registers the ids)
    from cosmos_sim.data.generate import TEXT_KEY, rollout

    scene = episode.env_id.split("/")[-1].removesuffix("-GT-v0").replace("-", " ") or "a scene"
    fallback = f"A video of the {scene} scene, static camera."
    if not episode.env_id:
        return fallback
    env = gym.make(episode.env_id, **episode.env_kwargs)
    try:
        steps = None if frames is None else frames - 1
        text = rollout(env, "random", episode.seed, max_steps=steps, captions=True).get(TEXT_KEY)
    finally:
        env.close()
    return text["long"] if text else fallback


class Video2WorldPredictor:
    """A local diffusers Video2World checkpoint as a predictor (see the module docstring).

    The pipeline generates ``1 + 4k`` frames, its conditioning frames included: ``k`` is the smallest that
    covers context + horizon; the ``horizon`` frames after the context are kept.
    """

    def __init__(
        self, directory: str | Path, device: str = "auto", options: Video2WorldOptions | None = None
    ):
        self.directory = Path(directory)
        self.options = options or Video2WorldOptions()
        self.device = device
        self.name = self.directory.resolve().name
        self._v2w = None
        self._embeds: dict[str, Any] = {}

    def _model(self, num_frames: int):
        from dataclasses import replace

        from cosmos_sim.world_models.cosmos_video2world import Video2World, Video2WorldConfig

        o = self.options
        config = Video2WorldConfig(
            height=o.height,
            width=o.width,
            num_frames=num_frames,
            steps=o.steps,
            guidance_scale=o.guidance_scale,
            fps=o.fps,
            max_sequence_length=o.max_sequence_length,
        )
        if self._v2w is None:
            from cosmos_sim.guardrail.checker import load_safety_checker
            from cosmos_sim.world_models.cosmos_diffusers import load_prompt_embeds

            checker = load_safety_checker(o.safety_checker)
            self._v2w = Video2World(self.directory, checker, device=self.device, config=config)
            for key in ("prompt_embeds", "negative_prompt_embeds"):
                if getattr(o, key):
                    self._embeds[key] = load_prompt_embeds(getattr(o, key))
        self._v2w.config = replace(config)
        return self._v2w

    def predict(self, episode: Episode, horizon: int, seed: int = 0) -> np.ndarray:
        from dataclasses import replace

        _check_horizon(horizon)
        c = len(episode.context)
        num_frames = 1 + 4 * -(-(c + horizon - 1) // 4)
        v2w = self._model(num_frames)
        v2w.config = replace(v2w.config, seed=int(seed))
        prompt = self.options.prompt or episode_prompt(episode, frames=c + horizon)
        video = v2w(episode.context, prompt=prompt, output_size=episode.context.shape[1:3], **self._embeds)
        return video[c : c + horizon]


def is_diffusers_pipeline(path: str | Path) -> bool:
    """``path`` is a directory in diffusers' pipeline layout (has ``model_index.json``)."""
    return (Path(path) / "model_index.json").is_file()


def make_predictor(name_or_dir: str, device: str = "auto", options: str = "") -> Predictor:
    """A baseline by name (``BASELINES``), a world model from a bundle directory or a shipped name (prefixed
    ``"one-step:"``: its ``OneStep`` predictions), or a diffusers Video2World pipeline directory
    (``options``: a JSON object of ``Video2WorldOptions``)."""
    if is_diffusers_pipeline(name_or_dir):
        return Video2WorldPredictor(name_or_dir, device=device, options=Video2WorldOptions.from_json(options))
    if options:
        raise ConfigError(
            f"--model-options is for diffusers Video2World checkpoints; {name_or_dir!r} is not one "
            "(no model_index.json)"
        )
    if name_or_dir == "copy-last":
        return CopyLast()
    if name_or_dir == "flow":
        return FlowExtrapolation()
    if name_or_dir == "physical-variance":
        return PhysicalVariance()
    if name_or_dir.startswith(ONE_STEP):
        inner = make_predictor(name_or_dir[len(ONE_STEP) :], device=device)
        if not isinstance(inner, WorldModelPredictor):
            raise ConfigError(f"{name_or_dir!r}: one-step predictions need a cosmos-sim world model bundle")
        return OneStep(inner)
    from cosmos_sim.envs.wfm_env import resolve_checkpoint

    try:
        path = resolve_checkpoint(name_or_dir)
    except CheckpointError as e:
        raise ConfigError(
            f"unknown predictor {name_or_dir!r}: not one of the baselines {list(BASELINES)} and {e}"
        ) from None
    return WorldModelPredictor.from_pretrained(path, device=device, name=Path(name_or_dir).name)


def predictor_identity(name_or_dir: str) -> dict[str, str]:
    """What identifies a predictor's results (for resumable caches): its name, or a model's weights hash."""
    if name_or_dir in BASELINES:
        return {"predictor": name_or_dir}
    if name_or_dir.startswith(ONE_STEP):
        return predictor_identity(name_or_dir[len(ONE_STEP) :]) | {"mode": "one-step"}
    if is_diffusers_pipeline(name_or_dir):  # weights are GBs: identify them by name, size and time
        import hashlib

        h = hashlib.sha256()
        for f in sorted(Path(name_or_dir).rglob("*")):
            if f.is_file():
                st = f.stat()
                h.update(f"{f.relative_to(name_or_dir)}:{st.st_size}:{st.st_mtime_ns}".encode())
        return {"predictor": str(Path(name_or_dir).resolve()), "sha": h.hexdigest()[:16]}
    from cosmos_sim.envs.wfm_env import resolve_checkpoint
    from cosmos_sim.world_models.wfm import file_sha

    path = resolve_checkpoint(name_or_dir)
    weights, config = path / "model.safetensors", path / "config.json"  # the config: sampler settings, gain
    return {
        "predictor": str(path.resolve()),
        "sha": file_sha(weights) if weights.is_file() else "",
        "config": file_sha(config) if config.is_file() else "",
    }


__all__ = [
    "BASELINES",
    "CopyLast",
    "Episode",
    "FlowConfig",
    "FlowExtrapolation",
    "ONE_STEP",
    "OneStep",
    "PhysicalVariance",
    "Predictor",
    "Video2WorldOptions",
    "Video2WorldPredictor",
    "WorldModelPredictor",
    "episode_prompt",
    "is_diffusers_pipeline",
    "farneback_velocity",
    "make_predictor",
    "predictor_identity",
    "splat_forward",
]
