"""Stage 7: write kept clips as training shards, bucketed by resolution, aspect ratio and length.

Two formats:

* ``"zarr"`` (default): one trajectory store per bucket (``cosmos_sim.data.store.TrajectoryStore``),
  one episode per clip with the key ``rgb`` (T, H, W, 3) uint8, so
  ``TrajectoryWindowDataset(OUT/shards/<bucket>, context, horizon)`` trains on it directly. The
  store's attrs hold ``fps`` and, per episode, the clip id, caption and source.
* ``"webdataset"``: tar files of ``<clip_id>.mp4`` + ``<clip_id>.json`` (caption and metadata),
  at most ``clips_per_tar`` clips each; read them with ``iter_webdataset``.

Frames are resized to ``height`` rows (aspect kept, width rounded to even) unless ``height`` is
0. ``OUT/shards/manifest.json`` lists the buckets and where each clip went. A bucket whose clip
list did not change since the last run is left as it is (re-runs are cheap).
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any

import av
import numpy as np

from cosmos_sim.curate.clip import Clip
from cosmos_sim.data.store import TrajectoryStore

MANIFEST = "manifest.json"
_ASPECTS = {"16x9": 16 / 9, "4x3": 4 / 3, "1x1": 1.0, "3x4": 3 / 4, "9x16": 9 / 16, "21x9": 21 / 9}


@dataclass(frozen=True)
class ShardConfig:
    """Shard format and bucketing."""

    format: str = "zarr"
    """``"zarr"`` (trajectory stores, read by TrajectoryWindowDataset) or ``"webdataset"`` (tar files)."""
    height: int = 256
    """Rows of the stored frames (aspect kept); 0 keeps the clip's size. Zarr only."""
    length_edges_s: tuple[float, ...] = (5.0, 10.0, 30.0)
    """Clip-length bucket edges in seconds."""
    clips_per_tar: int = 64
    """Clips per webdataset tar."""

    def __post_init__(self) -> None:
        if self.format not in ("zarr", "webdataset"):
            raise ValueError(f"shard format must be 'zarr' or 'webdataset', got {self.format!r}")
        if self.height < 0 or (self.height and self.height < 8):
            raise ValueError(f"shard height must be 0 (keep) or >= 8, got {self.height}")


def aspect_label(width: int, height: int) -> str:
    """The common aspect ratio name (``16x9``...) within 3 %, else the reduced ratio."""
    r = width / height
    for name, value in _ASPECTS.items():
        if abs(r / value - 1) < 0.03:
            return name
    g = gcd(width, height)
    return f"{width // g}x{height // g}"


def length_label(duration: float, edges: tuple[float, ...]) -> str:
    """The length bucket, e.g. ``2-5s``, ``5-10s``, ``30s+``."""
    lo = 0.0
    for e in edges:
        if duration < e:
            return f"{lo:g}-{e:g}s"
        lo = e
    return f"{lo:g}s+"


def bucket_of(clip: Clip, cfg: ShardConfig) -> str:
    """``<width>x<height>_<aspect>_<length>`` of the clip's source resolution."""
    return (
        f"{clip.width}x{clip.height}_{aspect_label(clip.width, clip.height)}_"
        f"{length_label(clip.duration, cfg.length_edges_s)}"
    )


def stored_size(clip: Clip, cfg: ShardConfig) -> tuple[int, int]:
    """(width, height) of the frames stored for ``clip``."""
    if not cfg.height or cfg.format == "webdataset":
        return clip.width, clip.height
    w = round(clip.width * cfg.height / clip.height)
    return w + w % 2, cfg.height


def read_frames(path: str | Path | io.BytesIO, size: tuple[int, int] | None = None) -> np.ndarray:
    """All frames of a video (path or file object) as (T, H, W, 3) uint8 RGB, resized to ``size`` (w, h) if given."""
    with av.open(path if isinstance(path, io.BytesIO) else str(path)) as c:
        kw = {"width": size[0], "height": size[1], "interpolation": "AREA"} if size else {}
        frames = [f.to_ndarray(format="rgb24", **kw) for f in c.decode(video=0)]
    if not frames:
        raise ValueError(f"{path}: no frames")
    return np.stack(frames)


def write_shards(clips: list[Clip], out_dir: str | Path, cfg: ShardConfig) -> dict[str, Any]:
    """Write the kept ``clips`` (their MP4s under ``out_dir``) into ``out_dir/shards``; return the manifest."""
    out_dir = Path(out_dir)
    shard_dir = out_dir / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    old = _load_manifest(shard_dir)
    buckets: dict[str, list[Clip]] = {}
    for clip in sorted(clips, key=lambda c: c.clip_id):
        buckets.setdefault(bucket_of(clip, cfg), []).append(clip)
    manifest: dict[str, Any] = {"format": cfg.format, "height": cfg.height, "buckets": {}, "clips": {}}
    for name, members in buckets.items():
        ids = [c.clip_id for c in members]
        prev = old.get("buckets", {}).get(name)
        same = (
            old.get("format") == cfg.format
            and old.get("height") == cfg.height
            and prev is not None
            and prev["clips"] == ids
            and (shard_dir / name).exists()
        )
        entry = prev if same else _write_bucket(members, out_dir, shard_dir / name, cfg)
        manifest["buckets"][name] = entry
        for i, c in enumerate(members):
            where = {"episode": i} if cfg.format == "zarr" else {"tar": entry["tars"][i // cfg.clips_per_tar]}
            manifest["clips"][c.clip_id] = {"bucket": name, **where, "caption": c.caption}
    for stale in set(old.get("buckets", {})) - set(buckets):  # buckets that lost all their clips
        shutil.rmtree(shard_dir / stale, ignore_errors=True)
    tmp = shard_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(shard_dir / MANIFEST)
    return manifest


def _write_bucket(clips: list[Clip], out_dir: Path, path: Path, cfg: ShardConfig) -> dict[str, Any]:
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    size = stored_size(clips[0], cfg)
    entry: dict[str, Any] = {
        "path": path.name,
        "clips": [c.clip_id for c in clips],
        "width": size[0],
        "height": size[1],
        "fps": clips[0].fps,
        "n_frames": 0,
    }
    if cfg.format == "zarr":
        meta = [
            {
                "clip_id": c.clip_id,
                "caption": c.caption,
                "video": c.video,
                "start_s": c.start_frame / c.fps,
                "tags": c.tags,
            }
            for c in clips
        ]

        def load(c: Clip) -> np.ndarray:
            return read_frames(out_dir / c.path, size if size != (c.width, c.height) else None)

        with (
            TrajectoryStore.create(
                tmp,
                attrs={
                    "source": "cosmos_sim.curate",
                    "fps": clips[0].fps,
                    "bucket": path.name,
                    "clips": meta,
                },
            ) as store,
            ThreadPoolExecutor(1) as pool,
        ):
            # decode the next clip while this one is compressed and written (both release the GIL)
            upcoming = pool.submit(load, clips[0])
            for i in range(len(clips)):
                frames = upcoming.result()
                if i + 1 < len(clips):
                    upcoming = pool.submit(load, clips[i + 1])
                store.add_episode({"rgb": frames})
                entry["n_frames"] += len(frames)
    else:
        tmp.mkdir(parents=True)
        entry["tars"] = []
        for start in range(0, len(clips), cfg.clips_per_tar):
            name = f"{path.name}-{start // cfg.clips_per_tar:05d}.tar"
            entry["tars"].append(name)
            with tarfile.open(tmp / name, "w") as tar:
                for c in clips[start : start + cfg.clips_per_tar]:
                    tar.add(out_dir / c.path, arcname=f"{c.clip_id}.mp4")
                    data = json.dumps(c.record()).encode()
                    info = tarfile.TarInfo(f"{c.clip_id}.json")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                    entry["n_frames"] += c.n_frames
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return entry


def _load_manifest(shard_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((shard_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def iter_webdataset(tar_path: str | Path, decode: bool = True) -> Iterator[dict[str, Any]]:
    """Samples of a webdataset tar: ``{"key", "meta" (dict), "frames" (T,H,W,3 uint8) or "mp4" (bytes)}``."""
    with tarfile.open(tar_path) as tar:
        sample: dict[str, Any] = {}
        for member in tar:
            key, _, ext = member.name.rpartition(".")
            if sample and sample["key"] != key:
                yield sample
                sample = {}
            data = tar.extractfile(member).read()
            sample["key"] = key
            if ext == "json":
                sample["meta"] = json.loads(data)
            elif ext == "mp4":
                sample["frames" if decode else "mp4"] = read_frames(io.BytesIO(data)) if decode else data
        if sample:
            yield sample
