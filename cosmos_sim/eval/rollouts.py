"""Open-loop rollouts of world models against recorded or simulated ground truth, and their pixel metrics:
what training evaluates every few hundred steps and what the benchmarks and the demo report.

    held-out store episodes (seeds >= HELD_OUT_SEED) --held_out_episodes--> HeldOut (first frames, actions, truth)
    GT env + scripted policy --gt_rollouts--> frames, actions, rewards, success
    physics scenario --gt_episode--> GTEpisode (frames, seg, depth, cameras, object names)
    WorldModel + first frame + actions --open_loop--> predicted frames --rollout_metrics--> per-step PSNR/SSIM
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.eval.metrics import psnr, ssim
from cosmos_sim.world_models.wfm import WorldModel

MANIPULATION_GT_ID = "cosmos_sim/Manipulation-GT-v0"


@dataclass
class HeldOut:
    """Held-out episodes for open-loop evaluation: first frames, actions and the true frames."""

    frames: np.ndarray
    """(E, T+1, H, W, 3) uint8 recorded frames ((E, T+1, V, H, W, 3) multiview; frame 0 starts the rollout)."""
    actions: np.ndarray
    """(E, T, A) float32 recorded actions."""
    seeds: np.ndarray
    """(E,) the episodes' reset seeds."""
    segs: np.ndarray | None = None
    """(E, T+1, H, W) int32 GT instance ids of the frames (single-view stores recorded with --maps seg), or None."""
    labels: list[dict[int, str]] | None = None
    """Per episode: seg id -> name (its store's ``segmentation_labels``), with ``segs``."""


def held_out_episodes(paths: tuple[str, ...], n: int, steps: int, views: tuple[str, ...] = ()) -> HeldOut:
    """Up to ``n`` episodes with at least ``steps + 1`` frames, spread evenly over the stores
    (``views``: the camera keys of a multiview model, stacked on axis 2). Where every store has the
    segmentation map of its frames, the episodes carry it too (for object metrics)."""
    frames, actions, seeds, segs, labels = [], [], [], [], []
    stores = [TrajectoryStore.open(p) for p in paths]
    seg_keys = [f"maps/{next(iter(s.attrs.get('cameras', {})), '')}/seg" for s in stores]
    with_segs = not views and all(k in s.key_info() for k, s in zip(seg_keys, stores, strict=True))
    for i, store in enumerate(stores):
        ok = [e for e in range(store.n_episodes) if store.episode_lengths[e] > steps]
        want = n // len(paths) + (i < n % len(paths))
        for e in (
            [ok[j] for j in np.linspace(0, len(ok) - 1, min(want, len(ok))).round().astype(int)] if ok else []
        ):
            ep = store.episode(e, keys=[*(views or ["rgb"]), "action", *([seg_keys[i]] if with_segs else [])])
            frames.append(
                np.stack([ep[v] for v in views], axis=1)[: steps + 1] if views else ep["rgb"][: steps + 1]
            )
            actions.append(ep["action"][:steps].astype(np.float32))
            seeds.append(int(store.episode_seeds[e]))
            if with_segs:
                segs.append(ep[seg_keys[i]][: steps + 1])
                labels.append({int(k): v for k, v in store.attrs.get("segmentation_labels", {}).items()})
    if not frames:
        raise ValueError(f"no held-out episode in {paths} has {steps + 1} frames; lower --rollout-steps")
    return HeldOut(
        np.stack(frames),
        np.stack(actions),
        np.array(seeds),
        np.stack(segs) if with_segs else None,
        labels if with_segs else None,
    )


@torch.no_grad()
def open_loop(
    model: WorldModel, first: np.ndarray, actions: np.ndarray, seed: int = 0, return_latents: bool = False
) -> np.ndarray | tuple[np.ndarray, torch.Tensor]:
    """Open-loop rollout from one frame per row: ``first`` (B, H, W, 3), ``actions`` (B, T, A) -> (B, T, H, W, 3).

    The context is the first frame repeated K times (as the env does); sampler noise comes from
    per-row generators seeded ``seed + row``. ``return_latents`` also returns the predicted
    latents ``(B, T, ...)``.
    """
    k = model.context_frames
    z0 = model.encode(torch.from_numpy(first).unsqueeze(1))
    state = model.start(z0.expand(-1, k, *z0.shape[2:]).contiguous())
    gens = [torch.Generator().manual_seed(seed + i) for i in range(len(first))]
    out, latents = [], []
    for t in range(actions.shape[1]):
        state, z = model.predict_next(state, actions[:, t], noise=model.noise(gens))
        out.append(model.decode(z))
        latents.append(z)
    frames = np.stack(out, axis=1)
    return (frames, torch.stack(latents, 1)) if return_latents else frames


@torch.no_grad()
def teacher_forced(model: WorldModel, frames: np.ndarray, actions: np.ndarray, seed: int = 0) -> np.ndarray:
    """One-step predictions from the recorded frames: ``frames`` (B, T+1, H, W, 3), ``actions`` (B, T, A) ->
    (B, T, H, W, 3), frame t+1 predicted from the recorded frames up to t (the first frame repeated before
    it, as in ``open_loop`` and training). Its gap to ``open_loop`` separates what a model loses in one step
    from what it loses by feeding itself its own predictions (drift): step t uses the sampler noise that
    ``open_loop`` (same ``seed``) uses at step t, so only the context differs."""
    k, (b, t) = model.context_frames, actions.shape[:2]
    z = model.encode(torch.from_numpy(frames[:, :t].reshape(-1, *frames.shape[2:])).unsqueeze(1))
    z = z.reshape(b, t, *z.shape[2:])
    window = torch.tensor(
        [[max(0, i - k + 1 + j) for j in range(k)] for i in range(t)]
    )  # (T, K) frame indices
    state = model.start(z[:, window].flatten(0, 1).contiguous())
    gens = [torch.Generator().manual_seed(seed + i) for i in range(b)]
    draws = [model.noise(gens) for _ in range(t)]  # open_loop's draws, step by step
    noise = None if draws[0] is None else torch.stack(draws, 1).flatten(0, 1)
    _, nxt = model.predict_next(state, actions.reshape(b * t, -1), noise=noise)
    return model.decode(nxt).reshape(b, t, *frames.shape[2:])


def rollout_metrics(pred: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Per-step PSNR/SSIM (mean over rollouts) of ``pred`` vs ``truth`` (B, T, H, W, 3) uint8
    (multiview (B, T, V, H, W, 3): every view counts as a rollout)."""
    if pred.ndim == 6:
        pred, truth = (np.swapaxes(a, 1, 2).reshape(-1, *a.shape[1:2], *a.shape[3:]) for a in (pred, truth))
    p = torch.from_numpy(pred).permute(0, 1, 4, 2, 3).float() / 255
    g = torch.from_numpy(truth).permute(0, 1, 4, 2, 3).float() / 255
    return {"psnr": psnr(p, g).mean(0).numpy(), "ssim": ssim(p, g).mean(0).numpy()}


def object_rollout_metrics(
    pred: np.ndarray,
    frames: np.ndarray,
    segs: np.ndarray,
    labels: list[dict[int, str]],
    objects: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Object IoU and centroid error (px) per episode and step, ``(E, T)`` each (mean over the objects).

    ``pred`` (E, T, H, W, 3) continues ``frames[:, 0]``; ``frames`` (E, T+1, ...) and ``segs`` (E, T+1, H, W) are
    the truth. Objects are found in the prediction by colour (reference colours from the first GT frame,
    ``physics_metrics.colour_reference``); ``objects`` defaults to every label that is neither scenery nor the
    robot (whose grey parts cannot be told from the background by colour).
    """
    from cosmos_sim.data.object_masks import STATIC_LABELS
    from cosmos_sim.eval import physics_metrics as pm

    iou, cpx = np.full(pred.shape[:2], np.nan), np.full(pred.shape[:2], np.nan)
    for e in range(len(pred)):
        names = objects or tuple(v for v in labels[e].values() if v not in (*STATIC_LABELS, "robot"))
        names = tuple(n for n in names if n in labels[e].values())
        ref = pm.colour_reference(frames[e, :1], segs[e, :1], labels[e], names)
        if not ref.classes:
            continue
        m = pm.object_metrics(pred[e], segs[e, 1:], None, None, None, ref)
        with warnings.catch_warnings():  # an object lost in every class: NaN, not a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            iou[e] = np.nanmean(np.stack([m.iou[n] for n in names if n in m.iou]), axis=0)
            cpx[e] = np.nanmean(np.stack([m.centroid_px[n] for n in names if n in m.centroid_px]), axis=0)
    return {"object_iou": iou, "centroid_px": cpx}


def evaluate(model: WorldModel, held: HeldOut) -> dict[str, float]:
    """Held-out open-loop PSNR/SSIM (mean over steps) of the model and of copy-last-frame, and (single view)
    the one-step PSNR from the recorded frames; with segmentation in the held-out episodes also the objects'
    IoU and centroid error at the last step."""
    was_training = model.training
    model.eval()
    pred = open_loop(model, held.frames[:, 0], held.actions)
    truth = held.frames[:, 1:]
    m = rollout_metrics(pred, truth)
    copy = rollout_metrics(np.repeat(held.frames[:, :1], truth.shape[1], axis=1), truth)
    one = (
        None
        if model.config.views
        else rollout_metrics(teacher_forced(model, held.frames, held.actions), truth)
    )
    model.train(was_training)
    out = {
        "val_psnr": float(m["psnr"].mean()),
        "val_ssim": float(m["ssim"].mean()),
        "val_psnr_last": float(m["psnr"][-1]),
        "copy_psnr": float(copy["psnr"].mean()),
    } | ({} if one is None else {"val_psnr_one_step": float(one["psnr"].mean())})
    if held.segs is not None:
        obj = object_rollout_metrics(pred, held.frames, held.segs, held.labels)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out |= {
                "val_object_iou_last": float(np.nanmean(obj["object_iou"][:, -1])),
                "val_centroid_px_last": float(np.nanmean(obj["centroid_px"][:, -1])),
            }
    return out


# ---- ground truth simulated afresh -------------------------------------------------------------------
def gt_rollouts(
    policy: str, seeds: list[int], steps: int = 16, env_id: str = MANIPULATION_GT_ID, segs: bool = False
) -> dict:
    """GT frames ``(E, steps+1, H, W, 3)``, actions ``(E, steps, A)``, rewards and success ``(E, steps)``; with
    ``segs`` also ``segs`` ``(E, steps+1, H, W)`` (instance ids of the observation camera), ``labels`` and that
    camera's ``intrinsics`` ``(E, 3, 3)`` and ``extrinsics`` ``(E, 4, 4)`` (at reset); in a push-task scene also
    ``block_xy`` ``(E, steps+1, 2)`` (the red block's true position, world metres).

    Episodes are stepped for ``steps`` steps even past a success (the scene keeps simulating).
    """
    from cosmos_sim.policies import make_policy

    env = gym.make(env_id, **({"maps": "seg"} if segs else {})).unwrapped
    cam = env.cameras[0] if segs else None
    has_block = hasattr(env, "block_pos")
    frames, actions, rewards, success, seg, calib, block = [], [], [], [], [], [], []
    for s in seeds:
        pol = make_policy(policy, env, s)
        obs, info = env.reset(seed=s)
        f, a, r, ok, sg = [obs], [], [], [], [info["maps"][cam]["seg"]] if segs else []
        b = [env.block_pos(0)[:2]] if has_block else []
        if segs:
            calib.append(info["cameras"][cam])
        for _ in range(steps):
            act = np.asarray(pol(obs, env), dtype=np.float32)
            obs, rew, _, _, info = env.step(act)
            f.append(obs)
            a.append(act)
            r.append(rew)
            ok.append(bool(info.get("is_success", False)))
            if segs:
                sg.append(info["maps"][cam]["seg"])
            if has_block:
                b.append(env.block_pos(0)[:2])
        frames.append(np.stack(f))
        actions.append(np.stack(a))
        rewards.append(r)
        success.append(ok)
        seg.append(sg)
        block.append(b)
    labels = dict(getattr(env, "segmentation_labels", {}))
    env.close()
    out = {
        "frames": np.stack(frames),
        "actions": np.stack(actions),
        "reward": np.array(rewards, np.float32),
        "success": np.array(success),
    }
    if has_block:
        out["block_xy"] = np.asarray(block, np.float64)
    if segs:
        out |= {"segs": np.stack([np.stack(x) for x in seg]), "labels": labels}
        out |= {
            k: np.stack([np.asarray(c[k], np.float64) for c in calib]) for k in ("intrinsics", "extrinsics")
        }
    return out


@dataclass(frozen=True)
class GTEpisode:
    """One simulated GT episode with what the metrics need."""

    frames: np.ndarray
    """``(T, H, W, 3)`` uint8 RGB."""
    segs: np.ndarray
    """``(T, H, W)`` int32 instance ids."""
    depths: np.ndarray
    """``(T, H, W)`` float32 z-depth (m)."""
    intrinsics: np.ndarray
    """``(T, 3, 3)``."""
    extrinsics: np.ndarray
    """``(T, 4, 4)`` world-to-camera."""
    labels: dict[int, str]
    """Seg id -> name."""
    objects: tuple[str, ...]
    """Names of the moving bodies."""
    env_id: str
    """Gymnasium id."""
    seed: int
    """Reset seed."""


def physics_env_id(scenario: str) -> str:
    """Gymnasium id of a scenario suffix."""
    return f"cosmos_sim/Physics-{scenario}-GT-v0"


def gt_episode(scenario: str, seed: int, frames: int) -> GTEpisode:
    """Simulate ``frames`` frames of a scenario's episode with segmentation and depth."""
    import cosmos_sim  # noqa: F401  (registers the ids)

    env = gym.make(physics_env_id(scenario), maps="seg,depth")
    try:
        obs, info = env.reset(seed=seed)
        objects = tuple(info["objects"])
        rgb, seg, depth, ks, es = [], [], [], [], []
        noop = np.zeros(env.action_space.shape, env.action_space.dtype)
        for t in range(frames):
            if t:
                obs, _, _, _, info = env.step(noop)
            cam = next(iter(info["cameras"]))
            rgb.append(obs)
            seg.append(info["maps"][cam]["seg"])
            depth.append(info["maps"][cam]["depth"])
            ks.append(info["cameras"][cam]["intrinsics"])
            es.append(info["cameras"][cam]["extrinsics"])
        labels = dict(env.unwrapped.segmentation_labels)
    finally:
        env.close()
    return GTEpisode(
        np.stack(rgb),
        np.stack(seg),
        np.stack(depth),
        np.stack(ks),
        np.stack(es),
        labels,
        objects,
        physics_env_id(scenario),
        seed,
    )


__all__ = [
    "GTEpisode",
    "HeldOut",
    "evaluate",
    "object_rollout_metrics",
    "gt_episode",
    "gt_rollouts",
    "held_out_episodes",
    "open_loop",
    "physics_env_id",
    "rollout_metrics",
]
