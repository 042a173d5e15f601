"""Stage 1: decode a video once, find hard cuts, apply the clip-length rules, transcode clips to H.264.

One streaming pass per video (PyAV): every decoded frame is shrunk to a small image for the shot
detector, a few frames per second are kept at analysis resolution for the later stages, and the
frames go straight on to the H.264 encoder of the current clip (at ``height`` rows). Nothing holds more than
``min_clip_s`` of full-size frames (plus the detector's few frames of lag): a shot's first ``min_clip_s``
are buffered so shots that end sooner are dropped without being encoded.

Shot detection (``detect.py``) sees every frame shrunk to ``detect_width`` pixels; the default is
PySceneDetect's AdaptiveDetector for hard cuts plus its ThresholdDetector for fades through black,
chosen on labelled real footage (``cosmos-sim bench curate``). Detectors may report a cut a few
frames late, so the last ``lag`` decoded frames are held back before they go to the clip writer.

Clip rules: shots shorter than ``min_clip_s`` are dropped (recorded, not written); shots longer
than ``max_clip_s`` are cut into pieces of ``max_clip_s`` (the last piece holds the rest and
follows the same minimum-length rule). Clips are re-timed at the stream's average frame rate
(a variable-frame-rate source becomes constant-rate) and cropped to even sizes for 4:2:0.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from cosmos_sim.curate import detect
from cosmos_sim.curate.clip import Clip, cpu_seconds
from cosmos_sim.curate.detect import ShotDetector  # noqa: F401  (the causal detector, importable from here)

STAGE = "split"


@dataclass(frozen=True)
class SplitConfig:
    """Shot detection, clip rules, analysis sampling and transcoding."""

    detector: str = "adaptive+fade"
    """Shot detector: "adaptive+fade", "adaptive", "content", "threshold" or "causal" (see ``detect.py``).
    On the labelled real set adaptive+fade, adaptive and content all find 25 of 26 transitions with no
    false cut (the same as PySceneDetect's defaults; causal: 18); adaptive+fade also cuts the black out
    of fades, and adaptive's ratio test is PySceneDetect's guard against fast camera motion."""
    detect_width: int = 256
    """Width of the frames the detector sees (PySceneDetect's default working width; never upscaled)."""
    min_shot_frames: int = 15
    """No new shot within this many frames of the previous cut (flashes); PySceneDetect's min_scene_len."""
    adaptive_ratio: float = 3.0
    """adaptive: a cut's HSV content score must be this many times the mean of its neighbours' scores
    (PySceneDetect's default). Real footage (benchmarks/curate_real): cuts 7.8x to 364x; frames without
    a cut that score 10 or more, 2.7x at most."""
    adaptive_window: int = 2
    """adaptive: frames either side whose mean score the ratio compares against (PySceneDetect's default)."""
    adaptive_min_score: float = 15.0
    """adaptive: the HSV content score (0..255, mean of the H, S and V differences) a cut must also reach
    (PySceneDetect's default). Real footage: cuts score 46 to 120 (issue 23's street cut 48); frames
    without a cut 17.5 at most (a hand passing close to the camera), 99 % of them under 9."""
    content_threshold: float = 27.0
    """content: the HSV content score a cut must reach (PySceneDetect's default; see adaptive_min_score)."""
    fade_threshold: float = 12.0
    """adaptive+fade, threshold: mean 8-bit intensity below which a frame counts as faded to black
    (PySceneDetect's default). Real footage: the darkest frame outside a fade (a film interior) 31."""
    threshold: float = 25.0
    """causal: content score (mean |YUV difference| of 64x36 thumbnails, 0..255) a cut must reach."""
    ratio: float = 3.0
    """causal: a cut's score must also be this many times the mean score of the previous ``window`` frames."""
    window: int = 8
    """causal: frames in the running mean the ratio compares against."""
    min_clip_s: float = 2.0
    """Shots shorter than this are dropped."""
    max_clip_s: float = 60.0
    """Shots longer than this are cut into pieces of at most this length."""
    analysis_fps: float = 4.0
    """Frames per second kept in memory for the filters, captioner and embedder."""
    analysis_width: int = 480
    """Width of the analysis frames (never upscaled)."""
    height: int = 0
    """Rows of the transcoded clips (aspect kept, even sizes, never upscaled); 0 keeps the source's rows.
    The pipeline sets it to the zarr shard height unless told otherwise (``CurateConfig.clips_at_shard_height``):
    encoding 720p at 256 rows takes x264 a fifth of the time, and sharding then has nothing to resize."""
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
        detect.check_detector(self.detector)
        if self.height < 0 or 0 < self.height < 16:
            raise ValueError(f"split height must be 0 (source rows) or >= 16, got {self.height}")
        if self.detect_width < 16:
            raise ValueError(f"detect_width must be >= 16 pixels, got {self.detect_width}")


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
    """Source width (even)."""
    height: int
    """Source height (even)."""
    clip_size: tuple[int, int]
    """(width, height) of the transcoded clips."""
    decode_s: float
    """CPU seconds spent decoding, detecting and sampling."""
    transcode_s: float
    """CPU seconds spent encoding clips."""


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
            frame = frame.reformat(
                width=self.stream.width, height=self.stream.height, format="yuv420p", interpolation="AREA"
            )
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
        self.width = self.height = 0  # of the source, even (4:2:0)
        self.out_size = (0, 0)  # of the transcoded clips
        self.aw = self.ah = 0  # analysis size
        self.clips: list[Clip] = []
        self.transcode_s = 0.0
        self._clip: Clip | None = None
        self._buffer: list[av.VideoFrame] = []
        self._writer: _ClipWriter | None = None
        self._want_next_gray = False

    def set_size(self, w: int, h: int) -> None:
        self.width, self.height = w - w % 2, h - h % 2
        oh = self.cfg.height - self.cfg.height % 2 if 0 < self.cfg.height < self.height else self.height
        ow = round(self.width * oh / self.height) if oh != self.height else self.width
        self.out_size = (ow + ow % 2, oh)
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
        t0 = time.process_time()  # (split runs no child process: the cheaper clock is enough)
        if self._writer is not None:
            self._writer.write(frame)
        else:
            self._buffer.append(frame)
            if len(self._buffer) >= self.min_frames:  # long enough to keep: start encoding
                clip.path = str((self.clip_dir / f"{clip.clip_id}.mp4").relative_to(self.out_dir))
                self._writer = _ClipWriter(self.out_dir / clip.path, *self.out_size, self.rate, self.cfg)
                for f in self._buffer:
                    self._writer.write(f)
                self._buffer.clear()
        self.transcode_s += time.process_time() - t0

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
        detector = detect.CutDetector(cfg, sp.rate)
        found: set[int] = set()  # cuts reported so far (possibly ahead of what the writer has seen)
        cuts: list[int] = []
        held: deque[tuple[int, av.VideoFrame]] = deque()  # the last ``detector.lag`` frames

        def write(i: int, frame: av.VideoFrame) -> None:
            if i in found:
                cuts.append(i)
            if i in found or sp._clip.n_frames >= sp.max_frames:
                sp.finish()
                sp.start(i)
            sp.add(frame, i)

        n = 0
        size = (0, 0)
        try:
            for frame in container.decode(stream):
                if n == 0:
                    sp.set_size(frame.width, frame.height)
                    sp.start(0)
                    size = detect.detect_size(frame.width, frame.height, cfg.detect_width)
                found.update(detector.push(n, detect.detector_frame(frame, size)))
                held.append((n, frame))
                if len(held) > detector.lag:
                    write(*held.popleft())
                n += 1
            found.update(detector.finish())
            while held:
                write(*held.popleft())
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
        clip_size=sp.out_size,
        decode_s=total - sp.transcode_s - sp.callback_s,
        transcode_s=sp.transcode_s,
    )
