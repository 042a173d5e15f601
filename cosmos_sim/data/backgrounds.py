"""Pasted backgrounds: a store's episodes re-rendered with pictures behind the objects (domain randomisation).

Through a store's segmentation map, every pixel of the ``replace`` labels (the table and the background) takes
the pixels of a picture: a random crop of one of ``PICTURES`` (scikit-image's bundled photographs and
drawings: no download) or of the user's own folder, or a smooth pattern of random colours, tinted at random and
shaded by the scene's own light (so the table's edge and the arm's shadowless shading survive). The
``recolour`` labels (the arm) get a random colour with their shading kept, and the whole frame a random light
level. The objects a task names (the block, the goal disc) keep their pixels. One look per episode, drawn from
``seed + episode``, so a video does not flicker; the actions, rewards, true state and maps are copied
unchanged, except the camera's RGB-derived maps (edges, blur), computed again from the new frames.

Why (issue 17, ``tools/probes/domain_shift_perception/``): a state estimator fine-tuned on five training looks
reads the block in the held-out "coffee" look (a photograph of red-brown cups) 11.7 cm off; the same estimator
fine-tuned on pasted backgrounds reads it 5.1 cm off (still too far for the push: ``benchmarks/domain-shift.md``). No texture of a held-out look (``HELD_OUT_SOURCES``) is
in the default pool.

    cosmos-sim paste-backgrounds --input data/ds/default_seg.zarr --out data/ds/pasted.zarr
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from cosmos_sim.envs.appearance import HELD_OUT_DOMAINS, picture_sources
from cosmos_sim.errors import ConfigError

PICTURES = (
    "astronaut", "camera", "chelsea", "clock", "rocket", "immunohistochemistry", "retina", "colorwheel", "brick",
    "grass", "moon", "page", "text", "horse", "cell", "logo", "stereo_motorcycle", "binary_blobs", "checkerboard",
    "shepp_logan_phantom", "microaneurysms",
)  # fmt: skip
"""scikit-image pictures of the default pool (all bundled with the wheel)."""
HELD_OUT_SOURCES = picture_sources(HELD_OUT_DOMAINS)
"""Pictures of the held-out looks (``envs/appearance.py``): never in the default pool, so those looks stay unseen."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_SEEDED = {
    "binary_blobs": {"rng": 0}
}  # drawn at random unless seeded: the pool must not change from run to run


@dataclass(frozen=True)
class PasteConfig:
    """Options of ``cosmos-sim paste-backgrounds``."""

    input: str
    """Trajectory store with frames and a segmentation map (``generate --maps seg``)."""
    out: str
    """New store: the same rows, the frames re-rendered."""
    replace: tuple[str, ...] = ("background", "table")
    """Segmentation labels whose pixels take the picture."""
    recolour: tuple[str, ...] = ("robot",)
    """Segmentation labels recoloured at random (their shading kept)."""
    pictures: str = ""
    """A folder of your own pictures (PNG/JPEG); empty: scikit-image's bundled ones (``PICTURES``)."""
    p_pattern: float = 0.25
    """Probability of a smooth random-colour pattern instead of a picture."""
    light: tuple[float, float] = (0.6, 1.25)
    """Range of the frame's random light level (a gain on every pixel)."""
    camera: str = "front"
    """Camera whose map is used (``maps/<camera>/seg``)."""
    seed: int = 0
    """Episode e's look is drawn from seed + e."""
    preview: str = ""
    """PNG to write: the first, middle and last frame of up to 8 episodes, source above, pasted below; empty: none."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self):
        object.__setattr__(self, "replace", tuple(self.replace))
        object.__setattr__(self, "recolour", tuple(self.recolour))
        object.__setattr__(self, "light", tuple(float(v) for v in self.light))
        if not self.replace:
            raise ConfigError(
                "--replace names no segmentation label: give at least one (e.g. background table)"
            )
        if not 0.0 <= self.p_pattern <= 1.0:
            raise ConfigError(f"--p-pattern must be in [0, 1], got {self.p_pattern}")
        if len(self.light) != 2 or not 0 < self.light[0] <= self.light[1]:
            raise ConfigError(f"--light must be two gains 0 < low <= high, got {self.light}")
        if self.pictures and not Path(self.pictures).is_dir():
            raise ConfigError(f"--pictures {self.pictures} is not a folder of images")


@cache
def load_pictures(folder: str = "") -> tuple[np.ndarray, ...]:
    """The pool as float32 RGB in [0, 1]: the images of ``folder`` (sorted by name), or ``PICTURES``."""
    if folder:
        import imageio.v3 as iio

        paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise ConfigError(f"--pictures {folder} holds no {'/'.join(IMAGE_SUFFIXES)} image")
        images = [iio.imread(p) for p in paths]
    else:
        import skimage.data

        images = [getattr(skimage.data, name)(**_SEEDED.get(name, {})) for name in PICTURES]
        images = [img[0] if isinstance(img, tuple) else img for img in images]  # a stereo pair: its left view
    out = []
    for img in images:
        img = np.asarray(img, dtype=np.float32)
        img = img / (255.0 if img.max() > 1.0 else 1.0)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out.append(img[..., :3])
    return tuple(out)


@dataclass(frozen=True)
class Look:
    """One episode's look: the background picture and the recolour and light it gets."""

    background: np.ndarray
    """(H, W, 3) float32 in [0, 1]."""
    colour: np.ndarray
    """(3,) gain of the recoloured labels' grey level."""
    gain: float
    """Light level of the whole frame."""
    shade_power: float
    """How much of the scene's own shading the picture keeps (0: none, 1: all)."""


def draw_look(
    rng: np.random.Generator, pictures: tuple[np.ndarray, ...], size: tuple[int, int], cfg: PasteConfig
) -> Look:
    """A random look for frames of ``size`` (H, W)."""
    from skimage.transform import resize

    if rng.random() < cfg.p_pattern or not pictures:  # smooth blobs of random colours
        k = int(rng.integers(2, 9))
        bg = resize(rng.random((k, k, 3)), size, order=int(rng.integers(0, 4)))
    else:  # a crop of 15-100 % of a picture's short side, channels shuffled half of the time
        img = pictures[int(rng.integers(len(pictures)))]
        h, w = img.shape[:2]
        s = max(2, int(rng.uniform(0.15, 1.0) * min(h, w)))
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        bg = resize(img[y : y + s, x : x + s], size, anti_aliasing=True)
        if rng.random() < 0.5:
            bg = bg[:, :, rng.permutation(3)]
    bg = np.clip(bg * rng.uniform(0.4, 1.2, 3), 0, 1).astype(np.float32)
    return Look(
        bg, rng.uniform(0.3, 1.6, 3).astype(np.float32), float(rng.uniform(*cfg.light)), float(rng.random())
    )


def paste(
    frames: np.ndarray, seg: np.ndarray, replace: np.ndarray, recolour: np.ndarray, look: Look
) -> np.ndarray:
    """(T, H, W, 3) uint8 frames with the ``replace`` ids' pixels from the look's picture (shaded like the
    scene), the ``recolour`` ids' pixels recoloured and the light level applied."""
    img = frames.astype(np.float32) / 255
    back = np.isin(seg, replace)[..., None]
    grey = img.mean(-1, keepdims=True)
    level = np.array([grey[t][back[t]].mean() if back[t].any() else 1.0 for t in range(len(img))])
    shade = np.clip(grey / np.maximum(level, 1e-3)[:, None, None, None], 0.5, 1.5) ** look.shade_power
    img = np.where(back, look.background * shade, img)
    img = np.where(np.isin(seg, recolour)[..., None], grey * look.colour, img)
    return (np.clip(img * look.gain, 0, 1) * 255).astype(np.uint8)


def label_ids(labels: dict, names: tuple[str, ...], flag: str) -> np.ndarray:
    """The seg ids of ``names`` in a store's ``segmentation_labels`` (a clear error for an unknown one)."""
    ids = {str(name): int(i) for i, name in labels.items()}
    missing = [n for n in names if n not in ids]
    if missing:
        raise ConfigError(f"{flag} {missing} not among the store's segmentation labels {sorted(ids)}")
    return np.array([ids[n] for n in names], dtype=np.int64)


def paste_store(cfg: PasteConfig, command: str = "") -> dict:
    """Write ``cfg.out``: every episode of ``cfg.input`` with pasted backgrounds; returns a summary."""
    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.envs.control_maps import derived_maps

    src = TrajectoryStore.open(cfg.input)
    if Path(cfg.out).exists():
        raise ConfigError(f"--out {cfg.out} already exists; choose another path or delete it first")
    key, prefix = src.frame_key(), f"maps/{cfg.camera}/"
    seg_key = f"{prefix}seg"
    if seg_key not in src.keys():
        raise ConfigError(
            f"{cfg.input} has no {seg_key} (keys {src.keys()}): record it with `cosmos-sim generate --maps seg`"
        )
    labels = src.attrs.get("segmentation_labels") or {}
    replace = label_ids(labels, cfg.replace, "--replace")
    recolour = label_ids(labels, cfg.recolour, "--recolour")
    pictures = load_pictures(cfg.pictures)
    attrs = {
        k: v for k, v in src.attrs.items() if k not in ("format", "format_version", "created_at", "runs")
    }
    attrs["pasted_backgrounds"] = {"source": str(cfg.input), "command": command,
                                   "config": {k: v for k, v in cfg.__dict__.items() if k != "progress"}}  # fmt: skip
    dst = TrajectoryStore.create(cfg.out, attrs=attrs)
    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=src.n_episodes, unit="episode", desc="paste-backgrounds")
    t0, frames, shown = time.perf_counter(), 0, []
    for e in range(src.n_episodes):
        ep = src.episode(e)
        before = ep[key][[0, len(ep[key]) // 2, -1]]
        look = draw_look(np.random.default_rng([cfg.seed + e, 0xB6]), pictures, ep[key].shape[1:3], cfg)
        ep[key] = paste(ep[key], ep[seg_key], replace, recolour, look)
        derived = tuple(
            m for m in ("edges", "blur") if f"{prefix}{m}" in ep
        )  # they must describe the new look
        per_frame = [derived_maps(f, derived) for f in ep[key]]
        for m in derived:
            ep[f"{prefix}{m}"] = np.stack([d[m] for d in per_frame])
        dst.add_episode(ep, seed=int(src.episode_seeds[e]))
        if len(shown) < 8:
            shown.append(np.concatenate([*before, *ep[key][[0, len(ep[key]) // 2, -1]]], axis=0))
        frames += len(ep[key])
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    summary = {"episodes": src.n_episodes, "frames": frames, "seconds": round(seconds, 2),
               "frames_per_s": round(frames / max(seconds, 1e-9), 1)}  # fmt: skip
    dst.update_attrs({"paste_summary": summary})
    if cfg.preview:
        import imageio.v3 as iio

        Path(cfg.preview).parent.mkdir(parents=True, exist_ok=True)
        grid = np.concatenate(shown, axis=1)  # episodes side by side
        iio.imwrite(cfg.preview, grid.repeat(2, 0).repeat(2, 1))
    return summary


__all__ = [
    "HELD_OUT_SOURCES",
    "PICTURES",
    "Look",
    "PasteConfig",
    "draw_look",
    "load_pictures",
    "paste",
    "paste_store",
]
