"""Nano depth and segmentation estimators: RGB frames of our scenes -> metric depth, segmentation ids.

Cosmos-Transfer runs from a plain RGB video by estimating its controls (DepthAnything, SAM2); these
are the same role at our scale: a small UNet at 64x64 per task, trained on frames of the manipulation
scene under ``appearance="randomized"`` (so a look it never saw still works) and of the physics
scenes, CameraOrbit included (``cosmos_sim/train/estimators.py``, shipped under
``assets/estimators/<name>/`` with their held-out figures)::

    depth = DepthEstimator.from_pretrained("depth-nano").predict(frames)  # (T,H,W,3) uint8 -> (T,H,W) m
    seg = SegEstimator.from_pretrained("seg-nano").predict(frames, env.unwrapped.segmentation_labels)

Depth is *metric* z-depth in metres (the OpenCV camera's z, as the GT envs render it): our cameras
have fixed intrinsics, so scale is learnable from the picture. Pixels the net puts at or beyond
``max_depth`` (the sky) come back as ``max_depth``. Segmentation classes are the label names of the
training scenes (``SegEstimator.labels``, 0 = background); ``predict`` maps them onto an env's own
``segmentation_labels`` ids (a class the env does not have becomes background).

The scores the model cards and the Transfer benchmark quote are here too (numpy only):
``depth_errors`` (AbsRel, scale-invariant RMSE, delta < 1.25) and ``seg_miou``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.pretrained import PretrainedModel

TASKS = ("depth", "seg")


@dataclass(frozen=True)
class EstimatorConfig:
    """Architecture of one estimator (a UNet at ``size`` x ``size``)."""

    task: str
    """"depth" (metric z-depth, one output) or "seg" (one logit per label)."""
    labels: tuple[str, ...] = ()
    """seg: the class names, index = class id, ``labels[0] == "background"``; depth: empty."""
    size: int = 64
    """Square input size in pixels; other frame sizes are resized to it and back."""
    channels: tuple[int, ...] = (24, 48, 96, 144)
    """Width of each UNet level (the first at full resolution, each next one at half)."""
    min_depth: float = 0.05
    """depth: the nearest depth the head can output (m)."""
    max_depth: float = 20.0
    """depth: the farthest (m); GT depth beyond it (the sky at 300 m) is a target of max_depth."""

    def __post_init__(self):
        if self.task not in TASKS:
            raise ConfigError(f"estimator task {self.task!r} unknown; use one of {TASKS}")
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.task == "seg" and (len(self.labels) < 2 or self.labels[0] != "background"):
            raise ConfigError(
                f"a seg estimator needs labels starting with 'background' and at least one class, got "
                f"{self.labels}; pass the union of the training scenes' segmentation_labels"
            )
        if self.task == "depth" and self.labels:
            raise ConfigError(f"a depth estimator has no labels, got {self.labels}; pass labels=()")
        if not self.channels or min(self.channels) < 1:
            raise ConfigError(f"channels must be positive widths, one per level, got {self.channels}")
        if self.size % 2 ** (len(self.channels) - 1):
            raise ConfigError(
                f"size {self.size} is not divisible by 2**{len(self.channels) - 1} (one halving per level "
                f"after the first); use a multiple of {2 ** (len(self.channels) - 1)}"
            )
        if not 0 < self.min_depth < self.max_depth:
            raise ConfigError(
                f"need 0 < min_depth < max_depth, got {self.min_depth}, {self.max_depth}; e.g. 0.05 and 20"
            )

    @property
    def out_channels(self) -> int:
        return 1 if self.task == "depth" else len(self.labels)


def _block(cin: int, cout: int) -> nn.Sequential:
    groups = math.gcd(cout, 8)
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.GroupNorm(groups, cout),
        nn.SiLU(),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.GroupNorm(groups, cout),
        nn.SiLU(),
    )


class UNet(nn.Module):
    """RGB + pixel coordinates (fixed cameras: where a pixel sits says much of its depth) -> ``out`` maps."""

    def __init__(self, channels: tuple[int, ...], out: int):
        super().__init__()
        self.down = nn.ModuleList()
        cin = 5
        for i, c in enumerate(channels):
            self.down.append(
                _block(cin, c) if i == 0 else nn.Sequential(nn.Conv2d(cin, c, 3, 2, 1), _block(c, c))
            )
            cin = c
        self.up = nn.ModuleList(
            _block(channels[i + 1] + channels[i], channels[i]) for i in reversed(range(len(channels) - 1))
        )
        self.head = nn.Conv2d(channels[0], out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
        x = torch.cat([x, xs, ys], 1)
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        skips.pop()
        for layer in self.up:
            skip = skips.pop()
            x = layer(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="nearest"), skip], 1))
        return self.head(x)


class _Estimator(PretrainedModel):
    """What both estimators share: the config, the net, frames in and out, checkpoints."""

    shipped_folder: ClassVar[str] = "estimators"
    config_class = EstimatorConfig
    task: ClassVar[str]

    def __init__(self, config: EstimatorConfig):
        super().__init__()
        if config.task != self.task:
            raise ConfigError(f"{type(self).__name__} needs task={self.task!r}, got {config.task!r}")
        self.config = config
        self.net = UNet(config.channels, config.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, size, size) uint8 or [0, 255] floats -> the raw head output (B, out_channels, size, size)."""
        return self.net((x.float() - 127.5) / 64.0)

    @torch.no_grad()
    def _outputs(self, frames: np.ndarray, batch: int) -> tuple[np.ndarray, bool, tuple[int, int]]:
        """Run the net over ``frames`` ((T,H,W,3) or (H,W,3) uint8): its outputs at the frames' size."""
        frames = np.asarray(frames)
        single = frames.ndim == 3
        if single:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ConfigError(f"frames must be (T, H, W, 3) or (H, W, 3) RGB, got shape {frames.shape}")
        if frames.dtype != np.uint8:
            raise ConfigError(
                f"frames must be uint8 RGB (0..255), got {frames.dtype}; convert with .astype(np.uint8)"
            )
        hw = frames.shape[1:3]
        device = next(self.parameters()).device
        outs = []
        for i in range(0, len(frames), batch):
            x = torch.from_numpy(frames[i : i + batch]).to(device).permute(0, 3, 1, 2)
            s = self.config.size
            if tuple(hw) != (s, s):
                x = F.interpolate(
                    x.float(), size=(s, s), mode="bilinear", antialias=True, align_corners=False
                )
            y = self(x).float()
            outs.append(self._finish(y, hw))
        return np.concatenate(outs), single, hw

    def _finish(self, y: torch.Tensor, hw: tuple[int, int]) -> np.ndarray:
        raise NotImplementedError


class DepthEstimator(_Estimator):
    """RGB -> metric z-depth in metres (see the module docstring)."""

    checkpoint_kind, label, task = "depth-estimator", "depth estimator", "depth"

    def log_depth(self, head: torch.Tensor) -> torch.Tensor:
        """Head output -> log depth, squashed into [log min_depth, log max_depth]."""
        lo, hi = math.log(self.config.min_depth), math.log(self.config.max_depth)
        return lo + (hi - lo) * torch.sigmoid(head[:, 0])

    def _finish(self, y, hw):
        d = self.log_depth(y).exp()
        if tuple(d.shape[-2:]) != tuple(hw):
            d = F.interpolate(d[:, None], size=tuple(hw), mode="bilinear", align_corners=False)[:, 0]
        return d.cpu().numpy().astype(np.float32)

    def predict(self, frames: np.ndarray, batch: int = 64) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB -> (T, H, W) float32 metres ((H, W, 3) -> (H, W)); the sky -> max_depth."""
        out, single, _ = self._outputs(frames, batch)
        return out[0] if single else out


class SegEstimator(_Estimator):
    """RGB -> segmentation ids (see the module docstring)."""

    checkpoint_kind, label, task = "seg-estimator", "segmentation estimator", "seg"

    @property
    def labels(self) -> tuple[str, ...]:
        """The class names; class id = index (0 = background)."""
        return self.config.labels

    def _finish(self, y, hw):
        if tuple(y.shape[-2:]) != tuple(hw):
            y = F.interpolate(y, size=tuple(hw), mode="bilinear", align_corners=False)
        return y.argmax(1).cpu().numpy().astype(np.int32)

    def predict(
        self, frames: np.ndarray, labels: dict[int, str] | None = None, batch: int = 64
    ) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB -> (T, H, W) int32 ids ((H, W, 3) -> (H, W)).

        ``labels``: an env's ``segmentation_labels`` ({id: name}); ids are then that env's (a class it lacks
        -> 0, background). None: the estimator's own class ids (``self.labels``).
        """
        out, single, _ = self._outputs(frames, batch)
        if labels is not None:
            out = self.class_to_env_ids(labels)[out]
        return out[0] if single else out

    def class_to_env_ids(self, labels: dict[int, str]) -> np.ndarray:
        """Lookup table: this estimator's class id -> the env's id of the same name (0 if it has none)."""
        by_name = {str(name): int(i) for i, name in labels.items()}
        return np.array([by_name.get(name, 0) for name in self.labels], dtype=np.int32)


# ---- scores ---------------------------------------------------------------------------------------------
def depth_errors(pred: np.ndarray, gt: np.ndarray, max_depth: float = 20.0) -> dict[str, float]:
    """AbsRel, scale-invariant RMSE (of log depth, x100 is the usual table unit; here in log units) and
    the fraction with max(pred/gt, gt/pred) < 1.25, over the pixels whose GT depth is below ``max_depth``
    (the sky excluded). si-RMSE is per frame (Eigen et al.), averaged over frames."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape:
        raise ConfigError(f"depth shapes differ: predicted {pred.shape}, GT {gt.shape}")
    if pred.ndim == 2:
        pred, gt = pred[None], gt[None]
    valid = (gt > 0) & (gt < max_depth)
    if not valid.any():
        raise ConfigError(f"no GT depth below max_depth={max_depth} m to score; raise max_depth")
    p, g = np.clip(pred[valid], 1e-3, None), gt[valid]
    si = []
    for t in range(len(gt)):
        v = valid[t]
        if v.sum() < 2:
            continue
        d = np.log(np.clip(pred[t][v], 1e-3, None)) - np.log(gt[t][v])
        si.append(math.sqrt(max(float((d**2).mean() - d.mean() ** 2), 0.0)))
    ratio = np.maximum(p / g, g / p)
    return {
        "abs_rel": float((np.abs(p - g) / g).mean()),
        "si_rmse": float(np.mean(si)),
        "delta_1_25": float((ratio < 1.25).mean()),
    }


def seg_miou(pred: np.ndarray, gt: np.ndarray, ids: list[int] | None = None) -> float:
    """Mean IoU over the ids present in the GT or the prediction (or over ``ids``), background included."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ConfigError(f"segmentation shapes differ: predicted {pred.shape}, GT {gt.shape}")
    ids = sorted(set(np.unique(gt).tolist()) | set(np.unique(pred).tolist())) if ids is None else ids
    ious = []
    for i in ids:
        p, g = pred == i, gt == i
        union = np.logical_or(p, g).sum()
        if union:
            ious.append(np.logical_and(p, g).sum() / union)
    return float(np.mean(ious)) if ious else float("nan")


__all__ = [
    "DepthEstimator",
    "EstimatorConfig",
    "SegEstimator",
    "UNet",
    "depth_errors",
    "seg_miou",
]
