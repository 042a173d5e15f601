"""The physics benchmark for any model: export its held-out conditioning clips, score videos made elsewhere.

``cosmos-sim bench physics --export DIR`` writes, for every scenario and held-out seed of the run::

    DIR/manifest.json                 format, context, horizon, fps, frame size, scenarios, seeds, and per
                                      episode its id, scenario, env id, seed and the paths below
    DIR/context/<id>.mp4              the ``context`` conditioning frames (H.264, what most models read)
    DIR/context/<id>/00000.png ...    the same frames, lossless
    DIR/masks/<id>.npz                the GT continuation's segmentation: ``seg`` (horizon, H, W) instance ids,
                                      ``ids`` / ``names`` of the moving objects (Physics-IQ-style masks)

A user runs any model on the clips and writes its continuations into ``DIR/predictions/``: ``<id>.mp4`` or
``<id>/00000.png ...`` (lossless, preferred: MP4 compression costs PSNR); ``horizon`` frames after the
context, or the whole generated video (``context + horizon`` frames or more: Video2World models return the
conditioning frames too, and those are dropped), at any resolution (resized to the frame size).
``cosmos-sim bench physics --predictions DIR`` then scores them (``FilePredictor``) with the manifest's
scenarios, seeds, context and horizon, beside the baselines, in the same table as any in-process model:
no model has to run inside cosmos-sim to be measured. ``video2world_predictions`` fills ``predictions/`` with a
local diffusers Video2World checkpoint (``Cosmos2VideoToWorldPipeline``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cosmos_sim.errors import ConfigError
from cosmos_sim.eval.predictors import Episode
from cosmos_sim.eval.rollouts import GTEpisode, gt_episode

FORMAT = "cosmos-sim-physics-export"
VERSION = 1
MANIFEST = "manifest.json"
PREDICTIONS = "predictions"
FPS = 20
"""Frame rate of the exported clips (the physics scenes' ``render_fps``)."""


def episode_id(scenario: str, seed: int) -> str:
    """``FreeFall_100000``: an exported episode's name."""
    return f"{scenario}_{seed}"


def write_frames(
    frames: np.ndarray, stem: Path, mp4: bool = True, png: bool = True, fps: float = FPS
) -> None:
    """``(T, H, W, 3)`` uint8 as ``stem.mp4`` (H.264, yuv420p) and/or ``stem/00000.png ...``."""
    import imageio.v2 as iio2
    import imageio.v3 as iio3

    stem.parent.mkdir(parents=True, exist_ok=True)
    if png:
        stem.mkdir(exist_ok=True)
        for i, f in enumerate(frames):
            iio3.imwrite(stem / f"{i:05d}.png", f)
    if mp4:
        h, w = frames.shape[1:3]
        even = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")  # yuv420p: even sizes
        iio2.mimwrite(
            stem.with_suffix(".mp4"),
            list(even),
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=1,
            quality=10,
        )


def read_frames(path: str | os.PathLike) -> np.ndarray:
    """A video as ``(T, H, W, 3)`` uint8: an MP4 (or any format imageio reads) or a folder of PNG frames."""
    import imageio.v3 as iio3

    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.png"))
        if not files:
            raise ConfigError(f"{p} holds no PNG frames (expected 00000.png, 00001.png, ...)")
        frames = np.stack([iio3.imread(f) for f in files])
    elif p.is_file():
        frames = np.asarray(iio3.imread(p, index=None))
    else:
        raise ConfigError(f"no video at {p} (expected {p}.mp4 or a folder {p}/ of PNG frames)")
    if frames.ndim == 3:
        frames = frames[..., None].repeat(3, axis=-1)
    return np.ascontiguousarray(frames[..., :3]).astype(np.uint8)


def export_clips(
    out_dir: str | os.PathLike,
    scenarios: list[str] | tuple[str, ...],
    seeds: list[int],
    context: int,
    horizon: int,
    extra_scenarios: list[str] | tuple[str, ...] = (),
    episodes: dict[tuple[str, int], GTEpisode] | None = None,
) -> dict[str, Any]:
    """Write the held-out conditioning clips, the GT continuations' masks and the manifest (module
    docstring) into ``out_dir``; returns the manifest. ``extra_scenarios``: exported too, beside the scored
    ones (the 3D-consistency scene); ``episodes``: GT episodes already simulated."""
    out = Path(out_dir)
    rows = []
    frame_size = None
    for scenario in (*scenarios, *extra_scenarios):
        for seed in seeds:
            gt = (episodes or {}).get((scenario, seed)) or gt_episode(scenario, seed, context + horizon)
            eid = episode_id(scenario, seed)
            frame_size = list(gt.frames.shape[1:3])
            write_frames(gt.frames[:context], out / "context" / eid)
            ids = [i for i, name in sorted(gt.labels.items()) if name in gt.objects]
            (out / "masks").mkdir(parents=True, exist_ok=True)
            np.savez_compressed(
                out / "masks" / f"{eid}.npz",
                seg=gt.segs[context : context + horizon].astype(np.int32),
                ids=np.array(ids, np.int32),
                names=np.array([gt.labels[i] for i in ids]),
            )
            rows.append(
                {
                    "id": eid,
                    "scenario": scenario,
                    "env_id": gt.env_id,
                    "seed": int(seed),
                    "context_mp4": f"context/{eid}.mp4",
                    "context_png": f"context/{eid}",
                    "masks": f"masks/{eid}.npz",
                    "prediction": f"{PREDICTIONS}/{eid}",
                }
            )
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "context": context,
        "horizon": horizon,
        "fps": FPS,
        "frame_size": frame_size,
        "scenarios": list(scenarios),
        "extra_scenarios": list(extra_scenarios),
        "seeds": [int(s) for s in seeds],
        "episodes": rows,
        "predictions": (
            f"write {PREDICTIONS}/<id>.mp4 or {PREDICTIONS}/<id>/00000.png ...: the {horizon} frames after the "
            f"{context} context frames (a video of context + horizon frames or more is accepted: its first "
            f"{context} frames are dropped), any resolution; then `cosmos-sim bench physics --predictions DIR`"
        ),
    }
    (out / PREDICTIONS).mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """The manifest of an export directory (ConfigError naming what is wrong and the command that makes one)."""
    path = Path(directory) / MANIFEST
    fix = "make one with `cosmos-sim bench physics --export DIR` and put the predictions in DIR/predictions/"
    if not path.is_file():
        raise ConfigError(f"{directory} is not a physics export: no {MANIFEST}; {fix}")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as e:
        raise ConfigError(f"{path} is not valid JSON ({e}); {fix}") from None
    if manifest.get("format") != FORMAT or manifest.get("version", 0) > VERSION:
        raise ConfigError(
            f"{path} is not a {FORMAT} manifest of version <= {VERSION} (format {manifest.get('format')!r}, "
            f"version {manifest.get('version')}); {fix}"
        )
    return manifest


def write_predictions(directory: str | os.PathLike, videos: dict[str, np.ndarray], mp4: bool = False) -> None:
    """Write predicted videos into an export's ``predictions/`` folder by episode id: PNG folders (lossless)
    or, with ``mp4``, H.264 files."""
    manifest = read_manifest(directory)
    known = {e["id"] for e in manifest["episodes"]}
    unknown = sorted(set(videos) - known)
    if unknown:
        raise ConfigError(
            f"episode ids {unknown[:3]} are not in {directory}'s manifest (it has e.g. {sorted(known)[:3]})"
        )
    for eid, frames in videos.items():
        write_frames(np.asarray(frames, np.uint8), Path(directory) / PREDICTIONS / eid, mp4=mp4, png=not mp4)


@dataclass
class FilePredictor:
    """A predictor that reads the videos a user wrote into an export's ``predictions/`` folder."""

    directory: Path
    """The export directory (manifest.json, predictions/)."""
    name: str = ""
    """Label in tables (default: the directory's name)."""

    def __post_init__(self):
        self.directory = Path(self.directory)
        self.manifest = read_manifest(self.directory)
        self.name = self.name or self.directory.resolve().name
        self.by_episode = {(e["env_id"], int(e["seed"])): e for e in self.manifest["episodes"]}

    def video_path(self, entry: dict[str, Any]) -> Path:
        """The prediction of an episode: ``<id>/`` PNG frames, else ``<id>.mp4``."""
        stem = self.directory / entry["prediction"]
        return stem if stem.is_dir() else stem.with_suffix(".mp4")

    def missing(self) -> list[str]:
        """Ids of the episodes without a prediction."""
        return [e["id"] for e in self.manifest["episodes"] if not self.video_path(e).exists()]

    def check_complete(self) -> FilePredictor:
        """``self``, or a ConfigError naming the episodes without a prediction (before any scoring starts)."""
        missing = self.missing()
        if missing:
            raise ConfigError(
                f"{len(missing)} of {len(self.manifest['episodes'])} predictions are missing in "
                f"{self.directory / PREDICTIONS} (e.g. {missing[:3]}); write <id>.mp4 or <id>/00000.png ... "
                "for every episode of its manifest.json"
            )
        return self

    def identity(self) -> dict[str, str]:
        """What identifies these predictions' results: the directory and a hash of every prediction file."""
        h = hashlib.sha256()
        for entry in self.manifest["episodes"]:
            path = self.video_path(entry)
            for f in sorted(path.glob("*.png")) if path.is_dir() else [path] if path.is_file() else []:
                h.update(f.name.encode())
                h.update(f.read_bytes())
        return {"predictor": f"predictions:{self.directory.resolve()}", "sha": h.hexdigest()[:16]}

    def predict(self, episode: Episode, horizon: int, seed: int = 0) -> np.ndarray:
        """The ``horizon`` predicted frames of ``episode`` (found by its env id and seed), at its frame size."""
        entry = self.by_episode.get((episode.env_id, int(episode.seed)))
        if entry is None:
            raise ConfigError(
                f"{self.directory}'s manifest has no episode of {episode.env_id} with seed {episode.seed}; "
                "score predictions with the scenarios and seeds they were exported with"
            )
        frames = read_frames(self.video_path(entry))
        context = int(self.manifest["context"])
        if len(frames) >= context + horizon:
            frames = frames[
                context : context + horizon
            ]  # a whole generated video: drop the conditioning frames
        elif len(frames) >= horizon:
            frames = frames[:horizon]
        else:
            raise ConfigError(
                f"{self.video_path(entry)} has {len(frames)} frames; write the {horizon} frames after the "
                f"{context} context frames (or the whole video of {context + horizon})"
            )
        return resize_frames(frames, tuple(episode.context.shape[1:3]))


def video2world_predictions(
    directory: str | os.PathLike,
    model: Any,
    prompt: str | dict[str, str] | None = None,
    **embeds: Any,
) -> int:
    """Run a Video2World model (``world_models/cosmos_video2world.Video2World``, or anything called the same
    way) on every clip of an export and write its videos into ``predictions/``: the physics benchmark for a
    diffusers checkpoint. The context is resized to the model's resolution and its videos back to the
    frame size; they keep the conditioning frames, which scoring drops. ``prompt``: one text, or one per
    scenario; ``embeds``: ``prompt_embeds`` / ``negative_prompt_embeds`` instead. Returns the clips done."""
    d = Path(directory)
    manifest = read_manifest(d)
    size = tuple(manifest["frame_size"])
    for entry in manifest["episodes"]:
        text = prompt.get(entry["scenario"]) if isinstance(prompt, dict) else prompt
        video = model(read_frames(d / entry["context_png"]), prompt=text, output_size=size, **embeds)
        write_predictions(d, {entry["id"]: video})
    return len(manifest["episodes"])


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 at ``size`` (H, W): area interpolation when shrinking, bilinear when growing."""
    import cv2

    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    mode = cv2.INTER_AREA if h < frames.shape[1] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (w, h), interpolation=mode) for f in frames])


__all__ = [
    "FORMAT",
    "FilePredictor",
    "episode_id",
    "export_clips",
    "read_frames",
    "resize_frames",
    "video2world_predictions",
    "read_manifest",
    "write_frames",
    "write_predictions",
]
