"""Physics-alignment metrics of predicted video against simulated ground truth (numpy + OpenCV).

Three families, all on ``(T, H, W, 3)`` uint8 RGB frames of one episode:

**Objects by colour.** A predicted frame has no segmentation, so it is segmented by colour. Every
GT object's *reference colour* is the mean colour of its pixels in the GT context frame(s) (the
frames the predictor saw), found through the GT instance segmentation (seg ids -> names through
the env's ``segmentation_labels``). The background (sky, floor, static props) gets one reference
colour per seg id in the same way. Colours are compared in CIE L*a*b* (OpenCV's float
conversion: L in [0, 100]) with the lightness axis weighted by ``lightness_weight`` (0.5):
shading moves a face's lightness far more than its hue, so hue and chroma are what tell the
saturated objects apart. A predicted pixel belongs to the object class whose reference is
nearest, if that distance is under ``threshold`` and smaller than its distance to every
background reference; otherwise it is background. Objects whose reference colours lie closer
than ``merge_below`` are merged into one *colour class* (its mask is compared with the union of
its members' GT masks; every member reports the class's figures), because colour cannot tell
them apart. An object not visible in the context has no reference colour and no figures.

Object IoU per object per frame: the predicted class mask against the GT mask (NaN when both are
empty: the object is out of view and predicted so). Centroid error: the distance between the
centroids of the predicted and the GT mask, in pixels, and in metres: both centroid pixels are
back-projected through the GT intrinsics and extrinsics to world points at the same camera
z-depth, the median GT depth over the object's GT mask (the depth at the GT centroid pixel
itself, made robust to centroids that fall off a thin or concave object's pixels). The metric
error is therefore the error across the line of sight at the object's distance; a 2D prediction
carries no depth, so errors along the line of sight are not measured. NaN when either mask is
empty (a missing object shows up in the IoU, which is then 0).

**Physics-IQ motion masks** (Motamed et al. 2025, "Do generative video models understand physical
principles?", ``google-deepmind/physics-IQ-benchmark``: ``binary_mask_generator.py`` and
``calculate_and_write_metrics_to_csv.py``). A motion mask marks the pixels that change. Then, for
a predicted and a GT video of the same event:

- spatial IoU: IoU of the union-over-time masks ("where" something moved);
- spatiotemporal IoU: per-frame IoU of the masks, averaged over frames ("where and when");
- weighted spatial IoU: ``sum(min(Wp, Wg)) / sum(max(Wp, Wg))`` where ``W`` is the fraction of
  frames in which each pixel moves ("where and how much");
- MSE: per-frame mean squared error of the RGB frames in [0, 1], averaged.

An IoU of two empty masks is 1, as in Physics-IQ. Deviations, all because our videos are
64x64 renders instead of 4K/4 camera footage: the mask is the grey-level change between
*consecutive* frames (``|g_t - g_{t-1}| > threshold``, threshold 10 of 255 as theirs) instead of
the change against a running-average background (``accumulateWeighted``, alpha 0.3); there is no
5x5 Gaussian blur and no 5x5 morphological opening/closing (either would erase a 5-pixel ball);
the first mask compares the first predicted frame with the last context frame (theirs starts
empty). Physics-IQ compares with two real takes and normalises by their disagreement ("physical
variance") into one score; here the physical-variance predictor (the simulator re-run with
perturbed parameters, ``cosmos_sim.eval.predictors.PhysicalVariance``) is reported as a row beside
the models instead, and no combined score is computed.

**Feature similarity.** Cosine similarity per frame between features of the predicted and the GT
frame. The extractor is pluggable: ``"module:function"`` taking ``(N, H, W, 3)`` uint8 and
returning ``(N, D)`` features (e.g. a wrapper around LPIPS or DreamSim with the user's local
weights). The default, ``"tokenizer"``, needs no download: the encoder latents
(16 x 8 x 8 at 64x64, flattened) of the shipped causal video tokenizer
``assets/tokenizers/cv4x8x8-nano``, each frame encoded alone (image mode). It is a similarity
in a learned, compressed space that ignores pixel noise the tokenizer cannot represent, not a
perceptual metric calibrated on human judgements.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FeatureExtractor = Callable[[np.ndarray], np.ndarray]

LIGHTNESS_WEIGHT = 0.5
COLOUR_THRESHOLD = 40.0
MERGE_BELOW = 12.0
MOTION_THRESHOLD = 10
DEFAULT_FEATURES = "tokenizer"
DEFAULT_TOKENIZER = "cv4x8x8-nano"


# ---- colour segmentation -------------------------------------------------------------------------
def to_lab(frames: np.ndarray, lightness_weight: float = LIGHTNESS_WEIGHT) -> np.ndarray:
    """uint8 RGB ``(..., 3)`` -> float32 L*a*b* with L scaled by ``lightness_weight``."""
    rgb = np.ascontiguousarray(frames, dtype=np.float32).reshape(-1, 1, 3) / 255.0
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).reshape(*np.shape(frames))
    lab[..., 0] *= lightness_weight
    return lab


@dataclass(frozen=True)
class ColourClass:
    """One or more GT objects that share a reference colour."""

    name: str
    """The member names joined by ``+``."""
    members: tuple[str, ...]
    """GT object names in the class."""
    seg_ids: tuple[int, ...]
    """Their GT segmentation ids."""
    lab: np.ndarray
    """Reference colour (3,), weighted L*a*b* (see ``to_lab``)."""


@dataclass(frozen=True)
class ColourReference:
    """Reference colours measured on GT context frames: what ``segment_by_colour`` needs."""

    classes: tuple[ColourClass, ...]
    """Object colour classes; class ``i`` is label ``i + 1`` in a segmentation."""
    background: np.ndarray
    """(M, 3) weighted L*a*b* of the background seg ids (sky, floor, props)."""
    threshold: float
    """Largest distance from a class reference at which a pixel still belongs to it."""
    lightness_weight: float
    """Weight of L* in the colour distance."""

    def class_of(self, name: str) -> int | None:
        """Index of the class holding object ``name`` (None when it had no reference colour)."""
        return next((i for i, c in enumerate(self.classes) if name in c.members), None)


def colour_reference(
    frames: np.ndarray,
    segs: np.ndarray,
    labels: Mapping[int, str],
    objects: Sequence[str],
    threshold: float = COLOUR_THRESHOLD,
    merge_below: float = MERGE_BELOW,
    lightness_weight: float = LIGHTNESS_WEIGHT,
) -> ColourReference:
    """Reference colours of ``objects`` and of the background from GT frames and their segmentation.

    Args:
        frames: ``(T, H, W, 3)`` uint8 GT (context) frames.
        segs: ``(T, H, W)`` int GT instance ids of the same frames.
        labels: seg id -> name (the env's ``segmentation_labels``).
        objects: names of the objects to find; every other seg id present is background.
        threshold: see ``ColourReference.threshold``.
        merge_below: objects whose references are closer than this form one class.
        lightness_weight: weight of L* in the distance.
    """
    frames, segs = np.asarray(frames), np.asarray(segs)
    if frames.shape[:-1] != segs.shape or frames.shape[-1] != 3:
        raise ValueError(
            f"frames (T, H, W, 3) and segs (T, H, W) must match, got {frames.shape} and {segs.shape}"
        )
    lab = to_lab(frames, lightness_weight)
    ids = {name: i for i, name in labels.items()}
    unknown = [o for o in objects if o not in ids]
    if unknown:
        raise ValueError(f"objects {unknown} are not in the segmentation labels {sorted(ids)}")
    refs: dict[str, np.ndarray] = {}
    for name in objects:
        pix = lab[segs == ids[name]]
        if len(pix):
            refs[name] = pix.mean(0)
    object_ids = {ids[o] for o in objects}
    background = [lab[segs == i].mean(0) for i in np.unique(segs) if int(i) not in object_ids]
    # Union-find over objects closer than merge_below: colour cannot tell them apart.
    names = list(refs)
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if np.linalg.norm(refs[names[i]] - refs[names[j]]) < merge_below:
                parent[root(j)] = root(i)
    groups: dict[int, list[str]] = {}
    for i, n in enumerate(names):
        groups.setdefault(root(i), []).append(n)
    classes = []
    for members in groups.values():
        pix = lab[np.isin(segs, [ids[m] for m in members])]
        classes.append(
            ColourClass("+".join(members), tuple(members), tuple(ids[m] for m in members), pix.mean(0))
        )
    return ColourReference(
        tuple(classes),
        np.array(background, np.float32).reshape(-1, 3),
        float(threshold),
        float(lightness_weight),
    )


def segment_by_colour(frames: np.ndarray, ref: ColourReference) -> np.ndarray:
    """``(..., H, W, 3)`` uint8 frames -> ``(..., H, W)`` int32 labels: class index + 1, 0 background."""
    if not ref.classes:
        return np.zeros(np.shape(frames)[:-1], np.int32)
    lab = to_lab(frames, ref.lightness_weight)
    obj = np.stack([c.lab for c in ref.classes])
    d_obj = np.linalg.norm(lab[..., None, :] - obj, axis=-1)
    best = d_obj.argmin(-1)
    d_best = np.take_along_axis(d_obj, best[..., None], -1)[..., 0]
    keep = d_best < ref.threshold
    if len(ref.background):
        keep &= d_best < np.linalg.norm(lab[..., None, :] - ref.background, axis=-1).min(-1)
    return np.where(keep, best + 1, 0).astype(np.int32)


# ---- masks, centroids, back-projection -----------------------------------------------------------
def mask_iou(a: np.ndarray, b: np.ndarray, empty: float = float("nan")) -> float:
    """Intersection over union of two boolean masks; ``empty`` when both are empty."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else empty


def centroid(mask: np.ndarray) -> np.ndarray | None:
    """Pixel centroid ``(u, v)`` = (column, row) of a boolean mask, None when it is empty."""
    v, u = np.nonzero(mask)
    return np.array([u.mean(), v.mean()]) if len(u) else None


def backproject(uv: np.ndarray, z: float, intrinsics: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """World point of pixel ``(u, v)`` at camera z-depth ``z`` (OpenCV camera, 4x4 world-to-camera)."""
    cam = z * np.linalg.solve(intrinsics, np.array([uv[0], uv[1], 1.0]))
    r, t = extrinsics[:3, :3], extrinsics[:3, 3]
    return r.T @ (cam - t)


def on_plane(uv: np.ndarray, height: float, intrinsics: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """World point where the ray through pixel ``(u, v)`` meets the plane z = ``height`` (world metres; OpenCV
    camera, 4x4 world-to-camera). ``uv`` in continuous pixel coordinates: pixel (column i, row j) spans [i, i+1)
    x [j, j+1), so a mask's index centroid is at ``centroid(mask) + 0.5``."""
    r, t = np.asarray(extrinsics)[:3, :3], np.asarray(extrinsics)[:3, 3]
    ray = r.T @ np.linalg.solve(intrinsics, np.array([uv[0], uv[1], 1.0]))
    origin = -r.T @ t
    return origin + (height - origin[2]) / ray[2] * ray


@dataclass(frozen=True)
class ObjectMetrics:
    """Per-object, per-frame figures of one predicted episode (NaN where undefined)."""

    iou: dict[str, np.ndarray]
    """Object name -> (T,) IoU of its colour class mask vs the GT mask."""
    centroid_px: dict[str, np.ndarray]
    """Object name -> (T,) centroid error in pixels."""
    centroid_m: dict[str, np.ndarray]
    """Object name -> (T,) centroid error in metres across the line of sight."""


def object_metrics(
    pred: np.ndarray,
    gt_segs: np.ndarray,
    gt_depths: np.ndarray | None,
    intrinsics: np.ndarray | None,
    extrinsics: np.ndarray | None,
    ref: ColourReference,
) -> ObjectMetrics:
    """Object IoU and centroid errors of predicted frames (see the module docstring).

    Args:
        pred: ``(T, H, W, 3)`` uint8 predicted frames.
        gt_segs: ``(T, H, W)`` GT instance ids of the same time steps.
        gt_depths: ``(T, H, W)`` GT z-depth in metres, for the errors in metres (None: those are NaN).
        intrinsics: ``(3, 3)`` or per frame ``(T, 3, 3)`` (with ``gt_depths``).
        extrinsics: ``(4, 4)`` or per frame ``(T, 4, 4)`` world-to-camera (with ``gt_depths``).
        ref: reference colours from the GT context (``colour_reference``).
    """
    t = len(pred)
    if gt_segs.shape != pred.shape[:-1] or (gt_depths is not None and gt_depths.shape != gt_segs.shape):
        raise ValueError(
            f"pred {pred.shape}, gt_segs {gt_segs.shape} and gt_depths "
            f"{None if gt_depths is None else gt_depths.shape} must cover the same (T, H, W)"
        )
    metres = gt_depths is not None
    if metres:
        ks = np.broadcast_to(intrinsics, (t, 3, 3))
        es = np.broadcast_to(extrinsics, (t, 4, 4))
    labels = segment_by_colour(pred, ref)
    iou, cpx, cm = {}, {}, {}
    for ci, cls in enumerate(ref.classes):
        ious, errs_px, errs_m = np.full(t, np.nan), np.full(t, np.nan), np.full(t, np.nan)
        for i in range(t):
            pm, gm = labels[i] == ci + 1, np.isin(gt_segs[i], cls.seg_ids)
            ious[i] = mask_iou(pm, gm)
            cp, cg = centroid(pm), centroid(gm)
            if cp is None or cg is None:
                continue
            errs_px[i] = float(np.linalg.norm(cp - cg))
            if metres:
                z = float(np.median(gt_depths[i][gm]))
                errs_m[i] = float(
                    np.linalg.norm(backproject(cp, z, ks[i], es[i]) - backproject(cg, z, ks[i], es[i]))
                )
        for m in cls.members:
            iou[m], cpx[m], cm[m] = ious, errs_px, errs_m
    return ObjectMetrics(iou, cpx, cm)


# ---- Physics-IQ motion metrics ------------------------------------------------------------------
def motion_masks(
    frames: np.ndarray, threshold: int = MOTION_THRESHOLD, previous: np.ndarray | None = None
) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 -> ``(T, H, W)`` bool: grey level changed by more than ``threshold``.

    Frame ``t`` is compared with frame ``t - 1``; the first with ``previous`` (e.g. the last
    context frame) if given, otherwise its mask is empty.
    """
    frames = np.asarray(frames)
    seq = frames if previous is None else np.concatenate([np.asarray(previous)[None], frames])
    grey = np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in seq]).astype(np.int16)
    moved = np.abs(np.diff(grey, axis=0)) > threshold
    if previous is None:
        moved = np.concatenate([np.zeros_like(moved[:1]), moved])
    return moved


def spatial_iou(pred_masks: np.ndarray, gt_masks: np.ndarray) -> float:
    """IoU of the union-over-time motion masks (1 when neither video moves)."""
    return mask_iou(np.any(pred_masks, 0), np.any(gt_masks, 0), empty=1.0)


def spatiotemporal_iou_per_frame(pred_masks: np.ndarray, gt_masks: np.ndarray) -> np.ndarray:
    """(T,) per-frame IoU of motion masks (1 where neither frame moves); Physics-IQ averages it."""
    return np.array([mask_iou(p, g, empty=1.0) for p, g in zip(pred_masks, gt_masks, strict=True)])


def weighted_spatial_iou(pred_masks: np.ndarray, gt_masks: np.ndarray) -> float:
    """``sum(min) / sum(max)`` of the per-pixel fractions of frames that move (1 when neither moves)."""
    wp, wg = np.mean(pred_masks, 0), np.mean(gt_masks, 0)
    union = np.maximum(wp, wg).sum()
    return float(np.minimum(wp, wg).sum() / union) if union > 0 else 1.0


def mse_per_frame(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(T,) mean squared error of RGB frames scaled to [0, 1]."""
    d = np.asarray(pred, np.float32) / 255 - np.asarray(gt, np.float32) / 255
    return (d**2).reshape(len(d), -1).mean(1)


def physics_iq_metrics(
    pred: np.ndarray, gt: np.ndarray, last_context: np.ndarray, threshold: int = MOTION_THRESHOLD
) -> dict[str, float | np.ndarray]:
    """Spatial, spatiotemporal (mean and ``(T,)``) and weighted spatial IoU of motion masks, and MSE."""
    pm = motion_masks(pred, threshold, previous=last_context)
    gm = motion_masks(gt, threshold, previous=last_context)
    st = spatiotemporal_iou_per_frame(pm, gm)
    return {
        "spatial_iou": spatial_iou(pm, gm),
        "spatiotemporal_iou": float(st.mean()),
        "spatiotemporal_iou_per_frame": st,
        "weighted_spatial_iou": weighted_spatial_iou(pm, gm),
        "mse": float(mse_per_frame(pred, gt).mean()),
    }


# ---- feature similarity ------------------------------------------------------------------------
class TokenizerFeatures:
    """The default feature extractor: flattened encoder latents of a shipped CV tokenizer."""

    def __init__(self, tokenizer: str | Path = DEFAULT_TOKENIZER, device: str = "cpu"):
        from cosmos_sim.assets import ASSETS_DIR
        from cosmos_sim.world_models.tokenizer import Tokenizer

        path = Path(tokenizer)
        if not path.is_dir():
            path = ASSETS_DIR / "tokenizers" / str(tokenizer)
        self.tokenizer = Tokenizer.from_pretrained(path, device=device)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # images: image mode
        return self.tokenizer.encode(x)[:, 0].flatten(1).float().cpu().numpy()


def load_feature_extractor(spec: str = DEFAULT_FEATURES) -> FeatureExtractor:
    """``"tokenizer"`` (the default, see ``TokenizerFeatures``) or ``"module:function"``."""
    if spec == DEFAULT_FEATURES:
        return TokenizerFeatures()
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise ValueError(
            f"feature extractor {spec!r} must be 'tokenizer' or 'module:function' (a function taking "
            "(N, H, W, 3) uint8 frames and returning (N, D) features)"
        )
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot load feature extractor {spec!r}: {e}") from None
    if not callable(fn):
        raise ValueError(f"feature extractor {spec!r} is not callable")
    return fn


def feature_similarity(
    pred: np.ndarray, gt: np.ndarray, extractor: FeatureExtractor, gt_features: np.ndarray | None = None
) -> np.ndarray:
    """(T,) cosine similarity of the features of each predicted frame and its GT frame.

    ``gt_features``: ``extractor(gt)`` when the caller already has it (one GT, many predictors).
    """
    fp = np.asarray(extractor(pred), np.float64).reshape(len(pred), -1)
    fg = np.asarray(extractor(gt) if gt_features is None else gt_features, np.float64).reshape(len(gt), -1)
    denom = np.linalg.norm(fp, axis=1) * np.linalg.norm(fg, axis=1)
    return (fp * fg).sum(1) / np.maximum(denom, 1e-12)


__all__ = [
    "ColourClass",
    "ColourReference",
    "FeatureExtractor",
    "ObjectMetrics",
    "TokenizerFeatures",
    "backproject",
    "on_plane",
    "centroid",
    "colour_reference",
    "feature_similarity",
    "load_feature_extractor",
    "mask_iou",
    "motion_masks",
    "mse_per_frame",
    "object_metrics",
    "physics_iq_metrics",
    "segment_by_colour",
    "spatial_iou",
    "spatiotemporal_iou_per_frame",
    "to_lab",
    "weighted_spatial_iou",
]
