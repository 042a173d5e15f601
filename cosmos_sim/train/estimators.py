"""Train the nano depth and segmentation estimators on trajectory stores, CleanRL style: one readable file.

    cosmos-sim generate --env cosmos_sim/Manipulation-GT-v0 --maps depth,seg \
        --env-kwargs '{"appearance": "randomized"}' --policy noisy-expert --episodes 120 --out data/m.zarr
    cosmos-sim train-estimator --data data/m.zarr data/orbit.zarr --val-data data/val.zarr --out runs/est

One UNet with both heads (1 depth channel + one logit per class) learns from the stores' ``rgb`` and the
same camera's ``maps/<cam>/depth`` and ``maps/<cam>/seg`` (recorded with ``--maps depth,seg``); the two
tasks share the trunk, which halves the training cost on a CPU. It is shipped as two checkpoints,
``OUT/best/depth`` (``DepthEstimator``) and ``OUT/best/seg`` (``SegEstimator``), each the trunk with its
own head. Classes are the union of the stores' ``segmentation_labels`` names. Loss: L1 on log depth
(targets clamped to the config's [min_depth, max_depth]) + class-balanced cross-entropy (weights
freq^-1/2: blocks are ~2 % of the pixels). Per-channel gain/offset jitter widens the looks beyond the
stores' domains. Every ``eval_every`` steps the held-out stores are scored (AbsRel, si-RMSE, delta <
1.25, mIoU: ``world_models/estimators.py``); the best mean of delta<1.25 and mIoU is kept in
``OUT/best``; ``OUT/last/train_state.pt`` resumes the run exactly.
"""

from __future__ import annotations

import json
import math
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
from cosmos_sim.world_models.estimators import (
    DepthEstimator,
    EstimatorConfig,
    SegEstimator,
    UNet,
    depth_errors,
    seg_miou,
)
from cosmos_sim.world_models.pretrained import resolve_device
from cosmos_sim.world_models.wfm import set_torch_threads


@dataclass(frozen=True)
class Args:
    """Command-line arguments of ``cosmos-sim train-estimator``."""

    data: tuple[str, ...] = ()
    """Training trajectory stores recorded with --maps depth,seg (seeds disjoint from --val-data)."""
    val_data: tuple[str, ...] = ()
    """Held-out stores (seeds >= 100000) scored every --eval-every steps; the best checkpoint is chosen on them."""
    out: str = "runs/estimators"
    """Run directory: last/ (resumable), best/depth and best/seg (bf16), metrics.jsonl."""
    channels: tuple[int, ...] = (16, 32, 64, 128)
    """UNet widths per level (full resolution first, each next level at half)."""
    max_depth: float = 20.0
    """Farthest depth the estimator outputs (m); farther GT (the sky) is trained as this."""
    batch_size: int = 24
    """Frames per step."""
    steps: int = 8000
    """Optimizer steps in total (a resumed run continues up to this)."""
    lr: float = 2e-3
    """Peak learning rate (AdamW): linear warm-up, cosine decay to lr/20."""
    warmup: int = 200
    """Warm-up steps."""
    seg_weight: float = 1.0
    """Weight of the cross-entropy next to the depth L1 (log metres)."""
    jitter: float = 0.25
    """Per-channel colour gain jitter (x U(1-j, 1+j), plus an offset of up to 40 j grey levels); 0: none."""
    blur: float = 0.3
    """Fraction of training frames blurred (3x3 box, once or twice): a world model's frames are softer than GT."""
    frame_stride: int = 1
    """Use every n-th row of the stores (neighbouring frames are near copies)."""
    amp: bool = True
    """bfloat16 autocast (about 2x faster on CPUs with AMX/AVX512-BF16)."""
    eval_every: int = 500
    """Steps between held-out evaluations and checkpoints."""
    eval_frames: int = 96
    """Held-out frames per store per evaluation (evenly spread)."""
    time_limit_min: float = 0.0
    """Stop (after saving) once this many minutes have passed in this process; 0 = no limit."""
    threads: int = 1
    """torch CPU threads (0: torch's default); one on a shared machine."""
    seed: int = 0
    """Seed of the initialisation, the batches and the jitter."""
    device: str = "auto"
    """"auto" (CUDA if available), "cpu" or "cuda"."""
    progress: bool = True
    """Show a progress bar."""
    extra: dict = field(default_factory=dict)
    """Metadata stored with the checkpoints (the command that made them)."""

    def __post_init__(self):
        if not self.data:
            raise ConfigError(
                "no training stores: pass --data STORE.zarr ... (recorded with --maps depth,seg)"
            )
        for name in ("batch_size", "steps", "eval_every", "frame_stride", "eval_frames"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.jitter < 1:
            raise ConfigError(f"--jitter must be in [0, 1), got {self.jitter}")
        if not 0 <= self.blur <= 1:
            raise ConfigError(f"--blur is a fraction of frames, in [0, 1], got {self.blur}")


# ---- data ---------------------------------------------------------------------------------------------
def image_camera(store: TrajectoryStore) -> str:
    """The camera whose maps go with the store's ``rgb`` (the env's observation camera: its first)."""
    cams = list(store.attrs.get("cameras") or {})
    if not cams:
        cams = sorted({k.split("/")[1] for k in store.keys() if k.startswith("maps/")})
    for cam in cams:
        if {f"maps/{cam}/depth", f"maps/{cam}/seg"} <= set(store.keys()) and "rgb" in store.keys():
            return cam
    raise ConfigError(
        f"{store.path} has no rgb with maps/<camera>/depth and seg (keys {store.keys()}); record it with "
        "`cosmos-sim generate --maps depth,seg`"
    )


def store_labels(store: TrajectoryStore) -> dict[int, str]:
    labels = store.attrs.get("segmentation_labels")
    if not labels:
        raise ConfigError(f"{store.path} has no segmentation_labels attribute; record it from a GT env")
    return {int(k): str(v) for k, v in labels.items()}


def union_labels(paths: tuple[str, ...]) -> tuple[str, ...]:
    """Every label name of the stores, background first, then in order of appearance."""
    names = ["background"]
    for p in paths:
        for _, name in sorted(store_labels(TrajectoryStore.open(p)).items()):
            if name not in names:
                names.append(name)
    return tuple(names)


def load_frames(
    paths: tuple[str, ...], labels: tuple[str, ...], stride: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """rgb (N,H,W,3) uint8, depth (N,H,W) float16, seg (N,H,W) uint8 class ids of ``labels``, rows per store."""
    rgbs, depths, segs, counts = [], [], [], []
    index = {n: i for i, n in enumerate(labels)}
    for p in paths:
        s = TrajectoryStore.open(p)
        cam = image_camera(s)
        lut = np.zeros(max(store_labels(s)) + 1, np.uint8)
        for i, name in store_labels(s).items():
            if name not in index:
                raise ConfigError(f"{p}: label {name!r} is not a class of this estimator {labels}")
            lut[i] = index[name]
        rows = slice(0, s.n_steps, stride)
        rgbs.append(np.asarray(s.array("rgb")[rows]))
        depths.append(np.asarray(s.array(f"maps/{cam}/depth")[rows]).astype(np.float16))
        segs.append(lut[np.asarray(s.array(f"maps/{cam}/seg")[rows])])
        counts.append(len(rgbs[-1]))
    return np.concatenate(rgbs), np.concatenate(depths), np.concatenate(segs), counts


def split(net: UNet, config: EstimatorConfig, labels: tuple[str, ...]) -> tuple[DepthEstimator, SegEstimator]:
    """The two-headed net as a ``DepthEstimator`` (head channel 0) and a ``SegEstimator`` (the rest)."""
    base = {k: v for k, v in net.state_dict().items() if not k.startswith("head.")}
    w, b = net.head.weight.detach(), net.head.bias.detach()
    depth = DepthEstimator(
        EstimatorConfig("depth", (), config.size, config.channels, config.min_depth, config.max_depth)
    )
    seg = SegEstimator(
        EstimatorConfig("seg", labels, config.size, config.channels, config.min_depth, config.max_depth)
    )
    depth.net.load_state_dict(base | {"head.weight": w[:1], "head.bias": b[:1]})
    seg.net.load_state_dict(base | {"head.weight": w[1:], "head.bias": b[1:]})
    return depth.eval(), seg.eval()


@torch.no_grad()
def score(
    depth: DepthEstimator,
    seg: SegEstimator,
    rgb: np.ndarray,
    gt_depth: np.ndarray,
    gt_seg: np.ndarray,
    labels: dict[int, str] | None = None,
) -> dict[str, float]:
    """Held-out figures of one set of frames. ``gt_seg`` in the estimator's classes; with ``labels`` (the
    scene's ``segmentation_labels``) predictions of classes the scene does not have count as background, as
    ``SegEstimator.predict(frames, labels)`` returns them to a user of that scene."""
    pred = seg.predict(rgb)
    if labels is not None:
        names = set(labels.values())
        keep = np.array([name in names for name in seg.labels])
        pred = np.where(keep[pred], pred, 0)
    return depth_errors(depth.predict(rgb), gt_depth.astype(np.float32), depth.config.max_depth) | {
        "miou": seg_miou(pred, gt_seg)
    }


def evaluate_stores(
    depth: DepthEstimator, seg: SegEstimator, paths: tuple[str, ...], frames: int | None = None
) -> dict[str, dict[str, float]]:
    """Per held-out store (by its file name): AbsRel, si-RMSE, delta<1.25, mIoU over the scene's own classes
    on ``frames`` evenly spread rows of its image camera (None: all rows)."""
    out = {}
    for p in paths:
        rgb, d, s, _ = load_frames((p,), seg.labels)
        idx = np.linspace(0, len(rgb) - 1, min(frames or len(rgb), len(rgb))).round().astype(int)
        labels = store_labels(TrajectoryStore.open(p))
        out[Path(p).name.removesuffix(".zarr")] = score(depth, seg, rgb[idx], d[idx], s[idx], labels)
    return out


def jittered(x: torch.Tensor, amount: float, gen: torch.Generator) -> torch.Tensor:
    """(B,3,H,W) float [0,255] with a random gain and offset per image and channel."""
    if not amount:
        return x
    b = len(x)
    gain = 1 + amount * (2 * torch.rand(b, 3, 1, 1, generator=gen) - 1)
    offset = 40 * amount * (2 * torch.rand(b, 3, 1, 1, generator=gen) - 1)
    return (x * gain.to(x.device) + offset.to(x.device)).clamp(0, 255)


def blurred(x: torch.Tensor, fraction: float, gen: torch.Generator) -> torch.Tensor:
    """(B,3,H,W) with ``fraction`` of the images box-blurred once or twice (3x3)."""
    if not fraction:
        return x
    times = (torch.rand(len(x), generator=gen) < fraction).long() * torch.randint(
        1, 3, (len(x),), generator=gen
    )
    for k in (1, 2):
        rows = (times >= k).to(x.device)
        if rows.any():
            soft = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
            x = torch.where(rows[:, None, None, None], soft, x)
    return x


# ---- training -----------------------------------------------------------------------------------------
@releases_out_dir_locks
def train(args: Args) -> dict:
    """Run (or resume) training; returns the last held-out figures."""
    set_torch_threads(args.threads, what="train-estimator")
    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lock_out_dir(out)

    labels = union_labels(tuple(args.data))
    config = EstimatorConfig("seg", labels, channels=tuple(args.channels), max_depth=args.max_depth)
    rgb, depth, seg, counts = load_frames(tuple(args.data), labels, args.frame_stride)
    freq = np.bincount(seg.ravel(), minlength=len(labels)).astype(np.float64)
    class_w = torch.tensor(np.where(freq > 0, (freq / freq.sum() + 1e-6) ** -0.5, 0.0), dtype=torch.float32)
    class_w = (class_w / (class_w * torch.tensor(freq / freq.sum(), dtype=torch.float32)).sum()).to(device)
    print(f"train: {len(rgb)} frames from {len(args.data)} stores {counts}; {len(labels)} classes {labels}")

    net = UNet(config.channels, 1 + len(labels)).to(device)
    print(
        f"estimator UNet {config.channels}: {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters"
    )
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4, betas=(0.9, 0.99))
    step, best = 0, -math.inf
    gen = torch.Generator().manual_seed(args.seed)
    state = read_train_state(out / "last")
    if state is not None:
        if state["labels"] != list(labels) or state["channels"] != list(config.channels):
            raise ConfigError(f"{out / 'last'} was trained with other classes or widths; use another --out")
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, best = state["step"], state["best"]
        torch.set_rng_state(state["rng"])
        gen.set_state(state["sampler"])
        print(f"resumed from {out / 'last'} at step {step} (best {best:.4f})")
    net.train()
    lo, hi = math.log(config.min_depth), math.log(config.max_depth)
    t_start, figures = time.time(), {}
    bar = tqdm(
        total=args.steps, initial=step, disable=not args.progress, desc="train-estimator", mininterval=10
    )
    while step < args.steps:
        idx = torch.randint(len(rgb), (args.batch_size,), generator=gen).numpy()
        x = torch.from_numpy(rgb[idx]).to(device).permute(0, 3, 1, 2).float()
        x = blurred(jittered(x, args.jitter, gen), args.blur, gen)
        d = (
            torch.from_numpy(depth[idx].astype(np.float32))
            .to(device)
            .clamp(config.min_depth, config.max_depth)
        )
        s = torch.from_numpy(seg[idx].astype(np.int64)).to(device)
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, args.lr, args.warmup, args.steps)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
            y = net((x - 127.5) / 64.0)
        y = y.float()
        log_d = lo + (hi - lo) * torch.sigmoid(y[:, 0])  # as DepthEstimator.log_depth
        depth_loss = (log_d - d.log()).abs().mean()
        seg_loss = F.cross_entropy(y[:, 1:], s, weight=class_w)
        loss = depth_loss + args.seg_weight * seg_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        bar.update(1)
        bar.set_postfix(depth=f"{depth_loss.item():.3f}", seg=f"{seg_loss.item():.3f}", refresh=False)
        out_of_time = args.time_limit_min and time.time() - t_start > args.time_limit_min * 60
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            net.eval()
            de, se = split(net, config, labels)
            figures = {"step": step, "depth_l1_log": depth_loss.item(), "seg_ce": seg_loss.item()}
            figures["elapsed_s"] = round(time.time() - t_start, 1)
            if args.val_data:
                per = evaluate_stores(de, se, tuple(args.val_data), args.eval_frames)
                figures["val"] = per
                figures["val_score"] = float(
                    np.mean([(v["delta_1_25"] + v["miou"]) / 2 for v in per.values()])
                )
            if figures.get("val_score", step) > best:
                best = figures.get("val_score", step)
                meta = {"step": step, "val": figures.get("val"), **args.extra}
                de.save_pretrained(out / "best" / "depth", extra=meta)
                se.save_pretrained(out / "best" / "seg", extra=meta)
            (out / "last").mkdir(exist_ok=True)
            write_train_state(
                out / "last",
                {
                    "model": net.state_dict(),
                    "optimizer": opt.state_dict(),
                    "step": step,
                    "best": best,
                    "rng": torch.get_rng_state(),
                    "sampler": gen.get_state(),
                    "labels": list(labels),
                    "channels": list(config.channels),
                    "args": asdict(args),
                },
            )
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(figures) + "\n")
            tqdm.write(json.dumps({k: v for k, v in figures.items() if k != "val"}))
            net.train()
            if out_of_time:
                tqdm.write(f"time limit of {args.time_limit_min} min reached; resume with the same command")
                break
    bar.close()
    return figures


__all__ = ["Args", "evaluate_stores", "load_frames", "split", "train", "union_labels"]
