"""An invisible watermark on every generated frame, and its detector (DWT-DCT-SVD, no weights).

    marked = Watermarker().process(frames)[0]     # (T, H, W, 3) uint8, ~41 dB PSNR
    detect_frame(marked[0]).detected              # True, also after MP4 (H.264) and JPEG q90
    detect_video(frames).fraction                 # share of frames that carry the mark

The method of ``invisible-watermark``'s ``dwtDctSvd`` (the one Stable Diffusion's scripts use),
reimplemented here because that package requires ``opencv-python``, which cannot be installed beside
our ``opencv-python-headless`` (both own the ``cv2`` module), and wants frames of 256x256 or more:

1. Cb and Cr chroma planes (BT.601 full range, as JPEG); their one-level Haar DWT's LL band;
2. the LL band cut into 4x4 blocks, each DCT-transformed (orthonormal DCT-II, as ``cv2.dct``): an
   orthonormal transform leaves singular values as they are, so the block's own SVD is used (same
   result, no transform);
3. each block's largest singular value ``s`` (power iteration: ~6x faster than a full SVD) quantised to carry one bit (quantisation index
   modulation): ``s' = (floor(s / step) + 1/4 + bit / 2) * step``; block ``i`` carries bit ``i mod 32``
   of ``PAYLOAD``, so every bit is spread over many blocks of both planes.

Detection reads each block's ``s mod step`` as a vote between 1/4 (bit 0) and 3/4 (bit 1), averages the
votes per bit, and compares the 32 bits with ``PAYLOAD``: a frame carries the mark when at least
``MIN_MATCHING_BITS`` (27) match; an unmarked frame matches that well with probability ~6e-5 (bits of an
unmarked frame are coin flips). A video's votes are also added up over its frames (``detect_video``'s
``pooled``), which reads a mark that strong re-encoding took a few bits from in every frame. The frame is also tried at 1/2, 1/3 and 1/4 size (area average), which
undoes the nearest-neighbour upscaling of small frames in exported videos. Working on the chroma LL
band is what survives H.264's 4:2:0 chroma subsampling and JPEG; the cost is ~41 dB PSNR.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cosmos_sim.errors import ConfigError
from cosmos_sim.guardrail.runner import CheckResult, as_video

#: the 32 bits every watermarked frame carries (16 ones, 16 zeros)
PAYLOAD = np.unpackbits(np.frombuffer(bytes.fromhex("c05a17e7"), np.uint8)).astype(np.int8)
MIN_MATCHING_BITS = 27
STEP = 36.0  # quantisation step of the singular value (invisible-watermark's default for U)
BLOCK = 4
SCALES = (1, 2, 3, 4)  # detection tries the frame at 1/k size: undoes nearest-neighbour upscaling
_RGB_TO_CHROMA = np.array([[-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float64)
_CHROMA_TO_RGB = np.array(
    [[0.0, 1.402], [-0.344136, -0.714136], [1.772, 0.0]], np.float64
)  # RGB per (Cb, Cr)
_POWER_ITERATIONS = 8


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (2, H, W) float64 Cb, Cr (offset 128)."""
    flat = rgb.reshape(-1, 3).astype(np.float32) @ _RGB_TO_CHROMA.T.astype(np.float32)
    return flat.T.reshape(2, *rgb.shape[:2]).astype(np.float64) + 128.0


def _ll_blocks(plane: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Haar LL band of a plane (2x2 sums / 2, as pywt.dwt2) cut into (N, 4, 4) blocks, and the band's size."""
    h, w = plane.shape[0] // (2 * BLOCK) * BLOCK, plane.shape[1] // (2 * BLOCK) * BLOCK
    p = plane[: 2 * h, : 2 * w]
    ll = (p[0::2, 0::2] + p[0::2, 1::2] + p[1::2, 0::2] + p[1::2, 1::2]) / 2
    return ll.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).swapaxes(1, 2).reshape(-1, BLOCK, BLOCK), (h, w)


def _top_singular(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Largest singular value and its vectors of each (4, 4) block, by power iteration on B^T B.

    Chroma blocks (values around 256 in the LL band) have one dominant singular value, along the
    all-ones direction the iteration starts from, so a few steps reach float precision.
    """
    gram = blocks.transpose(0, 2, 1) @ blocks
    v = np.full(blocks.shape[:2], 0.5)
    for _ in range(_POWER_ITERATIONS):
        v = np.einsum("nij,nj->ni", gram, v)
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    u = np.einsum("nij,nj->ni", blocks, v)
    s = np.linalg.norm(u, axis=1)
    return u / np.maximum(s, 1e-12)[:, None], s, v


def capacity(shape: tuple[int, ...]) -> int:
    """4x4 LL blocks per chroma plane of a frame of this (H, W[, C]) shape."""
    return (shape[0] // (2 * BLOCK)) * (shape[1] // (2 * BLOCK))


def embed_frame(rgb: np.ndarray, step: float = STEP, bits: np.ndarray = PAYLOAD) -> np.ndarray:
    """One (H, W, 3) uint8 frame with the watermark; frames under 8x8 pixels come back unchanged."""
    if capacity(rgb.shape) == 0:
        return rgb
    chroma = _chroma(rgb)
    delta = np.zeros_like(chroma)
    for c in range(2):
        blocks, (h, w) = _ll_blocks(chroma[c])
        u, s, v = _top_singular(blocks)
        bit = bits[np.arange(len(blocks)) % len(bits)]
        target = (np.floor(s / step) + 0.25 + 0.5 * bit) * step
        d_blocks = (target - s)[:, None, None] * (u[:, :, None] * v[:, None, :])
        d_ll = d_blocks.reshape(h // BLOCK, w // BLOCK, BLOCK, BLOCK).swapaxes(1, 2).reshape(h, w)
        # inverse Haar with the detail bands unchanged: each of the 2x2 pixels moves by d_ll / 2
        delta[c, : 2 * h, : 2 * w] = np.repeat(np.repeat(d_ll / 2, 2, axis=0), 2, axis=1)
    change = delta.reshape(2, -1).T.astype(np.float32) @ _CHROMA_TO_RGB.T.astype(np.float32)
    out = rgb.astype(np.float32) + change.reshape(rgb.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def bit_votes(rgb: np.ndarray, step: float = STEP, nbits: int = len(PAYLOAD)) -> np.ndarray:
    """Per payload bit, the mean vote of its blocks in [-1, 1] (> 0: a 1); zeros when the frame is too small."""
    if capacity(rgb.shape) == 0:
        return np.zeros(nbits)
    chroma = _chroma(rgb)
    votes, counts = np.zeros(nbits), np.zeros(nbits)
    for c in range(2):
        blocks, _ = _ll_blocks(chroma[c])
        s = _top_singular(blocks)[1]
        idx = np.arange(len(blocks)) % nbits
        np.add.at(votes, idx, -np.sin(2 * np.pi * (s / step % 1.0)))  # -1 at 1/4 (bit 0), +1 at 3/4 (bit 1)
        np.add.at(counts, idx, 1)
    return votes / np.maximum(counts, 1)


@dataclass(frozen=True)
class Detection:
    """The watermark read from one frame."""

    detected: bool
    """At least ``MIN_MATCHING_BITS`` of the 32 payload bits match."""
    matching_bits: int
    """Payload bits read correctly, at the best scale."""
    scale: int
    """The downscale factor at which it read best (1: as is)."""


def _matching(votes: np.ndarray) -> int:
    return int(((votes > 0).astype(np.int8) == PAYLOAD).sum()) if votes.any() else 0


def scale_votes(rgb: np.ndarray, step: float = STEP, stop_when_found: bool = False) -> dict[int, np.ndarray]:
    """Bit votes of one frame at each downscale factor of ``SCALES`` that leaves 32+ pixels (area average)."""
    out = {}
    for k in SCALES:
        if k > 1 and min(rgb.shape[:2]) // k < 2 * BLOCK * 4:
            break
        size = (rgb.shape[1] // k, rgb.shape[0] // k)
        out[k] = bit_votes(rgb if k == 1 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), step)
        if stop_when_found and _matching(out[k]) >= MIN_MATCHING_BITS:
            break
    return out


def _best(votes: dict[int, np.ndarray]) -> Detection:
    k, v = max(votes.items(), key=lambda kv: (_matching(kv[1]), -kv[0]))
    return Detection(_matching(v) >= MIN_MATCHING_BITS, _matching(v), k)


def detect_frame(rgb: np.ndarray, step: float = STEP) -> Detection:
    """Read the watermark of one (H, W, 3) uint8 frame, at full size and at 1/2, 1/3, 1/4 size."""
    return _best(scale_votes(rgb, step, stop_when_found=True))


@dataclass(frozen=True)
class VideoDetection:
    """The watermark read from every frame of a video."""

    frames: tuple[Detection, ...]
    """Per frame."""
    pooled: Detection
    """The votes of all frames added up per bit: a video whose frames each lost some bits to strong
    compression still reads as marked (the chance for an unmarked video stays ~6e-5)."""

    @property
    def fraction(self) -> float:
        """Share of frames that carry the watermark on their own."""
        return sum(d.detected for d in self.frames) / max(len(self.frames), 1)

    @property
    def detected(self) -> bool:
        """Most frames carry it, or the pooled votes do."""
        return self.fraction >= 0.5 or self.pooled.detected


def detect_video(frames: np.ndarray, step: float = STEP) -> VideoDetection:
    """Read the watermark of every frame of (T, H, W, 3) uint8 frames, and of all of them pooled."""
    per_frame = [scale_votes(f, step) for f in as_video(frames)]
    pooled = (
        {k: sum(v[k] for v in per_frame if k in v) for k in per_frame[0]} if per_frame else {1: np.zeros(32)}
    )
    return VideoDetection(tuple(_best(v) for v in per_frame), _best(pooled))


class Watermarker:
    """The watermark as a video post-processor: every frame gets it."""

    name = "watermark"

    def __init__(self, step: float = STEP):
        if not step > 0:
            raise ConfigError(f"watermark step = {step!r}, expected a positive number; the default is {STEP}")
        self.step = step

    def process(self, frames: np.ndarray) -> tuple[np.ndarray, CheckResult]:
        video = as_video(frames)
        marked = np.stack([embed_frame(f, self.step) for f in video])
        small = capacity(video.shape[1:]) < len(PAYLOAD)
        reason = f"watermarked {len(video)} frames (payload {PAYLOAD_HEX})"
        if small:
            reason += (
                f"; {video.shape[2]}x{video.shape[1]} frames hold fewer blocks than payload bits: weak mark"
            )
        return marked, CheckResult(
            self.name,
            True,
            reason=reason,
            details={"frames": len(video), "payload": PAYLOAD_HEX, "step": self.step},
        )


PAYLOAD_HEX = np.packbits(PAYLOAD.astype(np.uint8)).tobytes().hex()

__all__ = [
    "MIN_MATCHING_BITS",
    "PAYLOAD",
    "PAYLOAD_HEX",
    "Detection",
    "VideoDetection",
    "Watermarker",
    "bit_votes",
    "capacity",
    "scale_votes",
    "detect_frame",
    "detect_video",
    "embed_frame",
]
