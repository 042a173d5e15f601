"""Train a causal video tokenizer (CV or DV) on trajectory stores, CleanRL style: one readable file.

    cosmos-sim train-tokenizer --data data/a.zarr data/b.zarr --val-data data/held.zarr --kind CV --out runs/cv

Random clips of ``clip_frames = 1 + k * tc`` consecutive frames are drawn from all ``--data`` stores
(held in memory as uint8); the loss is L1 + MSE on the normalised pixels. Every ``eval_every`` steps
the held-out PSNR/SSIM is measured on fixed clips of the ``--val-data`` stores (which must come
from seeds never used for training). ``OUT/last/`` (fp32 weights + optimizer state) makes the run
resumable: starting again with the same ``--out`` continues from it; ``OUT/best/`` holds the
bf16 checkpoint with the best held-out PSNR, ready for ``Tokenizer.from_pretrained``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset
from tqdm import tqdm

from cosmos_sim.data.dataset import TrajectoryWindowDataset
from cosmos_sim.data.object_masks import STATIC_LABELS, grow, object_ids, seg_key_of
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError
from cosmos_sim.eval.metrics import psnr, ssim
from cosmos_sim.train.common import (
    cosine_lr,
    lock_out_dir,
    read_train_state,
    releases_out_dir_locks,
    write_train_state,
)
from cosmos_sim.world_models.tokenizer import Tokenizer, TokenizerConfig, resolve_device
from cosmos_sim.world_models.wfm import set_torch_threads


@dataclass
class Args:
    """Command-line arguments of ``cosmos-sim train-tokenizer``."""

    data: tuple[str, ...] = ()
    """Training trajectory stores (one or more)."""
    val_data: tuple[str, ...] = ()
    """Held-out stores for the periodic PSNR (seeds disjoint from the training stores)."""
    out: str = "runs/tokenizer"
    """Run directory: last/ (resumable), best/ (bf16, best held-out PSNR), metrics.jsonl."""
    key: str = "rgb"
    """Image key of the stores to train on; several comma-separated (e.g. the six driving cameras), each a
    clip source of its own."""
    init_from: str = ""
    """Fine-tune: start from this tokenizer checkpoint (its architecture replaces --kind and the size
    flags, but for --decoder-channels / --decoder-frame-channels); ignored when resuming."""
    freeze_encoder: bool = False
    """Train the decoder alone (with --init-from): the latents, and every world model over them, stay as they
    are. With narrower --decoder-channels this makes a faster decoder for the same latents."""
    kind: str = "CV"
    """"CV" (continuous) or "DV" (discrete, FSQ)."""
    temporal_compression: int = 4
    """Frames per latent frame after the first."""
    spatial_compression: int = 8
    """Pixels per latent cell along each axis (8 or 16)."""
    latent_channels: int = 16
    """CV latent channels."""
    fsq_levels: tuple[int, ...] = (8, 8, 8, 5, 5, 5)
    """DV FSQ levels."""
    frame_channels: int = 64
    """Width of the per-frame stem."""
    channels: int = 128
    """Width of the latent-rate trunk."""
    frame_blocks: int = 1
    """Per-frame residual blocks on each side."""
    res_blocks: int = 2
    """Factorised residual blocks at the bottom, each side."""
    attention: bool = True
    """Spatial self-attention at the bottom."""
    decoder_channels: int = 0
    """Width of the decoder's trunk; 0 = --channels (or the --init-from checkpoint's decoder)."""
    decoder_frame_channels: int = 0
    """Width of the decoder's per-frame head; 0 = --frame-channels (or the --init-from checkpoint's)."""
    clip_frames: int = 9
    """Frames per training clip (1 + k * temporal_compression)."""
    batch_size: int = 8
    """Clips per step."""
    steps: int = 4000
    """Optimizer steps in total (a resumed run continues up to this)."""
    lr: float = 1e-3
    """Peak learning rate (AdamW), after a linear warm-up, cosine decay to lr/20."""
    warmup: int = 100
    """Warm-up steps."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    mse_weight: float = 1.0
    """Weight of the MSE term next to the L1 term."""
    object_weight: float = 1.0
    """Loss weight of pixels on objects (seg labels not in --static-labels, grown by one pixel) against 1 for
    the rest; 1 = plain loss. Objects are ~2 % of the pixels, so a plain loss smears them. Needs stores recorded
    with --maps seg."""
    static_labels: tuple[str, ...] = STATIC_LABELS
    """Segmentation labels that are scenery, not objects, for --object-weight."""
    amp: bool = True
    """bfloat16 autocast for the forward pass (about 3x faster on CPUs with AMX/AVX512-BF16)."""
    eval_every: int = 250
    """Steps between held-out evaluations (and checkpoints)."""
    eval_clips: int = 24
    """Held-out clips per evaluation, spread evenly over the --val-data stores."""
    time_limit_min: float = 0.0
    """Stop (after saving) once this many minutes have passed in this process; 0 = no limit."""
    threads: int = 1
    """torch CPU threads of this process (0: torch's default). One by default: on a busy 2-core machine more
    threads spin against each other; a warning says when threads x processes exceed the cores."""
    seed: int = 0
    """Seed of the model initialisation and the clip sampling."""
    device: str = "auto"
    """"auto" (CUDA if available), "cpu" or "cuda"."""
    progress: bool = True
    """Show a progress bar."""
    extra: dict = field(default_factory=dict)
    """Metadata stored with the checkpoints (e.g. the command that made it)."""

    def model_config(self) -> TokenizerConfig:
        return TokenizerConfig(
            kind=self.kind,
            temporal_compression=self.temporal_compression,
            spatial_compression=self.spatial_compression,
            latent_channels=self.latent_channels,
            fsq_levels=tuple(self.fsq_levels),
            frame_channels=self.frame_channels,
            channels=self.channels,
            frame_blocks=self.frame_blocks,
            res_blocks=self.res_blocks,
            attention=self.attention,
            decoder_channels=self.decoder_channels,
            decoder_frame_channels=self.decoder_frame_channels,
        )


class KeyClips(Dataset):
    """The windows of one store, one item per (window, image key): a ``(T, 3, H, W)`` uint8 tensor, or with
    ``object_masks`` the pair (clip, ``(T, 1, H, W)`` bool mask of the object pixels)."""

    def __init__(self, windows: TrajectoryWindowDataset, keys: list[str], object_masks: dict | None = None):
        self.windows, self.keys = windows, keys
        self.object_masks = object_masks  # image key -> (seg key, object ids)

    def __len__(self) -> int:
        return len(self.windows) * len(self.keys)

    def __getitem__(self, i: int):
        w, k = divmod(int(i), len(self.keys))
        item = self.windows[w]
        clip = item[self.keys[k]]
        if self.object_masks is None:
            return clip
        seg_key, ids = self.object_masks[self.keys[k]]
        return clip, torch.isin(item[seg_key], ids).unsqueeze(1)


def _keys(key: str) -> list[str]:
    return [k.strip() for k in key.split(",") if k.strip()]


def load_clips(
    paths: tuple[str, ...], clip_frames: int, key: str, static_labels: tuple[str, ...] | None = None
) -> ConcatDataset:
    """All windows of ``clip_frames`` rows of every store and image key (``key`` may list several,
    comma-separated), in memory (uint8, (T, 3, H, W) per item). With ``static_labels`` each item also carries
    its object mask (see ``KeyClips``)."""
    if not paths:
        raise ConfigError("no stores given: pass at least one trajectory store with --data")
    keys = _keys(key)
    sets = []
    for p in paths:
        masks, load = None, keys
        if static_labels is not None:
            store = TrajectoryStore.open(p)
            ids = torch.from_numpy(object_ids(store, static_labels))
            masks = {k: (seg_key_of(store, k), ids) for k in keys}
            load = keys + sorted({m[0] for m in masks.values()})
        windows = TrajectoryWindowDataset(
            p, context=clip_frames, horizon=0, keys=load, in_memory=True, skip_short=True
        )
        sets.append(KeyClips(windows, keys, masks))
    return ConcatDataset(sets)


def pixel_weights(masks: torch.Tensor, object_weight: float) -> torch.Tensor:
    """(B, T, 1, H, W) bool object masks -> loss weights: ``object_weight`` on objects and the pixel around
    them, 1 elsewhere."""
    return 1 + (object_weight - 1) * torch.from_numpy(grow(masks.numpy())).float()


def fixed_clips(paths: tuple[str, ...], clip_frames: int, key: str, n: int) -> torch.Tensor:
    """``n`` clips spread evenly over the windows (and image keys) of each store, stacked (n, T, 3, H, W) uint8."""
    keys = _keys(key)
    sets = [
        KeyClips(
            TrajectoryWindowDataset(
                p,
                context=clip_frames,
                horizon=0,
                keys=keys,
                in_memory=True,
                skip_short=True,
                stride=clip_frames,
            ),
            keys,
        )
        for p in paths
    ]
    return spread_clips(sets, n)


def spread_clips(sets: list, n: int) -> torch.Tensor:
    """``n`` items spread evenly over each of ``sets`` (the first ``n % len(sets)`` sets give one more), stacked."""
    clips = []
    for i, ds in enumerate(sets):
        k = n // len(sets) + (i < n % len(sets))
        clips += [ds[int(j)] for j in np.linspace(0, len(ds) - 1, max(k, 1)).round().astype(int)]
    return torch.stack(clips)


@torch.no_grad()
def evaluate(model: Tokenizer, clips: torch.Tensor, batch: int = 8) -> dict[str, float]:
    """Held-out PSNR / SSIM (mean over frames) of ``decode(encode(clips))`` in fp32."""
    model.eval()
    p, s = [], []
    for i in range(0, len(clips), batch):
        x = clips[i : i + batch]
        y = model.reconstruct(x).cpu()
        gt = x.float() / 255
        p.append(psnr(y, gt).flatten())
        s.append(ssim(y, gt).flatten())
    model.train()
    return {"val_psnr": float(torch.cat(p).mean()), "val_ssim": float(torch.cat(s).mean())}


def save_last(
    model: Tokenizer,
    opt: torch.optim.Optimizer,
    step: int,
    best: float,
    out: Path,
    args: Args,
    gen: torch.Generator,
) -> None:
    model.save_pretrained(out / "last", dtype=None, extra={"step": step, "args": asdict(args)})
    state = {
        "optimizer": opt.state_dict(),
        "step": step,
        "best_psnr": best,
        "rng": torch.get_rng_state(),
        "sampler": gen.get_state(),
    }
    write_train_state(out / "last", state)


@releases_out_dir_locks
def train(args: Args) -> dict[str, float]:
    """Run (or resume) training; returns the last held-out figures."""
    set_torch_threads(args.threads, what="train-tokenizer")
    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    init = Tokenizer.from_pretrained(args.init_from, device=device) if args.init_from else None
    cfg = args.model_config()
    if init is not None:  # its architecture, but for the decoder's widths when they are given
        widths = {
            k: getattr(args, k) for k in ("decoder_channels", "decoder_frame_channels") if getattr(args, k)
        }
        cfg = replace(init.config, **widths)
    if args.freeze_encoder and init is None:
        raise ConfigError(
            "--freeze-encoder trains the decoder of an existing tokenizer: give it with --init-from"
        )
    if (args.clip_frames - 1) % cfg.temporal_compression:
        raise ConfigError(f"--clip-frames {args.clip_frames} is not 1 + k * {cfg.temporal_compression}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lock_out_dir(out)  # one run per OUT; released when train() returns or raises, or the process dies

    # ---- data ----
    weighted = args.object_weight != 1.0
    if args.object_weight <= 0:
        raise ConfigError(f"--object-weight must be > 0 (1 = plain loss), got {args.object_weight}")
    data = load_clips(tuple(args.data), args.clip_frames, args.key, args.static_labels if weighted else None)
    val = (
        fixed_clips(tuple(args.val_data), args.clip_frames, args.key, args.eval_clips)
        if args.val_data
        else None
    )
    print(
        f"train: {len(data)} clips of {args.clip_frames} frames from {len(args.data)} stores; "
        f"held-out: {0 if val is None else len(val)} clips from {len(args.val_data)} stores"
    )

    # ---- model, optimizer, resume ----
    model = Tokenizer(cfg).to(device)
    if args.freeze_encoder:
        model.encoder.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trained, lr=args.lr, weight_decay=args.weight_decay, betas=(0.9, 0.99))
    step, best, sampler_state = 0, -math.inf, None
    state = read_train_state(out / "last")
    if state is not None:
        resumed = Tokenizer.from_pretrained(out / "last", device=device)
        if resumed.config != cfg:
            raise ConfigError(
                f"{out / 'last'} was trained with {resumed.config}, not {cfg}; use another --out"
            )
        model.load_state_dict(resumed.state_dict())
        opt.load_state_dict(state["optimizer"])
        step, best = state["step"], state["best_psnr"]
        torch.set_rng_state(state["rng"])
        sampler_state = state.get("sampler")
        print(f"resumed from {out / 'last'} at step {step} (best held-out PSNR {best:.2f} dB)")
    elif init is not None:
        fresh = cfg.decoder_widths != init.config.decoder_widths
        weights = {k: v for k, v in init.state_dict().items() if not (fresh and k.startswith("decoder."))}
        model.load_state_dict(weights, strict=not fresh)
        print(f"fine-tuning {args.init_from}" + (" with a fresh decoder of another width" if fresh else ""))
    print(f"{cfg.name}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters on {device}")
    model.train()

    # ---- loop ----
    # Clip draws continue exactly where a resumed run stopped: an interrupted run ends with the weights of an
    # uninterrupted one.
    gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
    if sampler_state is not None:
        gen.set_state(sampler_state)
    t_start = time.time()
    figures: dict[str, float] = {}
    bar = tqdm(
        total=args.steps, initial=step, disable=not args.progress, desc=f"train {cfg.name}", mininterval=5
    )
    while step < args.steps:
        idx = torch.randint(len(data), (args.batch_size,), generator=gen)
        items = [data[int(i)] for i in idx]
        if weighted:
            x = torch.stack([c for c, _ in items]).to(device).float().div_(127.5).sub_(1)
            w = pixel_weights(torch.stack([m for _, m in items]), args.object_weight).to(device)
        else:
            x = torch.stack(items).to(device).float().div_(127.5).sub_(1)
            w = None
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, args.lr, args.warmup, args.steps)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
            y = model(x)
        err = y.float() - x
        per_pixel = err.abs() + args.mse_weight * err.pow(2)
        loss = per_pixel.mean() if w is None else (per_pixel * w).mean() / w.mean()  # same scale as plain
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        step += 1
        bar.update(1)
        train_psnr = float(10 * torch.log10(4 / err.detach().pow(2).mean()))  # range 2 ([-1, 1])
        bar.set_postfix(loss=f"{loss.item():.4f}", psnr=f"{train_psnr:.1f}", refresh=False)
        out_of_time = args.time_limit_min and time.time() - t_start > args.time_limit_min * 60
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            figures = {
                "step": step,
                "loss": loss.item(),
                "train_psnr": train_psnr,
                "lr": cosine_lr(step, args.lr, args.warmup, args.steps),
                "elapsed_s": round(time.time() - t_start, 1),
            }
            if val is not None:
                figures |= evaluate(model, val)
                if figures["val_psnr"] > best:
                    best = figures["val_psnr"]
                    model.save_pretrained(
                        out / "best",
                        extra={"step": step, "val_psnr": best, "val_ssim": figures["val_ssim"], **args.extra},
                    )
            save_last(model, opt, step, best, out, args, gen)
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(figures) + "\n")
            tqdm.write(
                " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
            )
            if out_of_time:
                tqdm.write(f"time limit of {args.time_limit_min} min reached; resume with the same command")
                break
    bar.close()
    if val is None:  # no held-out data: ship the last weights as "best"
        model.save_pretrained(out / "best", extra={"step": step, **args.extra})
    return figures
