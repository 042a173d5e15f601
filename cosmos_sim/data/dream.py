r"""Synthetic trajectories: roll policies out inside a world model and record them as a trajectory store.

    cosmos-sim dream --model manip-dit-nano --from cosmos_sim/Manipulation-GT-v0 --policy random \
        --episodes 64 --out data/dream.zarr [--workers 2] [--executor local|ray] [--min-return -30]

Starting frames (``--from``):
    a GT id          the GT scene's first frame for seed ``seed + i`` (what the WFM env does);
    ``PATH.zarr``    the first frame of the store's episode ``(seed + i) mod n_episodes``;
    ``image.png``    one picture (model-sized, e.g. 64x64) starts every episode.
The frame fills the model's K context slots. Each episode then runs up to ``max_steps`` model steps,
ending early when the reward head's success probability passes 0.5 (as ``Manipulation-WFM-v0``).

Policies (``--policy``): ``random`` (uniform actions, seeded per episode), a policy directory
(``train-policy`` output; acts on the predicted frames with its mean action), or ``expert``. The
scripted expert reads the privileged GT state, which a dream has not: it is only available with a
GT id as ``--from``, where the GT scene runs in lockstep with the same actions to drive the expert
(the dream shows what the model predicts for those actions; it may drift from the GT scene).

Store: the module convention of ``cosmos_sim.data.generate`` (T+1 rows per episode; row t: the frame
after t steps and the action taken from it, the last row's action is padding) with keys ``rgb``,
``action``, ``reward`` (predicted), ``success_prob`` and ``is_success`` (predicted, per frame),
``terminated``/``truncated``; readable by ``TrajectoryWindowDataset``. The root attrs carry the
provenance: model directory and weight SHA, source, policy, seeds, filter and the command line.
``--min-return X`` keeps only episodes whose predicted return is >= X.

Parallel: episodes go in fixed blocks of ``block`` seeds, each rolled out as one batch by a worker
process (``--executor local``, the default) or a Ray task (``--executor ray``, ``pip install
'cosmos-sim[ray]'``); only this process writes, in seed order. The per-episode sampler noise comes
from a generator seeded by the episode's seed, so a config gives the same store whatever the workers.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from cosmos_sim.errors import ConfigError

SUCCESS_THRESHOLD = 0.5
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class DreamConfig:
    """Settings of a ``cosmos-sim dream`` run."""

    model: str = "manip-dit-nano"
    """World-model bundle directory or a name under assets/wfm/."""
    source: str = "cosmos_sim/Manipulation-GT-v0"
    """Starting frames: a GT Gymnasium id, a trajectory store (PATH.zarr) or an image (PNG/JPEG)."""
    policy: str = "random"
    """'random', 'expert' (GT id sources only) or a policy directory."""
    episodes: int = 16
    """Episodes to roll out (before filtering)."""
    out: str = "out/dream.zarr"
    """Output trajectory store (must not exist unless overwrite)."""
    seed: int = 0
    """Seed of episode 0; episode i uses seed + i (GT reset seed, store episode, noise, random actions)."""
    max_steps: int = 100
    """Model steps per episode at most."""
    min_return: float = -math.inf
    """Keep only episodes whose predicted return is >= this."""
    workers: int = 2
    """Parallel worker processes (or Ray tasks); 1 runs in this process."""
    executor: str = "local"
    """'local' (worker processes) or 'ray'."""
    block: int = 8
    """Episodes rolled out together as one batch by a worker."""
    device: str = "auto"
    """Device of the model in the workers: 'auto' (CUDA when present), 'cpu' or 'cuda'."""
    overwrite: bool = False
    """Replace an existing store at out."""
    progress: bool = True
    """Show a progress bar."""
    guardrail: bool = True
    """Pixelate faces in and watermark the dreamed frames (--no-guardrail: off, recorded in the store's attrs)."""

    def __post_init__(self):
        for name in ("episodes", "max_steps", "workers", "block"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.executor not in ("local", "ray"):
            raise ConfigError(f"executor must be 'local' or 'ray', got {self.executor!r}")


# ---- sources and policies ----------------------------------------------------------------------------
def source_kind(source: str) -> str:
    """'image', 'store' or 'gt' for a ``--from`` value (a ConfigError says what is accepted)."""
    import cosmos_sim  # noqa: F401  (registers the ids)
    from cosmos_sim.data.store import is_store

    if Path(source).suffix.lower() in IMAGE_SUFFIXES:
        if not Path(source).is_file():
            raise ConfigError(f"image {source} does not exist")
        return "image"
    if is_store(source):
        return "store"
    if source in gym.registry:
        return "gt"
    raise ConfigError(
        f"--from {source!r} is neither a registered Gymnasium id, a trajectory store nor a PNG/JPEG "
        "image; e.g. --from cosmos_sim/Manipulation-GT-v0, --from data/tok/train_manip_expert.zarr, "
        "--from frame.png"
    )


def _load_image(path: str, frame_shape: tuple[int, ...]) -> np.ndarray:
    import imageio.v3 as iio

    img = np.asarray(iio.imread(path))
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    img = img[..., :3].astype(np.uint8)
    if img.shape != frame_shape:
        raise ConfigError(
            f"image {path} is {img.shape[1]}x{img.shape[0]}, the world model works on "
            f"{frame_shape[1]}x{frame_shape[0]} frames; resize it first"
        )
    return img


def _check_policy(policy: str, kind: str) -> None:
    if policy == "expert" and kind != "gt":
        raise ConfigError(
            "the 'expert' policy reads the GT scene's privileged state, which a dream has not: use it "
            "with a GT id as --from (the GT scene then runs in lockstep to drive it), or use "
            "--policy random or a policy directory (policies that read pixels)"
        )
    if policy not in ("random", "expert") and not (Path(policy) / "config.json").is_file():
        raise ConfigError(
            f"--policy {policy!r} is not 'random', 'expert' or a policy directory (config.json + "
            "model.safetensors, from cosmos-sim train-policy)"
        )


def check_config(cfg: DreamConfig) -> tuple[str, Path]:
    """The checks ``dream`` runs before any work; returns the source's kind and the model directory.

    Raises a ConfigError for a bad source or policy, and the ValueError of
    ``cosmos_sim.envs.wfm_env.resolve_checkpoint`` for an unknown model.
    """
    from cosmos_sim.envs.wfm_env import resolve_checkpoint

    kind = source_kind(cfg.source)
    _check_policy(cfg.policy, kind)
    return kind, resolve_checkpoint(cfg.model)


# ---- one block of episodes (runs in a worker) ------------------------------------------------------
def dream_block(task: tuple[DreamConfig, str, list[int]]) -> list[dict[str, Any]]:
    """Roll out the episodes of ``seeds`` as one batch; returns ``[{"seed", "episode": {key: (T+1, ...)}}]``."""
    cfg, kind, seeds = task
    import cosmos_sim  # noqa: F401
    from cosmos_sim.envs.wfm_env import resolve_checkpoint
    from cosmos_sim.world_models.wfm import WorldModel

    if cfg.workers > 1:
        torch.set_num_threads(1)  # one core per worker process
    model = WorldModel.from_pretrained(resolve_checkpoint(cfg.model), device=cfg.device)
    mc = model.config
    frame_shape = (*mc.frame_size, 3)
    n = len(seeds)
    gt_envs: list[gym.Env] = []
    probe = gym.make(mc.env_id, **mc.env_kwargs).unwrapped
    action_space = probe.action_space
    if kind == "gt":
        env_id = cfg.source
        gt_envs = [
            gym.make(env_id, **(mc.env_kwargs if env_id == mc.env_id else {})).unwrapped
            for _ in range(n if cfg.policy == "expert" else 1)
        ]
        first = []
        for i, s in enumerate(seeds):
            obs, _ = gt_envs[i if cfg.policy == "expert" else 0].reset(seed=int(s))
            first.append(np.asarray(obs))
    elif kind == "store":
        from cosmos_sim.data.store import TrajectoryStore

        store = TrajectoryStore.open(cfg.source)
        first = [store.episode(int(s) % store.n_episodes, keys=["rgb"])["rgb"][0] for s in seeds]
    else:
        first = [_load_image(cfg.source, frame_shape)] * n
    first_frames = np.stack(first)
    if first_frames.shape[1:] != frame_shape:
        raise ConfigError(
            f"starting frames from {cfg.source} are {first_frames.shape[1:]}, the model needs {frame_shape}"
        )

    net = None
    if cfg.policy not in ("random", "expert"):
        from gymnasium import spaces

        from cosmos_sim.policies.networks import check_spaces, load_policy

        pol = load_policy(cfg.policy)
        check_spaces(
            pol, spaces.Box(0, 255, frame_shape, np.uint8), action_space, what=f"world model {cfg.model}"
        )
        net = pol.net
    rngs = [np.random.default_rng(int(s)) for s in seeds]
    gens = [torch.Generator().manual_seed(int(s) & 0x7FFF_FFFF_FFFF_FFFF) for s in seeds]

    state = model.start(model.encode(np.repeat(first_frames[:, None], model.context_frames, axis=1)))
    frames, actions, rewards, probs = [first_frames], [], [], []
    done = np.zeros(n, bool)
    length = np.full(n, cfg.max_steps)
    current = first_frames
    for t in range(cfg.max_steps):
        if cfg.policy == "random":
            a = np.stack([r.uniform(action_space.low, action_space.high) for r in rngs]).astype(np.float32)
        elif cfg.policy == "expert":
            a = np.stack([np.asarray(e.expert_action(), np.float32) for e in gt_envs])
        else:
            a = net.act(current, action_space, deterministic=True)
        a[done] = 0.0
        state, z = model.predict_next(state, a, noise=model.noise(gens))
        current = model.decode(z)
        r, p = model.reward(z, a)
        if cfg.policy == "expert":
            for i, e in enumerate(gt_envs):
                if not done[i]:
                    e.step(a[i])
        frames.append(current)
        actions.append(a)
        rewards.append(r)
        probs.append(p)
        ended = ~done & (p > SUCCESS_THRESHOLD)
        length[ended] = t + 1
        done |= ended
        if done.all():
            break
    for e in [*gt_envs, probe]:
        e.close()

    f, a_, r_, p_ = np.stack(frames, 1), np.stack(actions, 1), np.stack(rewards, 1), np.stack(probs, 1)
    out = []
    for i, s in enumerate(seeds):
        t_len = int(length[i])
        succ_prob = np.concatenate([[0.0], p_[i, :t_len]]).astype(np.float32)
        term = np.zeros(t_len + 1, bool)
        trunc = np.zeros(t_len + 1, bool)
        success = bool(succ_prob[-1] > SUCCESS_THRESHOLD)
        term[-1], trunc[-1] = success, not success
        out.append(
            {
                "seed": int(s),
                "episode": {
                    "rgb": f[i, : t_len + 1],
                    "action": np.concatenate([a_[i, :t_len], np.zeros((1, a_.shape[-1]), np.float32)]),
                    "reward": np.concatenate([r_[i, :t_len], [0.0]]).astype(np.float32),
                    "success_prob": succ_prob,
                    "is_success": succ_prob > SUCCESS_THRESHOLD,
                    "terminated": term,
                    "truncated": trunc,
                },
            }
        )
    if cfg.guardrail:  # the post-guard on the generated frames (the first is the given start frame)
        from cosmos_sim.guardrail import SafetyChecker, guard_frames

        guard = SafetyChecker()
        for item in out:
            rgb = item["episode"]["rgb"]
            rgb[1:], _ = guard_frames(rgb[1:], guard, "a dreamed episode")
    return out


# ---- the run ------------------------------------------------------------------------------------------
def dream(cfg: DreamConfig, command: str = "") -> dict[str, Any]:
    """Roll out ``cfg.episodes`` dreams and write the kept ones; returns a summary with the measured speed."""
    from cosmos_sim.data.generate import CONVENTION
    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.guardrail import DISABLED, SafetyChecker
    from cosmos_sim.workers import make_executor
    from cosmos_sim.world_models.wfm import file_sha

    kind, model_dir = check_config(cfg)
    meta = json.loads((model_dir / "config.json").read_text())["config"]  # the bundle's WorldModelConfig
    seeds = list(range(cfg.seed, cfg.seed + cfg.episodes))
    blocks = [seeds[i : i + cfg.block] for i in range(0, len(seeds), cfg.block)]
    attrs = {
        "env_id": meta.get("env_id"),
        "env_kwargs": meta.get("env_kwargs", {}),
        "action_layout": list(meta.get("action_layout", [])),
        "fps": 20,
        "policy": cfg.policy,
        "recording_convention": CONVENTION,
        "image_keys": ["rgb"],
        "dream": {
            "model": str(model_dir),
            "model_sha": file_sha(model_dir / "model.safetensors"),
            "source": cfg.source,
            "source_kind": kind,
            "policy": cfg.policy,
            "first_seed": cfg.seed,
            "max_steps": cfg.max_steps,
            "min_return": None if math.isinf(cfg.min_return) else cfg.min_return,
        },
        "command": command,
        "guardrail": SafetyChecker().describe() if cfg.guardrail else DISABLED,
    }
    if not cfg.guardrail:
        print(f"dream: guardrail {DISABLED}: no face pixelation, no watermark (said in {cfg.out}'s attrs)")
    store = TrajectoryStore.create(cfg.out, attrs=attrs, overwrite=cfg.overwrite)
    executor = make_executor(cfg.executor, cfg.workers)
    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.episodes, unit="episode", desc="dream")
    t0 = time.perf_counter()
    done: dict[int, list[dict]] = {}
    next_block, kept, frames, returns = 0, 0, 0, []
    try:
        tasks = [(cfg, kind, b) for b in blocks]
        for result in executor.imap_unordered(dream_block, tasks):
            done[result[0]["seed"]] = result
            while next_block < len(blocks) and blocks[next_block][0] in done:  # write in seed order
                for item in done.pop(blocks[next_block][0]):
                    ep = item["episode"]
                    ret = float(ep["reward"].sum())
                    returns.append(ret)
                    frames += len(ep["rgb"]) - 1
                    if ret >= cfg.min_return:
                        store.add_episode(ep, seed=item["seed"])
                        kept += 1
                    if bar is not None:
                        bar.update(1)
                next_block += 1
    finally:
        executor.close()
        if bar is not None:
            bar.close()
        seconds = time.perf_counter() - t0
        store.update_attrs(
            {"dream_summary": {"episodes": len(returns), "kept": kept, "seconds": round(seconds, 2)}}
        )
        store.close()
    summary = {
        "out": cfg.out,
        "episodes": len(returns),
        "kept": kept,
        "model_frames": frames,
        "seconds": seconds,
        "trajectories_per_hour": len(returns) / seconds * 3600,
        "frames_per_s": frames / seconds,
        "mean_predicted_return": float(np.mean(returns)),
        "config": {k: v for k, v in asdict(cfg).items()},
    }
    return summary


__all__ = ["DreamConfig", "check_config", "dream", "dream_block", "source_kind"]
