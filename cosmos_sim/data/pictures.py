"""Pictures people look at instead of reading numbers: side-by-side videos and per-step curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def side_by_side(gt: np.ndarray, pred: np.ndarray, scale: int = 2) -> np.ndarray:
    """``(T, H, W, 3)`` GT and prediction -> ``(T, s*H, s*3W + gaps, 3)`` frames: GT | prediction | |error| x 3."""
    err = np.clip(np.abs(gt.astype(np.int16) - pred.astype(np.int16)).max(-1) * 3, 0, 255).astype(np.uint8)
    err = np.repeat(err[..., None], 3, axis=-1)
    gap = np.full(
        (*gt.shape[:2], 8, 3), 255, np.uint8
    )  # 64x64 frames: widths stay multiples of 16 (video codecs)
    out = np.concatenate([gt, gap, pred, gap, err], axis=2)
    return out.repeat(scale, axis=1).repeat(scale, axis=2)


def psnr_plot(curves: dict[str, np.ndarray], path: Path, title: str) -> None:
    """Per-step PSNR curves (label -> (T,) dB) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for label, y in curves.items():
        ax.plot(np.arange(1, len(y) + 1), y, marker="o", ms=3, label=label)
    ax.set_xlabel("open-loop step")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


__all__ = ["psnr_plot", "side_by_side"]
