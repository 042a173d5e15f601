"""The curation pipeline: raw videos in, clean, deduplicated, captioned, sharded clips out.

Per video (in worker processes or Ray tasks): split -> motion -> quality -> text -> caption ->
embed. Then over all videos, in this process: dedup -> shard -> report. Output layout::

    OUT/clips/<video_id>/<clip_id>.mp4   transcoded clips that passed the per-video filters
    OUT/work/<video_id>/result.json      a video's clips and fates: the "done" marker (resume)
    OUT/work/<video_id>/embeddings.npy   its embeddings; thumbs/<clip_id>.jpg for the contact sheet
    OUT/shards/...                       training shards + manifest.json (see ``shard``)
    OUT/report.json (+ .parquet)         every clip's fate; skipped inputs with the reason
    OUT/summary.txt, contact_sheet.png, contact_sheet.html

Resuming: a video whose ``result.json`` matches its size, mtime and the per-video config is not
processed again. Bad inputs (empty, truncated, not a video, undecodable) are recorded as skipped
with the error and the run goes on; their partial clips are removed. A video whose later stage
raised (e.g. OCR or VLM trouble) is recorded as failed and tried again on the next run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from cosmos_sim.curate import caption, embed, motion, quality, shard, split, text
from cosmos_sim.curate.clip import Clip, cpu_seconds
from cosmos_sim.curate.report import write_report
from cosmos_sim.workers import make_executor

CLIP_STAGES = ("motion", "quality", "text", "caption", "embed")
RESULT_VERSION = 1


@dataclass(frozen=True)
class CurateConfig:
    """Everything the pipeline does; load from TOML/JSON with ``load_config``."""

    split: split.SplitConfig = field(default_factory=split.SplitConfig)
    """Decode, shot detection, clip length rules, transcoding."""
    motion: motion.MotionConfig = field(default_factory=motion.MotionConfig)
    """Static/erratic filter and camera-motion tags."""
    quality: quality.QualityConfig = field(default_factory=quality.QualityConfig)
    """Blur and exposure filter."""
    text: text.TextConfig = field(default_factory=text.TextConfig)
    """Burned-in text filter (Tesseract)."""
    caption: caption.CaptionConfig = field(default_factory=caption.CaptionConfig)
    """Captioner."""
    dedup: embed.DedupConfig = field(default_factory=embed.DedupConfig)
    """Embedding-based near-duplicate removal."""
    shard: shard.ShardConfig = field(default_factory=shard.ShardConfig)
    """Training shards."""
    executor: str = "local"
    """``"local"`` (processes) or ``"ray"``."""
    workers: int = 2
    """Parallel videos (local processes, or CPUs of a locally started Ray)."""
    ray_address: str = ""
    """Address of an existing Ray cluster ("" starts Ray on this machine)."""
    clips_at_shard_height: bool = True
    """With zarr shards and [split] height 0, transcode clips at the shard height ([shard] height) rather
    than the source's: every frame is encoded once, at the size the training data is stored at (720p
    to 256 rows: x264 takes a fifth of the time, and sharding has nothing to resize). False: source size."""
    keep_dropped_clips: bool = False
    """Keep the MP4s of clips the filters dropped (for inspection)."""
    contact_sheet: bool = True
    """Write contact_sheet.png/.html of kept and dropped clips."""
    progress: bool = True
    """Show a progress bar per stage."""

    def __post_init__(self) -> None:
        if self.executor not in ("local", "ray"):
            raise ValueError(f"executor must be 'local' or 'ray', got {self.executor!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")

    def video_split(self) -> split.SplitConfig:
        """The split settings a video is processed with (clips at the shard height, see ``clips_at_shard_height``)."""
        if self.clips_at_shard_height and not self.split.height and self.shard.format == "zarr":
            return dataclasses.replace(self.split, height=self.shard.height)
        return self.split

    def video_hash(self) -> str:
        """Hash of the settings that change per-video results (a change re-processes every video)."""
        parts = {k: dataclasses.asdict(getattr(self, k)) for k in ("motion", "quality", "text", "caption")}
        parts["split"] = dataclasses.asdict(self.video_split())
        parts["embedder"] = self.dedup.embedder
        return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


_SECTIONS = {
    "split": split.SplitConfig,
    "motion": motion.MotionConfig,
    "quality": quality.QualityConfig,
    "text": text.TextConfig,
    "caption": caption.CaptionConfig,
    "dedup": embed.DedupConfig,
    "shard": shard.ShardConfig,
}


def config_from_dict(data: dict[str, Any], **overrides: Any) -> CurateConfig:
    """Build a config from nested dicts (sections as in ``CurateConfig``); unknown keys are errors."""
    kw: dict[str, Any] = {}
    top = {f.name for f in dataclasses.fields(CurateConfig)}
    for key, value in data.items():
        if key not in top:
            raise ValueError(f"unknown curate config key {key!r}; valid: {sorted(top)}")
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ValueError(f"config section [{key}] must be a table/object, got {value!r}")
            cls = _SECTIONS[key]
            names = {f.name for f in dataclasses.fields(cls)}
            bad = sorted(set(value) - names)
            if bad:
                raise ValueError(f"unknown keys {bad} in config section [{key}]; valid: {sorted(names)}")
            value = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})
        kw[key] = value
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return CurateConfig(**kw)


def load_config(path: str | os.PathLike | None, **overrides: Any) -> CurateConfig:
    """Config from a ``.toml`` or ``.json`` file (None: defaults), with top-level ``overrides``."""
    if path is None:
        return config_from_dict({}, **overrides)
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"curate config {p} does not exist")
    try:
        data = tomllib.loads(p.read_text()) if p.suffix == ".toml" else json.loads(p.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise ValueError(
            f"curate config {p} is not valid {'TOML' if p.suffix == '.toml' else 'JSON'}: {e}"
        ) from None
    return config_from_dict(data, **overrides)


def video_id(rel: str) -> str:
    """A file-name-safe id for the video at relative path ``rel``: readable stem + short hash."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(rel).stem)[:40] or "video"
    return f"{stem}-{hashlib.sha1(rel.encode()).hexdigest()[:8]}"


def find_inputs(input_dir: Path, out_dir: Path) -> list[Path]:
    """Every regular, non-hidden file under ``input_dir`` (not under ``out_dir``), sorted."""
    out = out_dir.resolve()
    files = []
    for p in sorted(input_dir.rglob("*")):
        rel = p.relative_to(input_dir)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if out == p.resolve() or out in p.resolve().parents:
            continue
        files.append(p)
    return files


@dataclass(frozen=True)
class VideoTask:
    """One video for a worker."""

    path: str
    """Absolute path of the video."""
    rel: str
    """Path relative to the input directory (its name in the report)."""
    out_dir: str
    """Output directory."""
    fingerprint: str
    """Size and mtime: a changed file is processed again."""
    cfg: CurateConfig
    """The pipeline config."""


def _fingerprint(p: Path) -> str:
    st = p.stat()
    return f"{st.st_size}-{st.st_mtime_ns}"


def process_video(task: VideoTask) -> dict[str, Any]:
    """Per-video stages; writes clips, embeddings, thumbnails and ``result.json``; returns the result."""
    cfg, out_dir, vid = task.cfg, Path(task.out_dir), video_id(task.rel)
    work = out_dir / "work" / vid
    result: dict[str, Any] = {
        "version": RESULT_VERSION,
        "video": task.rel,
        "video_id": vid,
        "fingerprint": task.fingerprint,
        "config": cfg.video_hash(),
        "status": "done",
        "reason": "",
        "clips": [],
        "embedded": [],
        "timings": {},
    }
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(out_dir / "clips" / vid, ignore_errors=True)
    (work / "thumbs").mkdir(parents=True)
    timings = dict.fromkeys(("decode", "transcode", *CLIP_STAGES), 0.0)
    embeddings: list[np.ndarray] = []
    runs = {
        "motion": lambda c: motion.apply(c, cfg.motion),
        "quality": lambda c: quality.apply(c, cfg.quality),
        "text": lambda c: text.apply(c, cfg.text),
        "caption": lambda c: caption.apply(c, cfg.caption),
        "embed": lambda c: embeddings.append(embed.embed_clip(c, cfg.dedup)),
    }
    now = {"stage": "split"}  # which stage an exception came from

    def finish_clip(clip: Clip) -> None:  # called by split as each clip is complete
        for stage in CLIP_STAGES:
            if not clip.kept:
                break
            now["stage"] = stage
            t0 = cpu_seconds()
            runs[stage](clip)
            timings[stage] += cpu_seconds() - t0
        now["stage"] = "split"
        if clip.kept:
            result["embedded"].append(clip.clip_id)
        elif clip.path and not cfg.keep_dropped_clips:
            (out_dir / clip.path).unlink(missing_ok=True)
            clip.path = None
        _save_thumb(clip, work / "thumbs")
        clip.frames, clip.flow_pairs = [], []
        result["clips"].append(clip.record())

    try:
        if os.path.getsize(task.path) == 0:
            raise ValueError("empty file (0 bytes)")
        if cfg.text.enabled:
            text.check_tesseract(cfg.text)
        sp = split.split_video(task.path, task.rel, vid, out_dir, cfg.video_split(), on_clip=finish_clip)
        timings["decode"], timings["transcode"] = sp.decode_s, sp.transcode_s
        result.update(
            n_frames=sp.n_frames,
            fps=sp.fps,
            width=sp.width,
            height=sp.height,
            clip_size=list(sp.clip_size),
            duration_s=sp.n_frames / sp.fps,
            cuts=sp.cuts,
        )
        np.save(work / "embeddings.npy", np.stack(embeddings) if embeddings else np.zeros((0, 0), np.float32))
    except Exception as e:
        # A decode error is bad input: recorded as skipped, not retried while the file is unchanged.
        # An error in a later stage is ours or the environment's (OCR, VLM): "failed", retried next run.
        # Either way, what this video wrote is removed and the run goes on with the others.
        shutil.rmtree(out_dir / "clips" / vid, ignore_errors=True)
        reason = f"{type(e).__name__}: {e}".replace(task.path, task.rel)[:500]
        if now["stage"] == "split":
            result.update(status="skipped", reason=reason, clips=[], embedded=[])
        else:
            result.update(status="failed", reason=f"{now['stage']} stage: {reason}", clips=[], embedded=[])
    result["timings"] = timings
    tmp = work / "result.json.tmp"
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(work / "result.json")  # written last: its presence means the video is done
    return result


def _crashed(task: VideoTask, error: BaseException) -> dict[str, Any]:
    """The result of a video whose worker process died: failed (not saved, so tried again next run)."""
    shutil.rmtree(Path(task.out_dir) / "clips" / video_id(task.rel), ignore_errors=True)
    return {
        "version": RESULT_VERSION,
        "video": task.rel,
        "video_id": video_id(task.rel),
        "status": "failed",
        "reason": f"the worker process died while processing it (decoder crash or out of memory?): {error}",
        "clips": [],
        "embedded": [],
        "timings": {},
    }


def _save_thumb(clip: Clip, thumb_dir: Path) -> None:
    if clip.frames:
        f = clip.frames[len(clip.frames) // 2]
        h = 90
        w = max(2, round(f.shape[1] * h / f.shape[0]))
        cv2.imwrite(
            str(thumb_dir / f"{clip.clip_id}.jpg"), cv2.cvtColor(cv2.resize(f, (w, h)), cv2.COLOR_RGB2BGR)
        )


def _load_done(work: Path, fingerprint: str, cfg: CurateConfig) -> dict[str, Any] | None:
    try:
        res = json.loads((work / "result.json").read_text())
    except (OSError, ValueError):
        return None
    ok = (
        res.get("version") == RESULT_VERSION
        and res.get("status") in ("done", "skipped")
        and res.get("fingerprint") == fingerprint
        and res.get("config") == cfg.video_hash()
    )
    return res if ok else None


def curate(
    input_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: CurateConfig | None = None
) -> dict[str, Any]:
    """Run the pipeline; returns the report's summary (also in ``OUT/report.json``)."""
    cfg = cfg or CurateConfig()
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    if not input_dir.is_dir():
        raise ValueError(f"input directory {input_dir} does not exist or is not a directory")
    if cfg.text.enabled:
        text.check_tesseract(cfg.text)
    if cfg.caption.captioner == "vlm":
        caption.check_model_path(cfg.caption.model_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    files = find_inputs(input_dir, out_dir)
    results, tasks = [], []
    for p in files:
        rel = p.relative_to(input_dir).as_posix()
        fp = _fingerprint(p)
        done = _load_done(out_dir / "work" / video_id(rel), fp, cfg)
        if done is not None:
            results.append(done)
        else:
            tasks.append(VideoTask(str(p.resolve()), rel, str(out_dir.resolve()), fp, cfg))
    n_resumed = len(results)
    bars = _Bars(cfg.progress, len(tasks))
    if tasks:
        executor = make_executor(cfg.executor, cfg.workers, cfg.ray_address or None)
        try:
            for res in executor.imap_unordered(process_video, tasks, on_crash=_crashed):
                results.append(res)
                bars.video_done(res)
        finally:
            executor.close()
    t_videos = time.perf_counter() - t_start
    results.sort(key=lambda r: r["video"])

    # dedup over every video's survivors (recomputed each run: new videos may bring new duplicates)
    clips = [Clip.from_record(rec) for r in results for rec in r["clips"]]
    by_id = {c.clip_id: c for c in clips}
    survivors, rows = [], []
    for r in results:
        if r["embedded"]:
            e = np.load(out_dir / "work" / r["video_id"] / "embeddings.npy")
            survivors += [by_id[i] for i in r["embedded"]]
            rows.append(e)
    t0 = time.perf_counter()
    if survivors:
        embed.dedup(survivors, np.concatenate(rows), cfg.dedup)
    bars.stage_done("dedup", len(survivors))
    t_dedup = time.perf_counter() - t0

    t0 = time.perf_counter()
    kept = [c for c in clips if c.kept]
    manifest = shard.write_shards(kept, out_dir, cfg.shard)
    for c in kept:
        c.extra["shard"] = manifest["clips"][c.clip_id]
    bars.stage_done("shard", len(kept))
    t_shard = time.perf_counter() - t0
    bars.close()
    timings = {
        "videos_wall": t_videos,
        "dedup": t_dedup,
        "shard": t_shard,
        "total_wall": time.perf_counter() - t_start,
    }
    summary = write_report(out_dir, results, clips, cfg, timings, n_resumed=n_resumed)
    return summary


class _Bars:
    """One progress bar per stage: videos for split, clips entering each later stage."""

    def __init__(self, enabled: bool, n_videos: int):
        names = ("split", *CLIP_STAGES, "dedup", "shard")
        fmt = {
            "split": "{desc} {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} videos [{elapsed}<{remaining}]"
        }
        self.bars = {
            name: tqdm(
                total=n_videos if name == "split" else None,
                desc=f"{name:8s}",
                position=i,
                bar_format=fmt.get(name, "{desc} {n_fmt} clips in"),
                disable=not enabled,
                leave=True,
            )
            for i, name in enumerate(names)
        }

    def video_done(self, res: dict[str, Any]) -> None:
        self.bars["split"].update(1)
        for stage in CLIP_STAGES:  # a clip reaches a stage unless an earlier stage dropped it
            earlier = {"split", *CLIP_STAGES[: CLIP_STAGES.index(stage)]}
            self.bars[stage].update(sum(1 for c in res["clips"] if c["stage"] not in earlier))

    def stage_done(self, name: str, n: int) -> None:
        self.bars[name].update(n)

    def close(self) -> None:
        for b in self.bars.values():
            b.close()
