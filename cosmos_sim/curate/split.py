"""Stage 1: decode a video once, find hard cuts, apply the clip-length rules, transcode clips to H.264.

One streaming pass per video (PyAV): every decoded frame is shrunk to a tiny YUV thumbnail for
the shot detector, a few frames per second are kept at analysis resolution for the later stages,
and the frames go straight on to the H.264 encoder of the current clip. Nothing holds more than
``min_clip_s`` of full-size frames: a shot's first ``min_clip_s`` are buffered so shots that end
sooner are dropped without being encoded.

Shot detection is a content detector in the spirit of PySceneDetect's ``ContentDetector`` plus its
adaptive variant, computed causally so it can run while streaming: the score of frame ``i`` is the
mean absolute difference of its Y, U and V thumbnails from frame ``i-1`` (0..255); frame ``i``
starts a new shot when the score is at least ``threshold`` *and* at least ``ratio`` times the
mean score of the previous ``window`` frames (so fast pans, whose every frame differs a lot, do
not cut), and the current shot is at least ``min_shot_frames`` long (so flashes do not cut twice).

Clip rules: shots shorter than ``min_clip_s`` are dropped (recorded, not written); shots longer
than ``max_clip_s`` are cut into pieces of ``max_clip_s`` (the last piece holds the rest and
follows the same minimum-length rule). Clips are re-timed at the stream's average frame rate
(a variable-frame-rate source becomes constant-rate) and cropped to even sizes for 4:2:0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from cosmos_sim.curate.clip import Clip, cpu_seconds

STAGE = "split"
_THUMB = (64, 36)  # detector thumbnail (w, h): cuts are global changes, details do not matter


@dataclass(frozen=True)
class SplitConfig:
    """Shot detection, clip rules, analysis sampling and transcoding."""

    threshold: float = 25.0
    """Content score (mean |YUV difference| of 64x36 thumbnails, 0..255) a cut must reach."""
    ratio: float = 3.0
    """A cut's score must also be this many times the mean score of the previous ``window`` frames."""
    window: int = 8
    """Frames in the running mean the ratio compares against."""
    min_shot_frames: int = 8
    """No cut within this many frames of the previous one (flashes, fades)."""
    min_clip_s: float = 2.0
    """Shots shorter than this are dropped."""
    max_clip_s: float = 60.0
    """Shots longer than this are cut into pieces of at most this length."""
    analysis_fps: float = 4.0
    """Frames per second kept in memory for the filters, captioner and embedder."""
    analysis_width: int = 480
    """Width of the analysis frames (never upscaled)."""
    crf: int = 23
    """x264 constant rate factor of the transcoded clips (lower is better quality, bigger files)."""
    preset: str = "ultrafast"
    """x264 preset; ultrafast keeps transcoding near real time per core on CPUs."""
    decode_threads: int = 1
    """Decoder threads per video (1: parallelism comes from processing several videos at once)."""

    def __post_init__(self) -> None:
        if not 0 < self.min_clip_s <= self.max_clip_s:
            raise ValueError(
                f"need 0 < min_clip_s <= max_clip_s, got {self.min_clip_s} and {self.max_clip_s}"
            )
        if self.analysis_fps <= 0 or self.analysis_width < 16:
            raise ValueError("analysis_fps must be > 0 and analysis_width >= 16")


@dataclass
class SplitResult:
    """What stage 1 found in one video."""

    clips: list[Clip]
    """Every clip, kept or dropped by the length rule, in time order."""
    cuts: list[int]
    """Frame indices where a detected shot starts (excluding frame 0)."""
    n_frames: int
    """Frames decoded."""
    fps: float
    """Source frame rate."""
    width: int
    """Source width."""
    height: int
    """Source height."""
    decode_s: float
    """CPU seconds spent decoding, detecting and sampling."""
    transcode_s: float
    """CPU seconds spent encoding clips."""


def content_score(prev: np.ndarray, cur: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails (0..255)."""
    return float(np.mean(np.abs(cur - prev)))


class ShotDetector:
    """Causal adaptive content detector: feed thumbnails one by one, get True at the first frame of a shot."""

    def __init__(self, cfg: SplitConfig):
        self.cfg = cfg
        self.prev: np.ndarray | None = None
        self.history: list[float] = []
        self.since_cut = 0
        self.scores: list[float] = []

    def push(self, thumb: np.ndarray) -> bool:
        cut = False
        if self.prev is not None:
            score = content_score(self.prev, thumb)
            self.scores.append(score)
            recent = self.history[-self.cfg.window :]
            baseline = float(np.mean(recent)) if recent else 0.0
            cut = (
                score >= self.cfg.threshold
                and score >= self.cfg.ratio * baseline
                and self.since_cut >= self.cfg.min_shot_frames
            )
            self.history.append(score)
        self.prev = thumb
        self.since_cut = 0 if cut else self.since_cut + 1
        return cut


def thumbnail(frame: av.VideoFrame) -> np.ndarray:
    """A (36, 64, 3) float32 YUV thumbnail; planar 4:2:0 frames take a copy-free fast path."""
    w, h = frame.width, frame.height
    if frame.format.name in ("yuv420p", "yuvj420p") and w % 2 == 0 and h % 2 == 0:
        a = frame.to_ndarray()  # (h * 3/2, w): Y, then U and V each (h/2, w/2) flattened
        y = a[:h]
        uv = a[h:].reshape(2, h // 2, w // 2)
        planes = [y, uv[0], uv[1]]
    else:
        rgb = frame.reformat(width=_THUMB[0] * 2, height=_THUMB[1] * 2, format="rgb24").to_ndarray()
        planes = list(cv2.split(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV)))
    return np.stack([cv2.resize(p, _THUMB, interpolation=cv2.INTER_AREA) for p in planes], -1).astype(
        np.float32
    )


class _ClipWriter:
    """H.264 MP4 writer for one clip; frames are handed over as decoded ``av.VideoFrame``s."""

    def __init__(self, path: Path, width: int, height: int, rate: Fraction, cfg: SplitConfig):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_suffix(".partial.mp4")
        self.path = path
        self.container = av.open(str(self.tmp), "w")
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.stream.options = {"preset": cfg.preset, "crf": str(cfg.crf)}
        self.stream.thread_count = 1
        self.time_base = Fraction(1, 1) / rate
        self.n = 0

    def write(self, frame: av.VideoFrame) -> None:
        if (
            frame.format.name != "yuv420p"
            or frame.width != self.stream.width
            or frame.height != self.stream.height
        ):
            frame = frame.reformat(width=self.stream.width, height=self.stream.height, format="yuv420p")
        frame.pts, frame.time_base = self.n, self.time_base
        self.n += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        self.tmp.replace(self.path)  # a clip file exists only once complete

    def abort(self) -> None:
        try:
            self.container.close()
        finally:
            self.tmp.unlink(missing_ok=True)


class _Splitter:
    """The per-video state of the streaming pass (current clip, buffers, writer)."""

    def __init__(
        self,
        video: str,
        video_id: str,
        clip_dir: Path,
        out_dir: Path,
        stream,
        cfg: SplitConfig,
        on_clip: Callable[[Clip], None] | None,
    ):
        self.video, self.video_id, self.clip_dir, self.out_dir, self.cfg = (
            video,
            video_id,
            clip_dir,
            out_dir,
            cfg,
        )
        self.on_clip = on_clip
        self.callback_s = 0.0
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        self.rate = Fraction(rate).limit_denominator(1001)
        self.fps = float(self.rate)
        self.min_frames = max(1, round(cfg.min_clip_s * self.fps))
        self.max_frames = max(self.min_frames, int(cfg.max_clip_s * self.fps + 1e-6))
        self.step = max(1, round(self.fps / cfg.analysis_fps))
        self.width = self.height = 0  # of the transcoded clips (even sizes for 4:2:0)
        self.aw = self.ah = 0  # analysis size
        self.clips: list[Clip] = []
        self.transcode_s = 0.0
        self._clip: Clip | None = None
        self._buffer: list[av.VideoFrame] = []
        self._writer: _ClipWriter | None = None
        self._want_next_gray = False

    def set_size(self, w: int, h: int) -> None:
        self.width, self.height = w - w % 2, h - h % 2
        self.aw = min(self.cfg.analysis_width, w)
        self.aw -= self.aw % 2
        self.ah = max(2, round(h * self.aw / w))

    def start(self, frame_idx: int) -> None:
        i = len(self.clips)
        self._clip = Clip(
            video=self.video,
            clip_id=f"{self.video_id}_{i:04d}",
            index=i,
            start_frame=frame_idx,
            end_frame=frame_idx,
            fps=self.fps,
            width=self.width,
            height=self.height,
        )
        self.clips.append(self._clip)
        self._want_next_gray = False

    def add(self, frame: av.VideoFrame, frame_idx: int) -> None:
        clip = self._clip
        k = frame_idx - clip.start_frame
        if self._want_next_gray:  # the frame after an analysis sample: the second half of a flow pair
            clip.flow_pairs.append((clip.flow_pairs.pop()[0], self._gray(frame)))
            self._want_next_gray = False
        if k % self.step == 0:
            rgb = frame.reformat(width=self.aw, height=self.ah, format="rgb24").to_ndarray()
            clip.frames.append(rgb)
            clip.flow_pairs.append((cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), None))  # type: ignore[arg-type]
            self._want_next_gray = True
        clip.end_frame = frame_idx + 1
        t0 = cpu_seconds()
        if self._writer is not None:
            self._writer.write(frame)
        else:
            self._buffer.append(frame)
            if len(self._buffer) >= self.min_frames:  # long enough to keep: start encoding
                clip.path = str((self.clip_dir / f"{clip.clip_id}.mp4").relative_to(self.out_dir))
                self._writer = _ClipWriter(
                    self.out_dir / clip.path, self.width, self.height, self.rate, self.cfg
                )
                for f in self._buffer:
                    self._writer.write(f)
                self._buffer.clear()
        self.transcode_s += cpu_seconds() - t0

    def finish(self) -> None:
        clip = self._clip
        if clip is None:
            return
        if clip.flow_pairs and clip.flow_pairs[-1][1] is None:  # the clip ended before the pair was complete
            clip.flow_pairs.pop()
        t0 = cpu_seconds()
        if self._writer is not None:
            self._writer.close()
        else:
            clip.drop(STAGE, f"shorter than min_clip_s={self.cfg.min_clip_s:g} s", clip.duration)
            clip.frames = clip.frames[:1]  # one frame for the contact sheet
            clip.flow_pairs.clear()
        self.transcode_s += cpu_seconds() - t0
        self._clip, self._writer, self._buffer = None, None, []
        if self.on_clip is not None:
            t0 = cpu_seconds()
            self.on_clip(clip)
            self.callback_s += cpu_seconds() - t0

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()

    def _gray(self, frame: av.VideoFrame) -> np.ndarray:
        # the same conversion as the sample's gray, so the pair differs by motion only (flow assumes that)
        rgb = frame.reformat(width=self.aw, height=self.ah, format="rgb24").to_ndarray()
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def split_video(
    path: str | Path,
    video: str,
    video_id: str,
    out_dir: str | Path,
    cfg: SplitConfig,
    on_clip: Callable[[Clip], None] | None = None,
) -> SplitResult:
    """Decode ``path`` once; return its clips (MP4s under ``out_dir/clips/<video_id>/``).

    ``on_clip(clip)`` is called as soon as each clip is complete (its MP4 closed), so the later
    stages can run and free its analysis frames while decoding goes on: memory is bounded by one
    clip, not by the length of the video. Its time is not counted in ``decode_s``.

    Raises whatever PyAV raises for unreadable input (the pipeline records it and moves on);
    a partially written clip is removed first.
    """
    out_dir = Path(out_dir)
    clip_dir = out_dir / "clips" / video_id
    t_start = cpu_seconds()
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            tag = getattr(stream, "codec_tag", "") or "unknown"
            raise ValueError(f"no decoder for the video codec (tag {tag!r})")
        stream.thread_count = cfg.decode_threads
        sp = _Splitter(video, video_id, clip_dir, out_dir, stream, cfg, on_clip)
        detector = ShotDetector(cfg)
        cuts: list[int] = []
        n = 0
        try:
            for frame in container.decode(stream):
                if n == 0:
                    sp.set_size(frame.width, frame.height)
                    sp.start(0)
                cut = detector.push(thumbnail(frame))
                if cut:
                    cuts.append(n)
                if cut or sp._clip.n_frames >= sp.max_frames:
                    sp.finish()
                    sp.start(n)
                sp.add(frame, n)
                n += 1
            sp.finish()
        except BaseException:
            sp.abort()
            raise
    if n == 0:
        raise ValueError("no frames could be decoded")
    total = cpu_seconds() - t_start
    return SplitResult(
        clips=sp.clips,
        cuts=cuts,
        n_frames=n,
        fps=sp.fps,
        width=sp.width,
        height=sp.height,
        decode_s=total - sp.transcode_s - sp.callback_s,
        transcode_s=sp.transcode_s,
    )
