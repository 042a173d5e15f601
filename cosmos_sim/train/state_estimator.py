"""Train a nano state estimator (frames -> positions) on trajectory stores, CleanRL style: one readable file.

    cosmos-sim generate --env cosmos_sim/Manipulation-Reach-GT-v0 --env-kwargs '{"obs_mode": "pixels+state"}' \
        --policy noisy-expert --episodes 300 --out data/reach.zarr
    cosmos-sim train-state-estimator --data data/reach.zarr --val-data data/reach_val.zarr \
        --names ee_x ee_y ee_z goal_x goal_y --out runs/state

Pairs are a store's frames (``rgb``, or its first image key) and its true state (``state`` recorded with
``obs_mode="pixels+state"``, or ``true_state`` recorded through ``Perceived-v0``), the entries picked by
name from the store's ``state_layout`` attr. With ``--wfm BUNDLE`` the training set also holds that
world model's open-loop predictions of the training episodes (reset from each episode's seed, its
actions replayed for ``--wfm-horizon`` steps) labelled with the true state of the same step: a policy
that trains inside the world model sees those frames, softer and drifting, and must read them as well
as real ones. Loss: smooth L1 on the normalised targets; a fraction of the frames is blurred. Every
``eval_every`` steps the held-out stores are scored (mean absolute error per entry, and the xyz error
of ``ee`` / ``goal`` in cm where the names have them); the lowest mean normalised error is kept in
``OUT/best``; ``OUT/last/train_state.pt`` resumes the run.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError
from cosmos_sim.train.common import (
    cosine_lr,
    lock_out_dir,
    read_train_state,
    releases_out_dir_locks,
    write_train_state,
)
from cosmos_sim.train.estimators import blurred
from cosmos_sim.world_models.pretrained import resolve_device
from cosmos_sim.world_models.state_estimator import StateEstimator, StateEstimatorConfig
from cosmos_sim.world_models.wfm import set_torch_threads

DEFAULT_NAMES = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y")


@dataclass(frozen=True)
class Args:
    """Command-line arguments of ``cosmos-sim train-state-estimator``."""

    data: tuple[str, ...] = ()
    """Training stores with frames and a true state (seeds disjoint from --val-data)."""
    val_data: tuple[str, ...] = ()
    """Held-out stores (seeds >= 100000) scored every --eval-every steps; the best checkpoint is chosen on them."""
    names: tuple[str, ...] = DEFAULT_NAMES
    """State entries to estimate (names of the stores' state_layout)."""
    out: str = "runs/state-estimator"
    """Run directory: last/ (resumable), best/ (bf16), metrics.jsonl."""
    init_from: str = ""
    """Start from this estimator's weights and target scale (same --names); empty: from scratch."""
    wfm: str = ""
    """World-model bundle whose open-loop predictions of the training episodes join the training set."""
    wfm_horizon: int = 16
    """Open-loop steps predicted per training episode with --wfm."""
    wfm_names: tuple[str, ...] = ()
    """Entries learnt from the world model's frames too (default: every --names entry); the others from real
    frames only: entries a policy reads off real frames alone, which blurred predictions would only corrupt."""
    channels: tuple[int, ...] = (32, 64, 64, 128)
    """Conv widths, each level halving the resolution."""
    batch_size: int = 64
    """Frames per step."""
    steps: int = 3000
    """Optimizer steps in total (a resumed run continues up to this)."""
    lr: float = 1e-3
    """Peak learning rate (AdamW): linear warm-up, cosine decay to lr/20."""
    warmup: int = 100
    """Warm-up steps."""
    blur: float = 0.3
    """Fraction of real training frames box-blurred (a world model's frames are softer than GT)."""
    eval_every: int = 500
    """Steps between held-out evaluations and checkpoints."""
    time_limit_min: float = 0.0
    """Stop (resumably) after this many minutes; 0 = no limit."""
    threads: int = 1
    """torch CPU threads (0: torch's default)."""
    device: str = "auto"
    """Torch device: "auto" (CUDA if available), "cpu" or "cuda"."""
    seed: int = 0
    """Seed of the batches and the initialisation."""
    progress: bool = True
    """Show a progress bar."""
    extra: dict = field(default_factory=dict)
    """Metadata stored with the checkpoints (the command that made them)."""

    def __post_init__(self):
        if not self.data:
            raise ConfigError("no training stores: pass --data STORE.zarr ... (frames with a true state)")
        if not self.names:
            raise ConfigError(
                f"--names is empty; name state entries to estimate, e.g. {' '.join(DEFAULT_NAMES)}"
            )
        for name in ("batch_size", "steps", "eval_every", "wfm_horizon"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.blur <= 1:
            raise ConfigError(f"--blur is a fraction of frames, in [0, 1], got {self.blur}")
        unknown = [n for n in self.wfm_names if n not in self.names]
        if unknown:
            raise ConfigError(f"--wfm-names {unknown} are not among --names {self.names}")


# ---- data ---------------------------------------------------------------------------------------------
def state_columns(store: TrajectoryStore, names: tuple[str, ...]) -> tuple[str, list[int]]:
    """The store's true-state key and the columns of ``names`` in it."""
    key = "true_state" if "true_state" in store.keys() else "state"
    layout = list(store.attrs.get("state_layout") or [])
    if key not in store.keys() or not layout:
        raise ConfigError(
            f"{store.path} records no named true state (keys {store.keys()}); record it from a push/reach "
            'GT env with --env-kwargs \'{"obs_mode": "pixels+state"}\' or through cosmos_sim/Perceived-v0'
        )
    missing = [n for n in names if n not in layout]
    if missing:
        raise ConfigError(f"{store.path}: state entries {missing} are not in its state_layout {layout}")
    return key, [layout.index(n) for n in names]


def load_pairs(paths: tuple[str, ...], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Frames (N, H, W, 3) uint8 and the named true state (N, D) float32 of every row of the stores."""
    frames, states = [], []
    for p in paths:
        s = TrajectoryStore.open(p)
        key, cols = state_columns(s, names)
        frames.append(np.asarray(s.read(s.frame_key(), 0, s.n_steps)))
        states.append(np.asarray(s.read(key, 0, s.n_steps), dtype=np.float32)[:, cols])
    return np.concatenate(frames), np.concatenate(states)


def predicted_pairs(
    bundle: str, paths: tuple[str, ...], names: tuple[str, ...], horizon: int, batch: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """The world model's open-loop frames of every episode of the stores (reset from the episode's seed,
    its actions replayed for up to ``horizon`` steps) and the true state of the same steps."""
    import gymnasium as gym

    import cosmos_sim.envs  # noqa: F401  (registers cosmos_sim/WFM-v0)

    episodes = []  # (actions, true states, seed) of every episode of the stores
    for p in paths:
        s = TrajectoryStore.open(p)
        key, cols = state_columns(s, names)
        for e, seed in enumerate(s.episode_seeds):
            ep = s.episode(e, keys=["action", key])
            episodes.append((ep["action"].astype(np.float32), ep[key][:, cols], int(seed)))
    if not episodes:
        raise ConfigError(f"the stores {paths} hold no episode to predict")
    frames, states = [], []
    n = min(batch, len(episodes))
    # one env (one model load) for every chunk; a short last chunk repeats its last episode in the spare rows
    envs = gym.make_vec("cosmos_sim/WFM-v0", num_envs=n, checkpoint=bundle, max_episode_steps=0, device="cpu")
    try:
        for b0 in range(0, len(episodes), n):
            chunk = episodes[b0 : b0 + n]
            rows = chunk + [chunk[-1]] * (n - len(chunk))
            envs.reset(seed=[seed for _, _, seed in rows])
            for t in range(min(horizon, max(len(a) - 1 for a, _, _ in chunk))):
                obs = envs.step(np.stack([a[min(t, len(a) - 2)] for a, _, _ in rows]))[0]
                for j, (a, truth, _) in enumerate(chunk):
                    if t + 1 < len(a):  # the episode is still running at step t + 1
                        frames.append(obs[j])
                        states.append(truth[t + 1])
    finally:
        envs.close()
    if not frames:
        raise ConfigError(f"no episode of {paths} has a step to predict")
    return np.stack(frames), np.asarray(states, dtype=np.float32)


def errors(est: StateEstimator, frames: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Held-out figures: MAE per entry (its units), ee/goal position error in cm, mean normalised error."""
    pred = est.predict(frames)
    out = {f"mae_{n}": float(np.abs(pred[:, i] - truth[:, i]).mean()) for i, n in enumerate(est.names)}
    for part in ("ee", "goal", "red_block"):
        cols = [i for i, n in enumerate(est.names) if n.startswith(part + "_")]
        if cols:
            out[f"{part}_cm"] = float(np.linalg.norm(pred[:, cols] - truth[:, cols], axis=1).mean() * 100)
    out["normalised"] = float((np.abs(pred - truth) / np.asarray(est.config.std)).mean())
    return out


# ---- training -----------------------------------------------------------------------------------------
def estimator_loss(
    pred: torch.Tensor, target: torch.Tensor, is_real: torch.Tensor, from_model: torch.Tensor
) -> torch.Tensor:
    """Smooth L1 of normalised (B, D) estimates over the entries each frame teaches: every entry of a real
    frame (``is_real``, (B,) bool), the entries where ``from_model`` ((D,) 0/1) is 1 of a predicted one."""
    weight = torch.where(is_real[:, None], torch.ones_like(from_model)[None], from_model[None])
    per_entry = F.smooth_l1_loss(pred, target, beta=0.1, reduction="none")
    return (per_entry * weight).sum() / weight.sum()


@releases_out_dir_locks
def train(args: Args) -> dict:
    """Run (or resume) training; returns the last held-out figures."""
    set_torch_threads(args.threads, what="train-state-estimator")
    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lock_out_dir(out)
    names = tuple(args.names)
    frames, truth = load_pairs(tuple(args.data), names)
    real = len(frames)
    if args.wfm:
        f2, t2 = predicted_pairs(args.wfm, tuple(args.data), names, args.wfm_horizon)
        frames, truth = np.concatenate([frames, f2]), np.concatenate([truth, t2])
    val = load_pairs(tuple(args.val_data), names) if args.val_data else None
    print(
        f"train: {real} real frames + {len(frames) - real} world-model frames from {len(args.data)} stores; "
        f"estimating {names}"
    )
    if args.init_from:
        est = StateEstimator.from_pretrained(args.init_from, device=device)
        if est.names != names:
            raise ConfigError(f"--init-from {args.init_from} estimates {est.names}, not --names {names}")
    else:
        mean, std = truth.mean(0), np.maximum(truth.std(0), 1e-3)
        config = StateEstimatorConfig(
            names, tuple(float(v) for v in mean), tuple(float(v) for v in std), channels=tuple(args.channels)
        )
        est = StateEstimator(config).to(device)
    est.train()
    mean, std = est.mean.cpu().numpy(), est.std.cpu().numpy()
    target = torch.from_numpy((truth - mean) / std)
    # which entries each frame teaches: all for real frames; --wfm-names (default all) for predicted ones
    from_model = torch.tensor([n in (args.wfm_names or names) for n in names], dtype=torch.float32)
    opt = torch.optim.AdamW(est.parameters(), lr=args.lr, weight_decay=1e-4)
    step, best = 0, float("inf")
    gen = torch.Generator().manual_seed(args.seed)
    state = read_train_state(out / "last")
    if state is not None:
        if state["names"] != list(names):
            raise ConfigError(f"{out / 'last'} estimates {state['names']}; use another --out")
        est.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, best = state["step"], state["best"]
        gen.set_state(state["sampler"])
        print(f"resumed from {out / 'last'} at step {step}")
    t_start, figures = time.time(), {}
    bar = tqdm(total=args.steps, initial=step, disable=not args.progress, desc="train-state-estimator")
    while step < args.steps:
        idx = torch.randint(len(frames), (args.batch_size,), generator=gen).numpy()
        x = est.frames_to_input(frames[idx])
        soft = torch.from_numpy(idx < real).to(device)  # blur real frames only (predicted ones are soft)
        x = torch.where(soft[:, None, None, None], blurred(x, args.blur, gen), x)
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, args.lr, args.warmup, args.steps)
        loss = estimator_loss(est(x), target[idx].to(device), soft, from_model.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
        out_of_time = args.time_limit_min and time.time() - t_start > args.time_limit_min * 60
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            est.eval()
            figures = {"step": step, "loss": loss.item(), "elapsed_s": round(time.time() - t_start, 1)}
            if val is not None:
                figures["val"] = errors(est, *val)
            score = figures["val"]["normalised"] if val is not None else -step
            if score < best:
                best = score
                meta = {"step": step, "val": figures.get("val"), **args.extra}
                est.save_pretrained(out / "best", extra=meta)
            (out / "last").mkdir(exist_ok=True)
            write_train_state(
                out / "last",
                {
                    "model": est.state_dict(),
                    "optimizer": opt.state_dict(),
                    "step": step,
                    "best": best,
                    "sampler": gen.get_state(),
                    "names": list(names),
                    "args": asdict(args),
                },
            )
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(figures) + "\n")
            if args.progress or step == args.steps:
                tqdm.write(json.dumps(figures))
            est.train()
            if out_of_time:
                tqdm.write(f"time limit of {args.time_limit_min} min reached; resume with the same command")
                break
    bar.close()
    return figures


__all__ = ["Args", "errors", "estimator_loss", "load_pairs", "predicted_pairs", "train"]
