"""World-model training data: every frame of some trajectory stores as tokenizer latents, cached once, and
the training samples drawn from them.

    store rows --tokenizer (image mode, the env's exact path)--> OUT/cache/<store>-<rows>-<family>-<sha>.npz
        --> LatentData (latents, action, reward, success, episode starts, [poses], [object weights])
        --> sample_batch: K context latents (episode starts repeat the first frame with zero actions), the
            action, the next latent, reward, success, [waypoints], [cell weights]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from cosmos_sim.data.object_masks import STATIC_LABELS, cell_weights, object_masks
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import StoreError
from cosmos_sim.world_models.wfm import WorldModel


@dataclass
class LatentData:
    """Every frame of some stores as latents, with the per-row action, reward and success flag."""

    latents: np.ndarray
    """(N, C, h, w) float16 raw CV latents, or (N, h, w) int32 DV token ids."""
    action: np.ndarray
    """(N, A) float32: the action taken from each row."""
    reward: np.ndarray
    """(N,) float32: the reward of that action."""
    success: np.ndarray
    """(N,) bool: is_success at each row."""
    episode_start: np.ndarray
    """(N,) int64: global row index of each row's episode start."""
    last: np.ndarray
    """(N,) bool: the last row of its episode (no next frame)."""
    pose: np.ndarray | None = None
    """(N, 3) float32 ego x, y, yaw per row (stores with an ``ego`` key), for waypoints; else None."""
    weights: np.ndarray | None = None
    """(N, [V,] h, w) float32 loss weights of each row's latent cells (``--object-weight``); else None."""


def episode_rows(ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Episode end rows (exclusive) -> each row's episode start row and whether it is its episode's last."""
    ends = np.asarray(ends)
    starts = np.concatenate([[0], ends[:-1]])
    last = np.zeros(int(ends[-1]), dtype=bool)
    last[ends - 1] = True
    return np.repeat(starts, ends - starts), last


def done_key(keys: list[str]) -> str | None:
    """The store key the termination target is read from: ``is_success``, else ``terminated``, else None."""
    return "is_success" if "is_success" in keys else "terminated" if "terminated" in keys else None


def encode_frames(model: WorldModel, rgb: np.ndarray, batch: int, desc: str, progress: bool) -> np.ndarray:
    """Frames ``(N, [V,] H, W, 3)`` uint8 -> one latent per frame (image mode): float16 CV latents or int32
    DV token ids, in chunks of ``batch``."""
    chunks = []
    for i in tqdm(range(0, len(rgb), batch), desc=desc, mininterval=5, disable=not progress):
        z = model.encode(torch.from_numpy(rgb[i : i + batch]).unsqueeze(1))[:, 0].cpu()
        chunks.append(z.half() if z.is_floating_point() else z.int())
    return torch.cat(chunks).numpy()


def encode_store(
    path: str,
    model: WorldModel,
    cache_dir: Path,
    batch: int = 64,
    object_weight: float = 1.0,
    static_labels: tuple[str, ...] = STATIC_LABELS,
    progress: bool = True,
) -> LatentData:
    """Encode a store's frames once (image mode, the env's exact path) and cache them as .npz; with an
    ``object_weight`` other than 1 also weigh every latent cell by the objects in it (``cell_weights``)."""
    store = TrajectoryStore.open(path)
    keys = store.keys()
    views = list(model.config.views) or ["rgb"]
    for k in (*views, "action", "reward"):
        if k not in keys:
            raise StoreError(
                f"trajectory store {path} has no {k!r} key; record it with `cosmos-sim generate`"
            )
    tok_sha = model.config.tokenizer_sha or "untracked"
    name = f"{Path(path).name.removesuffix('.zarr')}-{store.n_steps}-{model.config.family}-{tok_sha}.npz"
    cache = cache_dir / name
    episode_start, last = episode_rows(store.episode_ends)
    action = store.read("action", 0, store.n_steps).astype(np.float32)
    reward = store.read("reward", 0, store.n_steps).astype(np.float32)
    done = done_key(keys)
    success = (store.read(done, 0, store.n_steps) if done else np.zeros(store.n_steps, dtype=bool)).astype(
        bool
    )
    pose = store.read("ego", 0, store.n_steps)[:, :3].astype(np.float32) if "ego" in keys else None
    if cache.is_file():
        latents = np.load(cache)["latents"]
    else:
        rgb = (
            store.read("rgb", 0, store.n_steps)
            if views == ["rgb"]
            else np.stack([store.read(v, 0, store.n_steps) for v in views], axis=1)
        )
        if views != ["rgb"]:
            batch = max(1, batch // len(views))
        latents = encode_frames(model, rgb, batch, f"encode {Path(path).name}", progress)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, latents=latents)
        os.replace(tmp, cache)
    weights = None
    if object_weight != 1.0:
        cell = store.key_info()[views[0]][0][0] // latents.shape[-2]
        per_view = [cell_weights(object_masks(store, v, static_labels), cell, object_weight) for v in views]
        weights = per_view[0] if views == ["rgb"] else np.stack(per_view, axis=1)
    return LatentData(latents, action, reward, success, episode_start, last, pose, weights)


def concat_data(parts: list[LatentData]) -> LatentData:
    offsets = np.cumsum([0] + [len(p.action) for p in parts[:-1]])
    return LatentData(
        latents=np.concatenate([p.latents for p in parts]),
        action=np.concatenate([p.action for p in parts]),
        reward=np.concatenate([p.reward for p in parts]),
        success=np.concatenate([p.success for p in parts]),
        episode_start=np.concatenate([p.episode_start + o for p, o in zip(parts, offsets, strict=True)]),
        last=np.concatenate([p.last for p in parts]),
        pose=None if any(p.pose is None for p in parts) else np.concatenate([p.pose for p in parts]),
        weights=None if any(p.weights is None for p in parts) else np.concatenate([p.weights for p in parts]),
    )


def future_waypoints(pose: np.ndarray, last: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """``(B, n, 2)`` ego positions of rows ``t+1 .. t+n`` (held at the episode's last row) in row t's
    ego frame: x forward, y left, metres."""
    cur, out = rows.copy(), []
    for _ in range(n):
        cur = np.where(last[cur], cur, cur + 1)
        out.append(pose[cur, :2] - pose[rows, :2])
    d = np.stack(out, axis=1)
    c, s = np.cos(pose[rows, 2])[:, None], np.sin(pose[rows, 2])[:, None]
    return np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], axis=-1).astype(
        np.float32
    )


def sample_batch(
    data: LatentData, rows: np.ndarray, k: int, waypoints: int = 0, unroll: int = 0, first_frame: bool = False
) -> dict[str, torch.Tensor]:
    """Training tensors for rows ``t`` (each with a next frame): K context latents, actions, targets.

    ``context_actions[:, j]`` leads from context frame j to j + 1 (zero where the context repeats
    the episode's first frame), ``action`` from the last context frame (row t) to the target;
    ``waypoints`` (when asked for and the data has poses): ``future_waypoints`` of row t.
    ``unroll`` = m > 0 adds what the trainer needs to replace the last m context frames by the model's own
    predictions (``unroll_history``). ``first_frame`` (a renderer of state): every context slot holds the
    episode's first frame, whatever the row (the actions between them are zero).
    """
    offs = np.arange(-k + 1, 1)
    ctx = np.maximum(rows[:, None] + offs, data.episode_start[rows][:, None])  # (B, K)
    if first_frame:
        ctx = np.repeat(data.episode_start[rows][:, None], k, axis=1)
    moved = ctx[:, 1:] == ctx[:, :-1] + 1
    ctx_actions = data.action[ctx[:, :-1]] * moved[..., None]
    return (
        {
            "context": torch.from_numpy(data.latents[ctx].astype(data.latents.dtype)),
            "context_actions": torch.from_numpy(ctx_actions.astype(np.float32)),
            "action": torch.from_numpy(data.action[rows]),
            "target": torch.from_numpy(data.latents[rows + 1]),
            "reward": torch.from_numpy(data.reward[rows]),
            "success": torch.from_numpy(data.success[rows + 1]),
        }
        | (
            {"waypoints": torch.from_numpy(future_waypoints(data.pose, data.last, rows, waypoints))}
            if waypoints and data.pose is not None
            else {}
        )
        | (
            # where an object is now or was a frame ago: both where it must appear and where it must vanish
            {"cell_weight": torch.from_numpy(np.maximum(data.weights[rows], data.weights[rows + 1]))}
            if data.weights is not None
            else {}
        )
        | (unroll_history(data, rows, k, unroll) if unroll else {})
    )


def unroll_history(data: LatentData, rows: np.ndarray, k: int, m: int) -> dict[str, torch.Tensor]:
    """The K + m latents before each row's target (rows t-m-K+1 .. t, the episode's first frame repeated
    before its start), the m actions that lead from frame t-m+j to t-m+j+1 and whether each of those m
    transitions is real (inside the episode): a trainer predicts frames t-m+1 .. t from the first K with
    the model itself, keeps the GT frame where the transition is not real, and trains on row t's target
    from the last K: the open-loop inputs the model meets in an env, not only recorded ones."""
    start = data.episode_start[rows][:, None]
    hist = np.maximum(rows[:, None] + np.arange(-m - k + 1, 1), start)  # (B, K + m)
    src = rows[:, None] + np.arange(-m, 0)  # (B, m): the frame each predicted transition leaves from
    real = src >= start
    return {
        "history": torch.from_numpy(data.latents[hist]),
        "history_actions": torch.from_numpy(data.action[np.maximum(src, start)] * real[..., None]),
        "history_real": torch.from_numpy(real),
    }


def latent_stats(data: LatentData) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of CV latents."""
    z = data.latents.astype(np.float32)
    axes = tuple(i for i in range(z.ndim) if i != z.ndim - 3)  # all but the channels (N[, V], C, h, w)
    return z.mean(axis=axes).tolist(), (z.std(axis=axes) + 1e-4).tolist()


__all__ = [
    "LatentData",
    "concat_data",
    "done_key",
    "encode_frames",
    "encode_store",
    "episode_rows",
    "future_waypoints",
    "latent_stats",
    "sample_batch",
    "unroll_history",
]
