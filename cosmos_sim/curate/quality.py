"""Stage 3: image quality filter: blur (variance of the Laplacian) and over/under-exposure.

Measured on the analysis frames (gray), median over the clip so a single bad frame does not
decide. ``sharpness`` depends on the analysis resolution and the content: the defaults are set
between the values of the labelled real footage in ``benchmarks/curate_real`` (see each field);
tune them on your footage (the report holds every clip's value). The same sharpness ranks near-duplicates
in the dedup stage (the sharpest copy is kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cosmos_sim.curate.clip import Clip

STAGE = "quality"


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the quality filter."""

    enabled: bool = True
    """Run the filter."""
    min_sharpness: float = 15.0
    """Median variance of the Laplacian (gray, analysis resolution) below which a clip is blurry. Real
    footage (benchmarks/curate_real): defocused shots (Gaussian sigma 3-4 px) 4.0-5.2; the softest shots
    that should stay, a hand-held cup against a white wall 33.6 and a dark film interior 45.9 (30, the
    first value, left these a margin of 1.1x)."""
    min_brightness: float = 0.10
    """Mean luma (0..1) below which a clip is under-exposed. Real footage: a dark film interior that
    should stay 0.136 (0.12, the first value, was a hair away); a street shot at 15 % exposure 0.078."""
    max_brightness: float = 0.80
    """Mean luma (0..1) above which a clip is over-exposed. Real footage: white-wall shots that should
    stay reach 0.71; the same shot at 2.5x exposure 0.886."""
    max_clipped: float = 0.5
    """Largest fraction of pixels at the black (<= 3) or white (>= 252) limit. Real footage: a dark film
    interior that should stay 0.315 (black), a backlit tree 0.111 (white); an over-exposed shot 0.828."""


def frame_quality(rgb: np.ndarray) -> tuple[float, float, float]:
    """(sharpness, brightness in 0..1, clipped fraction) of one RGB frame."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    sharp = float(cv2.Laplacian(gray, cv2.CV_32F).var())
    clipped = float(np.mean((gray <= 3) | (gray >= 252)))
    return sharp, float(gray.mean()) / 255.0, clipped


def apply(clip: Clip, cfg: QualityConfig) -> None:
    """Measure sharpness/exposure (always; dedup ranks by sharpness) and drop bad clips when enabled."""
    if not clip.frames:
        raise ValueError("no analysis frames to measure quality on")
    sharp, bright, clipped = np.median([frame_quality(f) for f in clip.frames], axis=0)
    clip.metrics.update(sharpness=float(sharp), brightness=float(bright), clipped=float(clipped))
    if not cfg.enabled:
        return
    # exposure first: a dark frame has little contrast, so it would also look "blurry"
    if bright < cfg.min_brightness:
        clip.drop(
            STAGE, f"under-exposed: brightness {bright:.3f} < min_brightness {cfg.min_brightness:g}", bright
        )
    elif bright > cfg.max_brightness:
        clip.drop(
            STAGE, f"over-exposed: brightness {bright:.3f} > max_brightness {cfg.max_brightness:g}", bright
        )
    elif clipped > cfg.max_clipped:
        clip.drop(
            STAGE,
            f"clipped: {clipped:.2f} of pixels at black/white > max_clipped {cfg.max_clipped:g}",
            clipped,
        )
    elif sharp < cfg.min_sharpness:
        clip.drop(STAGE, f"blurry: sharpness {sharp:.1f} < min_sharpness {cfg.min_sharpness:g}", sharp)
