"""Causal video tokenizers: held-out reconstruction quality, compression, speed and memory.

For each shipped checkpoint (``assets/tokenizers/*``) and each scene, held-out episodes are
recorded afresh (seeds from ``HELD_OUT_SEED`` = 100000 on, never used for training; 64x64) and
every whole episode (101 or 49 frames = 1 + 4k) is encoded and decoded as one video ("video"
setting, e.g. 4x8x8) and frame by frame as images ("image" setting, 1x8x8: the same model with
T = 1). PSNR and SSIM (11x11 Gaussian window, sigma 1.5) are averaged over all frames. Speed:
encode + decode of 9-frame clips at batch 1 and 32 in fp32 on all cores; peak memory is the peak
resident set size of a fresh process doing the batch-32 case (CUDA: peak allocated memory).
A PNG next to the JSON shows ground truth, reconstruction and error for a few frames per scene.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cosmos_sim.assets import ASSETS_DIR
from cosmos_sim.bench.common import BenchResult
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.eval import HELD_OUT_SEED
from cosmos_sim.eval.metrics import psnr, ssim
from cosmos_sim.world_models.tokenizer import Tokenizer

#: scene name -> (env id, policy, held-out episodes)
SCENES: dict[str, tuple[str, str, int]] = {
    "manip_expert": ("cosmos_sim/Manipulation-GT-v0", "expert", 4),
    "manip_random": ("cosmos_sim/Manipulation-GT-v0", "random", 2),
    **{
        f"physics_{s.lower()}": (f"cosmos_sim/Physics-{s}-GT-v0", "random", 3)
        for s in (
            "FreeFall",
            "InclinedPlane",
            "Bounce",
            "Collision",
            "StackTopple",
            "Dominoes",
            "Pendulum",
            "Projectile",
        )
    },
}
CHECKPOINTS = ("cv4x8x8-nano", "dv4x8x8-nano", "cv4x4x4-nano", "dv4x8x8-obj-nano", "cv4x4x4-fastdec-nano")
PICTURE_FRAMES = (0, 4, 8, 24)


@dataclass(frozen=True)
class Config:
    """``cosmos-sim bench tokenizer`` has no options of its own (``--quick``: one held-out episode per scene, one
    timed repetition)."""


def heldout_stores(out_dir: str | os.PathLike, episodes: int | None = None) -> dict[str, Path]:
    """Record the held-out episodes of every scene (seeds HELD_OUT_SEED, ...) into ``out_dir``."""
    from cosmos_sim.data.generate import GenerateConfig, generate

    paths = {}
    for name, (env_id, policy, n) in SCENES.items():
        path = Path(out_dir) / f"heldout_{name}.zarr"
        if not path.exists():
            generate(
                GenerateConfig(
                    env_id=env_id,
                    episodes=episodes or n,
                    out=str(path),
                    policy=policy,
                    workers=min(2, episodes or n),
                    seed=HELD_OUT_SEED,
                    resolution=(64, 64),
                    maps=("seg",),
                    progress=False,
                )
            )
        paths[name] = path
    return paths


def episodes_of(path: Path, key: str = "rgb") -> list[torch.Tensor]:
    """Every episode of a store as uint8 (T, 3, H, W), cut to the longest valid 1 + 4k frames."""
    with TrajectoryStore.open(path) as s:
        eps = [s.episode(i, keys=[key])[key] for i in range(s.n_episodes)]
    return [
        torch.from_numpy(np.ascontiguousarray(e[: 1 + (len(e) - 1) // 4 * 4].transpose(0, 3, 1, 2)))
        for e in eps
    ]


def segs_of(path: Path) -> tuple[list[np.ndarray], dict[int, str]] | None:
    """Every episode's segmentation of the observation camera, cut like ``episodes_of``, and the labels (None for a
    store recorded without seg)."""
    from cosmos_sim.data.object_masks import seg_key_of

    with TrajectoryStore.open(path) as s:
        try:
            key = seg_key_of(s)
        except ValueError:
            return None
        segs = [s.episode(i, keys=[key])[key] for i in range(s.n_episodes)]
        labels = {int(k): v for k, v in s.attrs.get("segmentation_labels", {}).items()}
    return [e[: 1 + (len(e) - 1) // 4 * 4] for e in segs], labels


@torch.no_grad()
def reconstruct(model: Tokenizer, video: torch.Tensor, setting: str) -> torch.Tensor:
    """``video`` (T, 3, H, W) uint8 -> float reconstruction, as one video or frame by frame."""
    if setting == "video":
        return model.reconstruct(video[None])[0].cpu()
    return torch.cat([model.reconstruct(video[i : i + 32]).cpu() for i in range(0, len(video), 32)])  # images


def quality(model: Tokenizer, videos: list[torch.Tensor], setting: str, segs=None) -> dict[str, float]:
    """Mean PSNR / SSIM over every frame of ``videos``; with ``segs`` (``segs_of``) also the objects' mean IoU
    (found by colour in the reconstruction, against the GT masks; the robot and scenery not counted)."""
    from cosmos_sim.eval.rollouts import object_rollout_metrics

    p, s, iou = [], [], []
    for i, v in enumerate(videos):
        rec, gt = reconstruct(model, v, setting), v.float() / 255
        p.append(psnr(rec, gt))
        s.append(ssim(rec, gt))
        if segs is not None:
            frames = v.permute(0, 2, 3, 1).numpy()
            pred = (rec.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
            seg = segs[0][i]
            m = object_rollout_metrics(
                pred[None],
                np.concatenate([frames[:1], frames])[None],
                np.concatenate([seg[:1], seg])[None],
                [segs[1]],
            )
            iou.append(m["object_iou"][0])
    out = {
        "psnr": float(torch.cat(p).mean()),
        "ssim": float(torch.cat(s).mean()),
        "frames": sum(len(v) for v in videos),
    }
    if iou:
        out["object_iou"] = float(np.nanmean(np.concatenate(iou)))
    return out


@torch.no_grad()
def throughput(model: Tokenizer, batch: int, frames: int = 9, reps: int = 3) -> float:
    """Encode + decode frames per second for ``batch`` random clips of ``frames`` 64x64 frames."""
    x = torch.randint(0, 256, (batch, frames, 3, 64, 64), dtype=torch.uint8)
    model.decode(model.encode(x))  # warm-up
    t0 = time.perf_counter()
    for _ in range(reps):
        model.decode(model.encode(x))
        if model.device.type == "cuda":
            torch.cuda.synchronize()
    return batch * frames * reps / (time.perf_counter() - t0)


def _peak_memory_child(path: str, batch: int, queue) -> None:
    import resource

    model = Tokenizer.from_pretrained(path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    throughput(model, batch, reps=1)
    if model.device.type == "cuda":
        queue.put((torch.cuda.max_memory_allocated() / 2**20, None))
    else:
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        queue.put((after / 1024, before / 1024))  # ru_maxrss is KiB on Linux


def peak_memory_mib(path: str | os.PathLike, batch: int) -> tuple[float, float | None]:
    """(peak MiB while encoding + decoding a batch in a fresh process, MiB after loading the model)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_peak_memory_child, args=(str(path), batch, q))
    p.start()
    result = q.get(timeout=600)
    p.join()
    return result


def comparison_png(
    models: dict[str, Tokenizer],
    videos: dict[str, torch.Tensor],
    path: Path,
    frames: tuple[int, ...] = PICTURE_FRAMES,
) -> Path:
    """One row per scene: for each frame, GT | reconstruction | |error| x4 for every model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(models)
    cols = len(frames) * (1 + 2 * len(names))
    fig, axes = plt.subplots(len(videos), cols, figsize=(cols * 0.9, len(videos) * 1.0 + 0.4), squeeze=False)
    for r, (scene, video) in enumerate(videos.items()):
        recs = {n: models[n].reconstruct(video[None])[0].cpu() for n in names}
        gt = video.float() / 255
        c = 0
        for f in frames:
            f = min(f, len(video) - 1)
            panels = [(gt[f], f"GT t={f}")]
            for n in names:
                err = (recs[n][f] - gt[f]).abs().mean(0, keepdim=True).mul(4).clamp(0, 1).expand(3, -1, -1)
                panels += [(recs[n][f], n.split("-")[0]), (err, "err x4")]
            for img, title in panels:
                ax = axes[r, c]
                ax.imshow(img.permute(1, 2, 0).numpy())
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(title, fontsize=6)
                c += 1
        axes[r, 0].set_ylabel(scene, fontsize=6, rotation=0, ha="right", va="center")
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """``cosmos-sim bench tokenizer``: ``measure`` the shipped ``assets/tokenizers/*``; the picture goes to ``out_dir``."""
    return measure(out_dir, quick)


def measure(
    out_dir: str | os.PathLike,
    quick: bool = False,
    checkpoints: dict[str, Path] | None = None,
    data_dir: str | os.PathLike | None = None,
) -> BenchResult:
    """Measure every checkpoint (default: the shipped ``assets/tokenizers/*``) on fresh held-out episodes
    (recorded into ``data_dir``, default a temporary directory)."""
    checkpoints = checkpoints or {n: ASSETS_DIR / "tokenizers" / n for n in CHECKPOINTS}
    models = {n: Tokenizer.from_pretrained(p) for n, p in checkpoints.items()}
    rows: list[dict] = []
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stores = heldout_stores(data_dir or tmp, episodes=1 if quick else None)
        videos = {scene: episodes_of(p) for scene, p in stores.items()}
        segs = {scene: segs_of(p) for scene, p in stores.items()}
    designs = [m.config.name for m in models.values()]
    shared = {d for d in designs if designs.count(d) > 1}
    for name, model in models.items():
        cfg = model.config
        # figure keys name the setting (DV4x8x8_psnr_db); the checkpoint too where two share a design
        tag = f"{name}_" if cfg.name in shared else ""
        for setting in ("video", "image"):
            per_scene = {scene: quality(model, v, setting, segs[scene]) for scene, v in videos.items()}
            n = sum(q["frames"] for q in per_scene.values())
            mean_p = sum(q["psnr"] * q["frames"] for q in per_scene.values()) / n
            mean_s = sum(q["ssim"] * q["frames"] for q in per_scene.values()) / n
            tc = cfg.temporal_compression if setting == "video" else 1
            label = f"{cfg.kind}{tc}x{cfg.spatial_compression}x{cfg.spatial_compression}"
            ratio = tc * cfg.spatial_compression**2 * 3 / cfg.code_channels
            bits = model.bits_per_frame() * cfg.temporal_compression / tc if cfg.kind == "DV" else None
            for scene, q in per_scene.items():
                rows.append(
                    {
                        "checkpoint": name,
                        "setting": label,
                        "scene": scene,
                        "frames": q["frames"],
                        "psnr_db": round(q["psnr"], 2),
                        "ssim": round(q["ssim"], 4),
                        "object_iou": round(q["object_iou"], 3) if "object_iou" in q else None,
                    }
                )
                if "object_iou" in q:
                    figures[f"{tag}{label}_object_iou_{scene}"] = round(q["object_iou"], 3)
            rows.append(
                {
                    "checkpoint": name,
                    "setting": label,
                    "scene": "ALL (frame-weighted)",
                    "frames": n,
                    "psnr_db": round(mean_p, 2),
                    "ssim": round(mean_s, 4),
                    "compression": round(ratio, 1),
                    "bits_per_frame": None if bits is None else round(bits, 1),
                }
            )
            figures[f"{tag}{label}_psnr_db"] = round(mean_p, 2)
            figures[f"{tag}{label}_ssim"] = round(mean_s, 4)
            figures[f"{tag}{label}_compression"] = round(ratio, 1)
            if bits is not None:
                figures[f"{tag}{label}_bits_per_frame"] = round(bits, 1)
        for batch in (1, 32):
            fps = throughput(model, batch, reps=1 if quick else 3)
            row = {
                "checkpoint": name,
                "setting": cfg.name,
                "scene": f"speed, batch {batch} x 9 frames",
                "frames_per_s": round(fps, 1),
            }
            figures[f"{tag}{cfg.name}_enc_dec_frames_per_s_b{batch}"] = round(fps, 1)
            if batch == 32:  # one fresh process per checkpoint: the largest case
                peak, base = peak_memory_mib(checkpoints[name], batch)
                row |= {
                    "peak_mem_mib": round(peak, 1),
                    "model_loaded_mib": None if base is None else round(base, 1),
                }
                figures[f"{tag}{cfg.name}_peak_mem_mib_b{batch}"] = round(peak, 1)
            rows.append(row)
        figures[f"{tag}{cfg.name}_params_m"] = round(sum(p.numel() for p in model.parameters()) / 1e6, 2)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    comparison_png(models, {s: v[0] for s, v in videos.items()}, out / "tokenizer.png")
    notes = (
        f"Held-out episodes: seeds {HELD_OUT_SEED}.. of each scene (never used for training), 64x64, whole "
        "episodes encoded as one causal video ('video' setting) or frame by frame ('image' setting, same "
        "model). PSNR/SSIM averaged over frames (SSIM: 11x11 Gaussian window, sigma 1.5). Compression = input "
        "values / latent values; object_iou: the moving objects (not the robot) found by colour in the "
        "reconstruction against their GT segmentation (1 = kept whole); DV bits per frame = tokens x log2(64000) / frames. Speed: encode + decode, "
        f"fp32, {torch.get_num_threads()} threads, {'CUDA' if torch.cuda.is_available() else 'CPU'}; peak "
        "memory = peak RSS of a fresh process (model loaded + one batch). Picture: tokenizer.png (GT | "
        "reconstruction | error x4 per checkpoint)."
    )
    return BenchResult(name="tokenizer", figures=figures, rows=rows, notes=notes)
