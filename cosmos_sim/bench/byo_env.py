"""``cosmos-sim bench byo-env``: bring your own environment, end to end, on a standard Gymnasium env.

The README's worked example ("Bring your own environment") as a benchmark, on ``Reacher-v5`` by
default, from a top-down camera with a fixed look-at point (``CAMERA``):

1. ``cosmos-sim generate``: random-policy episodes at 64x64 (seeds 0..) for training, and held-out
   episodes (seeds >= 100000, never trained on) for scoring. Reacher observes state, so the frames are
   its ``render()``, recorded under ``rgb``.
2. ``cosmos-sim train-tokenizer --init-from cv4x4x4-nano``: the shipped 16x16-latent tokenizer fine-tuned on
   those frames (it was trained on other scenes).
3. ``cosmos-sim train-wfm --render-from-state``: the diffusion world model over the fine-tuned tokenizer's
   latents, for a few minutes (``wfm_minutes``): by default a renderer of state (each frame drawn from the
   episode's first one and the arm's bodies, which a state model of Reacher's qpos/qvel steps; the stores
   record them), ``--no-render-from-state`` the frame-to-frame model.
4. ``gym.make_vec("cosmos_sim/WFM-v0", checkpoint=OUT/best)``: the bundle as an env. Its reset frames
   (the source env's render for each held-out seed) are compared with the recorded first frames, then
   the recorded actions are replayed open loop for ``rollout_steps`` steps: PSNR/SSIM per step against
   the recorded frames, beside copy-last-frame (the first frame held) and the tokenizer's own
   reconstruction (the ceiling of any model over its latents); the reward head's error against the
   recorded reward; the env's speed.

Everything it makes stays in ``work_dir`` (default ``OUT/byo_env``; replaced on each run): the stores,
the tokenizer run and the world-model run, whose ``wfm/best`` is a ready ``cosmos_sim/WFM-v0`` bundle.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cosmos_sim.bench.common import BenchResult, check_at_least, config_error
from cosmos_sim.eval import HELD_OUT_SEED

#: Reacher-v5 seen from above, the look-at point fixed: the arm fills the frame, and the frames depend on
#: the state only (MuJoCo's free camera otherwise looks at the geoms' median at the first render, so the
#: same seed renders differently in a fresh env and in one that rendered before).
CAMERA = {"distance": 0.7, "elevation": -90.0, "azimuth": 90.0, "lookat": [0.0, 0.0, 0.0]}


@dataclass(frozen=True)
class Config:
    """Options of ``cosmos-sim bench byo-env`` (``--quick``: 4 + 2 episodes, 2 tokenizer and 4 world-model
    steps of a tiny model, 4 open-loop steps: a smoke run of the pipeline, not a measurement)."""

    env_id: str = "Reacher-v5"
    """The Gymnasium env to model: any registered id that renders rgb_array."""
    env_kwargs: dict = field(default_factory=lambda: {"default_camera_config": dict(CAMERA)})
    """Keyword arguments of the env (JSON): the camera; recorded in the stores and the bundle."""
    size: int = 64
    """Frame width and height in pixels (the shipped tokenizers work at 64)."""
    episodes: int = 200
    """Training episodes (random policy, seeds 0..)."""
    val_episodes: int = 16
    """Held-out episodes (seeds 100000..): the tokenizer and world-model evaluations and the score."""
    workers: int = 1
    """Worker processes of the recording."""
    tokenizer: str = "cv4x4x4-nano"
    """Tokenizer fine-tuned on the episodes (train-tokenizer --init-from): a shipped name or a directory."""
    tokenizer_steps: int = 1000
    """Fine-tuning steps (at most; see --tokenizer-minutes)."""
    tokenizer_minutes: float = 3.0
    """Time limit of the fine-tuning, minutes."""
    wfm_steps: int = 6000
    """World-model training steps (at most; see --wfm-minutes)."""
    wfm_minutes: float = 6.0
    """Time limit of the world-model training, minutes."""
    dim: int = 128
    """World-model transformer width."""
    depth: int = 5
    """World-model transformer blocks."""
    context_frames: int = 4
    """Past frames the world model conditions on (K)."""
    patch: int = 2
    """World-model spatial patch over the latent grid: 2 keeps 64 tokens a frame with a 16x16-latent tokenizer
    (``--tokenizer cv4x4x4-nano``)."""
    residual: bool = True
    """Diffuse the change of a frame instead of the frame (``train-wfm --residual``, sigma_data 0.5): what stays
    put costs the network nothing."""
    render_from_state: bool = True
    """Train a renderer of state (``train-wfm --render-from-state``; Gymnasium MuJoCo envs): every frame drawn from
    the episode's first frame and the bodies' positions, which a learnt state model steps with the actions;
    --no-render-from-state: the frame-to-frame model (any env)."""
    rollout_steps: int = 16
    """Open-loop steps scored per held-out episode (Reacher's episodes are 50 steps)."""
    speed_batches: tuple[int, ...] = (1, 16)
    """Batch sizes of the env speed measurement (gym.make_vec rows)."""
    threads: int = 1
    """torch CPU threads (0: torch's default)."""
    device: str = "auto"
    """Torch device of the training and the env: "auto" (CUDA if available), "cpu" or "cuda"."""
    work_dir: str = ""
    """Where the stores and runs go (default OUT/byo_env); replaced on each run."""

    def __post_init__(self) -> None:
        check_at_least("byo-env", self, 1, "episodes", "val_episodes", "workers", "tokenizer_steps")
        check_at_least(
            "byo-env", self, 1, "wfm_steps", "dim", "depth", "context_frames", "patch", "rollout_steps"
        )
        check_at_least("byo-env", self, 1, "speed_batches")
        check_at_least("byo-env", self, 0, "threads")
        if self.size < 8 or self.size % 8:
            raise config_error(
                "byo-env", "size", self.size, "a multiple of 8 (64 for the shipped tokenizers)"
            )
        for name in ("tokenizer_minutes", "wfm_minutes"):
            if getattr(self, name) <= 0:
                raise config_error("byo-env", name, getattr(self, name), "a time > 0")


def _quick(cfg: Config) -> Config:
    return dataclasses.replace(
        cfg,
        episodes=min(cfg.episodes, 4),
        val_episodes=min(cfg.val_episodes, 2),
        tokenizer_steps=min(cfg.tokenizer_steps, 2),
        wfm_steps=min(cfg.wfm_steps, 4),
        dim=min(cfg.dim, 32),
        depth=min(cfg.depth, 1),
        context_frames=min(cfg.context_frames, 2),
        rollout_steps=min(cfg.rollout_steps, 4),
        speed_batches=tuple(b for b in cfg.speed_batches if b <= 2) or (1,),
    )


def _record(cfg: Config, out: Path, episodes: int, seed: int) -> float:
    """A new store of ``episodes`` random-policy episodes from ``seed``; returns the seconds it took."""
    from cosmos_sim.data.generate import GenerateConfig, generate

    t0 = time.perf_counter()
    generate(
        GenerateConfig(
            env_id=cfg.env_id,
            episodes=episodes,
            out=str(out),
            seed=seed,
            resolution=(cfg.size, cfg.size),
            env_kwargs=dict(cfg.env_kwargs),
            workers=cfg.workers,
            progress=False,
        )
    )
    return time.perf_counter() - t0


def _reconstruction_psnr(tokenizer, frames: np.ndarray, device: torch.device) -> float:
    """Mean PSNR of the tokenizer's image-mode reconstruction of ``frames`` (N, H, W, 3) uint8."""
    from cosmos_sim.eval.metrics import psnr

    out = []
    with torch.no_grad():
        for i in range(0, len(frames), 32):
            x = torch.from_numpy(frames[i : i + 32]).permute(0, 3, 1, 2).to(device)
            y = tokenizer.decode(tokenizer.encode(x)[:, :1])[:, 0].float().clamp(0, 1).cpu()
            out.append(psnr(y, x.cpu().float() / 255).flatten())
    return float(torch.cat(out).mean())


def _frames_picture(cfg: Config, first: np.ndarray, path: Path) -> None:
    """The held-out first frames the model starts from, and under them the env's default camera (when
    ``env_kwargs`` set another): what the model sees, 3x enlarged."""
    import gymnasium as gym
    import imageio.v3 as iio3

    rows = [np.concatenate(list(first), axis=1)]
    if cfg.env_kwargs:
        env = gym.make(cfg.env_id, render_mode="rgb_array", width=cfg.size, height=cfg.size)
        default = []
        for e in range(len(first)):
            env.reset(seed=HELD_OUT_SEED + e)
            default.append(np.asarray(env.render()))
        env.close()
        rows.append(np.concatenate(default, axis=1))
    grid = np.concatenate(rows, axis=0)
    iio3.imwrite(path, grid.repeat(3, axis=0).repeat(3, axis=1))


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """Record, fine-tune the tokenizer, train the world model, score it through ``cosmos_sim/WFM-v0``."""
    import gymnasium as gym
    import imageio.v3 as iio3

    import cosmos_sim  # noqa: F401  (registers cosmos_sim/WFM-v0)
    from cosmos_sim.bench.wfm import vector_env_speed
    from cosmos_sim.data.pictures import psnr_plot, side_by_side
    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.eval.rollouts import rollout_metrics
    from cosmos_sim.train import tokenizer as train_tokenizer
    from cosmos_sim.train import wfm as train_wfm
    from cosmos_sim.world_models.pretrained import resolve_device
    from cosmos_sim.world_models.tokenizer import Tokenizer
    from cosmos_sim.world_models.wfm import WorldModel, set_torch_threads

    cfg = _quick(config) if quick else config
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(cfg.work_dir) if cfg.work_dir else out / "byo_env"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    set_torch_threads(cfg.threads, what="bench byo-env")
    device = resolve_device(cfg.device)
    tiny = quick  # the quick run's networks are tiny and see a handful of samples
    seconds: dict[str, float] = {}

    # 1. episodes
    train_store, val_store = work / "train.zarr", work / "val.zarr"
    seconds["generate"] = _record(cfg, train_store, cfg.episodes, 0)
    seconds["generate"] += _record(cfg, val_store, cfg.val_episodes, HELD_OUT_SEED)
    val = TrajectoryStore.open(val_store)
    frames_per_episode = int(val.episode_lengths.min())
    steps = min(cfg.rollout_steps, frames_per_episode - 1)
    episodes = [val.episode(e, keys=["rgb", "action", "reward"]) for e in range(val.n_episodes)]
    held_frames = np.stack([ep["rgb"][: steps + 1] for ep in episodes])  # (E, T+1, H, W, 3)
    held_actions = np.stack([ep["action"][:steps] for ep in episodes]).astype(np.float32)
    held_rewards = np.stack([ep["reward"][:steps] for ep in episodes])
    seeds = [int(s) for s in val.episode_seeds]

    # 2. tokenizer fine-tune
    base = Tokenizer.from_pretrained(cfg.tokenizer, device=device)
    psnr_before = _reconstruction_psnr(base, held_frames.reshape(-1, *held_frames.shape[2:]), device)
    t0 = time.perf_counter()
    train_tokenizer.train(
        train_tokenizer.Args(
            data=(str(train_store),),
            val_data=(str(val_store),),
            out=str(work / "tok"),
            init_from=cfg.tokenizer,
            clip_frames=5 if tiny else 9,
            batch_size=2 if tiny else 8,
            steps=cfg.tokenizer_steps,
            lr=3e-4,
            warmup=1 if tiny else 50,
            eval_every=max(1, min(250, cfg.tokenizer_steps)),
            eval_clips=2 if tiny else 16,
            time_limit_min=cfg.tokenizer_minutes,
            threads=cfg.threads,
            device=cfg.device,
            progress=False,
            extra={"command": "cosmos-sim bench byo-env"},
        )
    )
    seconds["tokenizer"] = time.perf_counter() - t0
    tuned = Tokenizer.from_pretrained(work / "tok" / "best", device=device)
    psnr_after = _reconstruction_psnr(tuned, held_frames.reshape(-1, *held_frames.shape[2:]), device)

    # 3. world model
    t0 = time.perf_counter()
    train_wfm.train(
        train_wfm.Args(
            data=(str(train_store),),
            val_data=() if cfg.render_from_state else (str(val_store),),  # a renderer is scored in the env
            tokenizer=str(work / "tok" / "best"),
            out=str(work / "wfm"),
            render_from_state=cfg.render_from_state,
            state_steps=20 if tiny else 20000,
            context_frames=cfg.context_frames,
            patch=cfg.patch,
            residual=cfg.residual,
            sigma_data=0.5 if cfg.residual else 1.0,
            dim=cfg.dim,
            depth=cfg.depth,
            heads=2 if tiny else 4,
            batch_size=4 if tiny else 32,
            steps=cfg.wfm_steps,
            warmup=1 if tiny else 200,
            eval_every=max(1, min(500, cfg.wfm_steps)),
            eval_episodes=min(cfg.val_episodes, 8),
            rollout_steps=steps,
            time_limit_min=cfg.wfm_minutes,
            threads=cfg.threads,
            device=cfg.device,
            progress=False,
            extra={"command": "cosmos-sim bench byo-env"},
        )
    )
    seconds["wfm"] = time.perf_counter() - t0
    bundle = work / "wfm" / "best"
    trained_steps = int(WorldModel.from_pretrained(bundle, device="cpu").checkpoint_extra.get("step", 0))

    # 4. the bundle as an env: reset frames, open-loop replay of the recorded actions, reward, speed
    envs = gym.make_vec(
        "cosmos_sim/WFM-v0",
        num_envs=len(seeds),
        checkpoint=str(bundle),
        device=cfg.device,
        threads=cfg.threads,
        max_episode_steps=0,
    )
    obs, _ = envs.reset(seed=seeds)
    reset_match = float(np.mean([np.array_equal(o, f) for o, f in zip(obs, held_frames[:, 0], strict=True)]))
    pred, rewards = [], []
    for t in range(steps):
        obs, reward, _, _, _ = envs.step(held_actions[:, t])
        pred.append(obs)
        rewards.append(reward)
    model = envs.unwrapped.model
    envs.close()
    pred = np.stack(pred, axis=1)  # (E, T, H, W, 3)
    truth = held_frames[:, 1:]
    m = rollout_metrics(pred, truth)
    copy = rollout_metrics(np.repeat(held_frames[:, :1], steps, axis=1), truth)
    flat = truth.reshape(-1, 1, *truth.shape[2:])
    ceiling = rollout_metrics(model.decode(model.encode(flat)[:, 0]).reshape(truth.shape), truth)
    reward_mae = float(np.abs(np.stack(rewards, axis=1) - held_rewards).mean())
    speeds = {
        b: vector_env_speed(
            gym.make_vec(
                "cosmos_sim/WFM-v0",
                num_envs=b,
                checkpoint=str(bundle),
                device=cfg.device,
                threads=cfg.threads,
                max_episode_steps=0,
            ),
            steps=4 if quick else 16,
        )
        for b in cfg.speed_batches
    }

    # pictures
    psnr_plot(
        {"world model": m["psnr"], "copy-last-frame": copy["psnr"], "tokenizer ceiling": ceiling["psnr"]},
        out / "byo_env_psnr_per_step.png",
        f"{cfg.env_id}: open loop from {len(seeds)} held-out seeds",
    )
    video = side_by_side(truth[0], pred[0])
    iio3.imwrite(out / "byo_env_side_by_side.gif", video, extension=".gif", duration=100, loop=0)
    _frames_picture(cfg, held_frames[: min(4, len(seeds)), 0], out / "byo_env_frames.png")

    figures: dict[str, float] = {
        "wfm_psnr_mean_db": float(m["psnr"].mean()),
        "copy_last_psnr_mean_db": float(copy["psnr"].mean()),
        "psnr_gain_over_copy_db": float(m["psnr"].mean() - copy["psnr"].mean()),
        "tokenizer_ceiling_db": float(ceiling["psnr"].mean()),
        "wfm_ssim_mean": float(m["ssim"].mean()),
        "copy_last_ssim_mean": float(copy["ssim"].mean()),
        f"wfm_psnr_step{steps}_db": float(m["psnr"][-1]),
        f"copy_last_psnr_step{steps}_db": float(copy["psnr"][-1]),
        "tokenizer_psnr_before_db": psnr_before,
        "tokenizer_psnr_after_db": psnr_after,
        "reward_mae": reward_mae,
        "reward_gt_std": float(held_rewards.std()),
        "reset_frames_match": reset_match,
        "wfm_trained_steps": float(trained_steps),
        **{f"steps_per_s_batch{b}": v for b, v in speeds.items()},
        **{f"{k}_seconds": v for k, v in seconds.items()},
    }
    rows = [
        {"case": "open loop", "predictor": "world model", "psnr_db": figures["wfm_psnr_mean_db"]}
        | {"ssim": figures["wfm_ssim_mean"], f"psnr_step{steps}_db": figures[f"wfm_psnr_step{steps}_db"]},
        {"case": "open loop", "predictor": "copy-last-frame", "psnr_db": figures["copy_last_psnr_mean_db"]}
        | {"ssim": figures["copy_last_ssim_mean"], f"psnr_step{steps}_db": float(copy["psnr"][-1])},
        {"case": "open loop", "predictor": "tokenizer ceiling", "psnr_db": figures["tokenizer_ceiling_db"]}
        | {"ssim": float(ceiling["ssim"].mean()), f"psnr_step{steps}_db": float(ceiling["psnr"][-1])},
        {"case": "stages", "stage": "generate", "seconds": seconds["generate"]}
        | {"result": f"{cfg.episodes} + {cfg.val_episodes} episodes"},
        {"case": "stages", "stage": "tokenizer fine-tune", "seconds": seconds["tokenizer"]}
        | {"result": f"held-out PSNR {psnr_before:.1f} -> {psnr_after:.1f} dB"},
        {"case": "stages", "stage": "world model", "seconds": seconds["wfm"]}
        | {"result": f"{trained_steps} steps, {figures['wfm_psnr_mean_db']:.1f} dB open loop"},
    ]
    notes = (
        f"{cfg.env_id} with {cfg.env_kwargs} at {cfg.size}x{cfg.size}, random policy: {cfg.episodes} training "
        f"episodes (seeds 0..), {len(seeds)} held-out ({seeds[0]}..{seeds[-1]}). Tokenizer: {cfg.tokenizer} "
        f"fine-tuned (at most {cfg.tokenizer_steps} steps / {cfg.tokenizer_minutes} min); its image-mode "
        "PSNR on the held-out frames before and after. World model: diffusion DiT "
        f"(dim {cfg.dim}, depth {cfg.depth}, K={cfg.context_frames}, patch {cfg.patch}"
        f"{', residual' if cfg.residual else ''}"
        + (
            ", a renderer of state: each frame drawn from the episode's first frame and the bodies' positions, "
            "a state model of qpos/qvel fitted beside it steps them"
            if cfg.render_from_state
            else ""
        )
        + f"), at most {cfg.wfm_steps} steps / "
        f"{cfg.wfm_minutes} min. Score: gym.make_vec('cosmos_sim/WFM-v0', checkpoint=wfm/best) reset with the "
        f"held-out seeds (reset_frames_match: the env's first frames equal the recorded ones), the recorded "
        f"actions replayed open loop for {steps} steps; PSNR/SSIM per step vs the recorded frames, beside "
        "copy-last-frame and the tokenizer's reconstruction (ceiling); reward_mae vs the recorded reward. "
        f"Speed: env steps/s of the vector env, torch threads={torch.get_num_threads()}, device {device}. "
        "Pictures: byo_env_side_by_side.gif (GT | prediction | |error| x3), byo_env_psnr_per_step.png, "
        "byo_env_frames.png (held-out first frames; below: the env's default camera)."
        + (" Quick run: a smoke test of the pipeline, not a measurement." if quick else "")
    )
    return BenchResult(name="byo_env", figures=figures, rows=rows, notes=notes)


__all__ = ["CAMERA", "Config", "run"]
