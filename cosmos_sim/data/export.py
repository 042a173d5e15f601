"""Pictures of stored episodes: MP4/GIF per episode and PNG contact sheets.

Any image-like key can be shown: RGB/RGBA/grey uint8 frames as they are, depth (float HxW)
colourised with matplotlib's turbo map (near = warm, scaled per episode), segmentation ids
(integer HxW) with a fixed palette (0 = black), other 2-D maps (edges) as grey. Without a key a
store shows ``rgb`` or, for multi-camera stores, every camera side by side in a grid (six cameras:
2x3). Small frames are upscaled (nearest neighbour) so videos are watchable. GIF writers (Pillow)
merge identical consecutive frames into one longer frame: playback time is right, but a GIF of a
scene at rest has fewer frames than rows; MP4 keeps one frame per row.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError, StoreError

_MIN_SIDE = 256  # auto-upscale small frames to at least this many pixels on the short side
_GAP = 2  # pixels between tiles in grids and contact sheets


def _is_viewable(row_shape: tuple[int, ...], dtype: np.dtype) -> bool:
    if len(row_shape) == 2:
        return np.dtype(dtype).kind in "biuf"
    return len(row_shape) == 3 and row_shape[-1] in (1, 3, 4) and np.dtype(dtype).kind in "uif"


def viewable_keys(store: TrajectoryStore) -> list[str]:
    """Keys whose rows can be shown as pictures (images and HxW maps)."""
    return [k for k, (shape, dtype) in store.key_info().items() if _is_viewable(shape, dtype)]


def camera_keys(store: TrajectoryStore) -> list[str]:
    """Top-level uint8 HxWx3 keys: the cameras of a store, in the env's order when it is recorded."""
    cams = [
        k
        for k, (shape, dtype) in store.key_info().items()
        if "/" not in k and len(shape) == 3 and shape[-1] == 3 and dtype == np.uint8
    ]
    grid = [k for row in store.attrs.get("camera_grid", []) for k in row]
    order = [k for k in [*grid, *store.attrs.get("image_keys", [])] if k in cams]
    order = list(dict.fromkeys(order))
    return order + [k for k in cams if k not in order]


def default_keys(store: TrajectoryStore) -> list[str]:
    """``["rgb"]`` when the store has it, otherwise every camera key (shown as a grid)."""
    keys = store.keys()
    if "rgb" in keys:
        return ["rgb"]
    cams = camera_keys(store)
    if not cams:
        raise StoreError(
            f"store {store.path} has no rgb or camera key to show; pass key=... (viewable: {viewable_keys(store)})"
        )
    return cams


def colourise(frames: np.ndarray, key: str = "") -> np.ndarray:
    """(T, H, W[, C]) frames of any viewable kind -> (T, H, W, 3) uint8 RGB."""
    a = np.asarray(frames)
    if a.ndim == 4:
        if a.dtype != np.uint8:
            a = np.clip(a * (255.0 if a.max(initial=0) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        return np.repeat(a, 3, axis=-1) if a.shape[-1] == 1 else a[..., :3]
    if a.dtype == np.bool_ or (a.dtype == np.uint8 and not key.endswith("seg")):
        grey = a.astype(np.uint8) * (255 if a.dtype == np.bool_ else 1)
        return np.repeat(grey[..., None], 3, axis=-1)
    if a.dtype.kind in "iu":
        return _palette(int(a.max(initial=0)) + 1)[np.clip(a, 0, None)]
    return _depth_colours(a.astype(np.float32))


def _palette(n: int) -> np.ndarray:
    """n distinct colours, 0 = black; the same ids always get the same colours."""
    from matplotlib import colormaps

    base = (np.asarray(colormaps["tab20"].colors) * 255).astype(np.uint8)
    pal = np.zeros((max(n, 2), 3), dtype=np.uint8)
    pal[1:] = base[(np.arange(1, len(pal)) - 1) % len(base)]
    return pal


def _depth_colours(depth: np.ndarray) -> np.ndarray:
    from matplotlib import colormaps

    finite = np.isfinite(depth)
    if not finite.any():
        return np.zeros((*depth.shape, 3), dtype=np.uint8)
    lo, hi = np.percentile(depth[finite], [1, 99])
    x = np.clip((np.where(finite, depth, hi) - lo) / max(hi - lo, 1e-6), 0, 1)
    lut = (colormaps["turbo"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    rgb = lut[(255 * (1 - x)).astype(np.int32)]  # near = warm
    rgb[~finite] = 0
    return rgb


def tile(views: Sequence[np.ndarray], ncols: int | None = None, gap: int = _GAP) -> np.ndarray:
    """Tile same-length (T, H, W, 3) uint8 views into one (T, H', W', 3) grid, white gaps."""
    n = len(views)
    ncols = ncols or (3 if n == 6 else math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    t = views[0].shape[0]
    h = max(v.shape[1] for v in views)
    w = max(v.shape[2] for v in views)
    out = np.full((t, nrows * h + (nrows - 1) * gap, ncols * w + (ncols - 1) * gap, 3), 255, np.uint8)
    for i, v in enumerate(views):
        r, c = divmod(i, ncols)
        y, x = r * (h + gap), c * (w + gap)
        out[:, y : y + v.shape[1], x : x + v.shape[2]] = v
    return out


def _upscale(frames: np.ndarray, scale: int | None) -> np.ndarray:
    if scale is None:
        scale = max(1, min(8, math.ceil(_MIN_SIDE / min(frames.shape[1:3]))))
    if scale == 1:
        return frames
    return frames.repeat(scale, axis=1).repeat(scale, axis=2)


def _check_episode(store: TrajectoryStore, episode: int) -> int:
    n = store.n_episodes
    if n == 0:
        raise StoreError(f"store {store.path} has no episodes to export")
    if not isinstance(episode, int | np.integer) or not -n <= episode < n:
        raise ConfigError(
            f"episode {episode!r} out of range: store {store.path} has {n} episodes (0..{n - 1})"
        )
    return int(episode) % n


def _resolve_keys(store: TrajectoryStore, key: str | None) -> list[str]:
    if key is None:
        return default_keys(store)
    ok = viewable_keys(store)
    if key not in ok:
        what = "is not an image or map" if key in store.keys() else "is not in the store"
        raise ConfigError(f"key {key!r} {what} ({store.path}); viewable keys: {ok}")
    return [key]


def episode_frames(
    store: TrajectoryStore, episode: int, key: str | None = None, rows: Sequence[int] | slice | None = None
) -> np.ndarray:
    """(T, H, W, 3) uint8 pictures of one episode (``key`` or the default view), unscaled."""
    episode = _check_episode(store, episode)
    keys = _resolve_keys(store, key)
    data = store.episode(episode, keys)
    views = [colourise(data[k] if rows is None else data[k][rows], k) for k in keys]
    return views[0] if len(views) == 1 else tile(views)


def export_episode(
    store_path: str | os.PathLike,
    episode: int,
    out: str | os.PathLike,
    key: str | None = None,
    fps: float | None = None,
    scale: int | None = None,
) -> Path:
    """Write one episode as MP4 (H.264) or GIF, chosen by ``out``'s suffix; returns ``out``.

    Args:
        store_path: trajectory store directory.
        episode: episode index (negative counts from the end).
        out: ``*.mp4`` or ``*.gif``.
        key: data key to show (default: ``rgb``, or all cameras as a grid).
        fps: frames per second (default: the store's ``fps`` attr, else 20).
        scale: integer upscale factor (default: enough for a 256-pixel short side, at most 8).
    """
    import imageio.v2 as iio2
    import imageio.v3 as iio3

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ConfigError(f"output {out} must end in .mp4 or .gif")
    store = TrajectoryStore.open(store_path)
    frames = _upscale(episode_frames(store, episode, key), scale)
    fps = float(fps or store.attrs.get("fps") or 20)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        iio3.imwrite(out, frames, extension=".gif", duration=1000.0 / fps, loop=0)
    else:
        # yuv420p (what players expect) needs even sizes: pad by one pixel where odd.
        h, w = frames.shape[1:3]
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        iio2.mimwrite(
            out, list(frames), fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=1, quality=8
        )
    return out


def contact_sheet(
    store_path: str | os.PathLike,
    out_png: str | os.PathLike,
    episodes: Sequence[int] | int | None = None,
    frames: Sequence[int] | int = 8,
    key: str | None = None,
    scale: int = 1,
) -> Path:
    """A PNG grid: one row per episode, one column per chosen frame; returns ``out_png``.

    Args:
        store_path: trajectory store directory.
        out_png: output path (``.png``).
        episodes: episode indices, or a count of the first episodes (default: up to 8).
        frames: row indices to show in every episode (clipped to its last row), or a count of
            evenly spaced rows from the first to the last.
        key: data key to show (default: ``rgb`` or all cameras as a grid).
        scale: integer upscale factor of every cell.
    """
    import imageio.v3 as iio3

    store = TrajectoryStore.open(store_path)
    if store.n_episodes == 0:
        raise StoreError(f"store {store.path} has no episodes for a contact sheet")
    if episodes is None or isinstance(episodes, int):
        episodes = range(min(store.n_episodes, 8 if episodes is None else episodes))
    rows = []
    for e in episodes:
        e = _check_episode(store, e)
        n = int(store.episode_lengths[e])
        idx = (
            np.linspace(0, n - 1, frames).round().astype(int)
            if isinstance(frames, int)
            else np.minimum(np.asarray(frames, dtype=int), n - 1)
        )
        cells = _upscale(episode_frames(store, e, key, rows=idx), scale)
        rows.append(tile([c[None] for c in cells], ncols=len(cells), gap=3 * _GAP)[0])
    sheet = tile([r[None] for r in rows], ncols=1, gap=3 * _GAP)[0]
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    iio3.imwrite(out, sheet)
    return out
