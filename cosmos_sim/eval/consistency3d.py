"""3D consistency of a video of a static scene with a known camera: epipolar (Sampson) error and
camera-pose-estimation success, after the Cosmos paper's 3D-consistency evaluation.

The Cosmos paper (arXiv 2501.03575, "3D consistency") judges generated videos of static scenes by
(a) the Sampson error of feature matches under a RANSAC fundamental matrix and (b) how often
camera poses can be estimated from the video. Its figures come from real-estate videos and a
full pose pipeline; what this module computes, on frame pairs of a video with known intrinsics
``K`` and ground-truth (GT) extrinsics, is the following (all choices are ``Consistency3DConfig``
fields):

1. Features. Each frame is converted to grey and upsampled ``upsample`` times (bicubic,
   ``cv2.resize``): at 64x64 SIFT finds almost nothing, at 256x256 it finds tens to hundreds of
   keypoints. Coordinates are scaled back, so every pixel figure below is in pixels of the
   ORIGINAL resolution. SIFT (``cv2.SIFT_create``) keypoints of the two frames are matched by
   brute force (L2) with Lowe's ratio test (``ratio``).
2. Sampson error. ``cv2.findFundamentalMat`` (RANSAC, threshold ``f_threshold_px`` original
   pixels) fits F to the matches. The pair's Sampson error is the mean over F's RANSAC inliers
   of the Sampson distance ``|x2' F x1| / sqrt((F x1)_1^2 + (F x1)_2^2 + (F' x2)_1^2 + (F' x2)_2^2)``
   (the first-order geometric distance to the epipolar constraint, pixels). The video's
   ``sampson_error_px`` is the mean over pairs where F was found. Alone it is bounded by the
   RANSAC threshold, so ``f_inlier_ratio`` (inliers / ratio-test matches, averaged over pairs
   with F) is reported beside it: an inconsistent video has fewer matches that agree with one
   epipolar geometry.
3. Pose success. ``cv2.findEssentialMat`` with the known K (MAGSAC++, ``e_threshold_px``) and
   ``cv2.recoverPose`` give the relative rotation R and translation direction t (camera 1 to
   camera 2). A pair succeeds when at least ``min_pose_inliers`` matches pass recoverPose's
   cheirality check, the rotation error ``angle(R_gt' R)`` is at most ``max_rotation_error_deg``
   and the angle between t and the GT translation direction is at most
   ``max_translation_error_deg`` (skipped when the GT baseline is under ``min_baseline``, where
   the direction is undefined). ``pose_success_rate`` is successes / evaluated pairs.
   The rotation threshold (1.5 degrees) lies under the smallest per-step rotation of
   ``Physics-CameraOrbit-GT-v0`` (2 degrees), so a frozen video cannot pass by showing no
   motion. MAGSAC++ rather than plain RANSAC: on these 64x64 orbits (narrow view, small
   baseline, a dominant floor plane) plain RANSAC's rotations were off by ~3 degrees even on GT
   frames, MAGSAC++'s by ~1 (median).

Limitation: a pure camera rotation (zero baseline) has no essential matrix; such a pair gets a
tiny Sampson error but counts as a pose failure (recoverPose finds no point in front of both
cameras). The camera_orbit scene always translates.

Pairs are (i, i + s) for every stride s in ``strides``. A pair with too few keypoints or matches
(a blank or noise frame), or where OpenCV finds no model, never raises: it is a pose failure
and has no Sampson error. RANSAC draws from OpenCV's global RNG, which is re-seeded with
``seed`` before every pair, so the figures are reproducible and independent of call order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class Consistency3DConfig:
    """How frame pairs are matched and judged (see the module docstring)."""

    strides: tuple[int, ...] = (1,)
    """Frame offsets of the evaluated pairs: 1 = consecutive frames (wider ones match poorly at 64x64)."""
    upsample: int = 4
    """Bicubic upsampling factor before SIFT (K is scaled with it)."""
    ratio: float = 0.75
    """Lowe's ratio test: keep a match when best distance < ratio * second best."""
    min_matches: int = 15
    """Fewer ratio-test matches than this: the pair fails (no F, no pose)."""
    f_threshold_px: float = 0.5
    """RANSAC inlier threshold of the fundamental matrix (original-resolution pixels)."""
    e_threshold_px: float = 0.5
    """RANSAC inlier threshold of the essential matrix (original-resolution pixels)."""
    min_pose_inliers: int = 12
    """Matches that must survive the essential-matrix RANSAC and recoverPose's cheirality check."""
    max_rotation_error_deg: float = 1.5
    """Largest relative-rotation error of a successful pose (degrees); under camera_orbit's smallest step (2)."""
    max_translation_error_deg: float = 20.0
    """Largest angle between estimated and GT translation directions of a successful pose (degrees)."""
    min_baseline: float = 1e-6
    """GT baselines shorter than this (world units) skip the translation-direction check."""
    seed: int = 0
    """OpenCV RNG seed set before each pair's RANSAC."""

    def __post_init__(self):
        if not self.strides or any(int(s) != s or s < 1 for s in self.strides):
            raise ValueError(
                f"strides={self.strides} must be a non-empty tuple of positive ints, e.g. (1, 4)"
            )
        if int(self.upsample) != self.upsample or self.upsample < 1:
            raise ValueError(f"upsample={self.upsample} must be a positive int (1 = no upsampling)")
        if not 0.0 < self.ratio <= 1.0:
            raise ValueError(f"ratio={self.ratio} must be in (0, 1], e.g. 0.75")
        if self.min_matches < 8:
            raise ValueError(f"min_matches={self.min_matches} must be at least 8 (the 8-point algorithm)")


@dataclass(frozen=True)
class PairResult:
    """The figures of one frame pair."""

    i: int
    """First frame index."""
    j: int
    """Second frame index."""
    matches: int
    """Ratio-test SIFT matches."""
    f_inliers: int
    """RANSAC inliers of the fundamental matrix (0 when none was found)."""
    sampson_px: float
    """Mean Sampson distance of F's inliers, original pixels (NaN when no F)."""
    pose_inliers: int
    """Matches passing the essential-matrix RANSAC and the cheirality check."""
    rotation_error_deg: float
    """Angle between estimated and GT relative rotations (NaN when no pose)."""
    translation_error_deg: float
    """Angle between estimated and GT translation directions (NaN when no pose or no GT baseline)."""
    success: bool
    """Pose estimated within the thresholds."""
    reason: str = ""
    """Why the pair failed ("" on success)."""


@dataclass(frozen=True)
class Consistency3DResult:
    """Figures of one video and the pairs they come from."""

    pairs: tuple[PairResult, ...]
    """Every evaluated pair."""
    config: Consistency3DConfig = field(default_factory=Consistency3DConfig)
    """The settings used."""

    def figures(self) -> dict[str, float]:
        """Flat JSON-ready figures; NaN where no pair gave a value."""
        with_f = [p for p in self.pairs if p.f_inliers > 0]
        posed = [p for p in self.pairs if not math.isnan(p.rotation_error_deg)]
        return {
            "sampson_error_px": _mean([p.sampson_px for p in with_f]),
            "f_inlier_ratio": _mean([p.f_inliers / p.matches for p in with_f]),
            "pose_success_rate": _mean([float(p.success) for p in self.pairs]),
            "rotation_error_deg_median": float(np.median([p.rotation_error_deg for p in posed]))
            if posed
            else math.nan,
            "matches_mean": _mean([float(p.matches) for p in self.pairs]),
            "pairs": float(len(self.pairs)),
            "pairs_with_f": float(len(with_f)),
        }

    def rows(self) -> list[dict]:
        """One dict per pair (for a benchmark's ``rows``)."""
        return [asdict(p) for p in self.pairs]


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


# ---- features ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Features:
    points: np.ndarray
    """Nx2 keypoint positions, continuous pixel coordinates of the upsampled image (origin at the corner)."""
    descriptors: np.ndarray | None
    """NxD SIFT descriptors (None when no keypoint)."""


def _features(frame: np.ndarray, upsample: int, sift: cv2.SIFT) -> _Features:
    grey = _grey(frame)
    if upsample > 1:
        h, w = grey.shape
        grey = cv2.resize(grey, (w * upsample, h * upsample), interpolation=cv2.INTER_CUBIC)
    keypoints, descriptors = sift.detectAndCompute(grey, None)
    # OpenCV puts pixel centres at integers; the project's K puts the origin at the pixel corner
    points = np.array([k.pt for k in keypoints], dtype=np.float64).reshape(-1, 2) + 0.5
    return _Features(points, descriptors)


def _grey(frame: np.ndarray) -> np.ndarray:
    f = np.asarray(frame)
    if f.dtype != np.uint8:
        if not np.issubdtype(f.dtype, np.floating):
            raise ValueError(f"frames must be uint8 (0-255) or float (0-1), got dtype {f.dtype}")
        f = (np.clip(f, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    if f.ndim == 3 and f.shape[-1] == 3:
        return cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
    if f.ndim == 2:
        return f
    raise ValueError(f"a frame must be HxW or HxWx3, got shape {f.shape}")


def _match(a: _Features, b: _Features, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-test matches as two Nx2 point arrays (empty when either frame has too few keypoints)."""
    empty = np.zeros((0, 2))
    if a.descriptors is None or b.descriptors is None or len(a.points) < 2 or len(b.points) < 2:
        return empty, empty
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(a.descriptors, b.descriptors, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < ratio * m[1].distance]
    if not good:
        return empty, empty
    return a.points[[m.queryIdx for m in good]], b.points[[m.trainIdx for m in good]]


# ---- geometry -----------------------------------------------------------------------------------
def sampson_distance(f: np.ndarray, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Sampson distance (pixels) of each correspondence ``x1[i] <-> x2[i]`` (Nx2) under ``x2' F x1 = 0``."""
    h1 = np.column_stack([x1, np.ones(len(x1))])
    h2 = np.column_stack([x2, np.ones(len(x2))])
    fx1, ftx2 = h1 @ f.T, h2 @ f
    num = np.abs(np.sum(h2 * fx1, axis=1))
    den = np.sqrt(fx1[:, 0] ** 2 + fx1[:, 1] ** 2 + ftx2[:, 0] ** 2 + ftx2[:, 1] ** 2)
    return num / np.maximum(den, 1e-12)


def fundamental_from_poses(k1: np.ndarray, e1: np.ndarray, k2: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """F with ``x2' F x1 = 0`` for pixels of two calibrated cameras (extrinsics: a common frame -> camera)."""
    rel = e2 @ np.linalg.inv(e1)
    r, t = rel[:3, :3], rel[:3, 3]
    tx = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    return np.linalg.inv(k2).T @ tx @ r @ np.linalg.inv(k1)


def relative_pose(e1: np.ndarray, e2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) taking camera-1 coordinates to camera-2 coordinates, from world-to-camera 4x4 extrinsics."""
    r = e2[:3, :3] @ e1[:3, :3].T
    return r, e2[:3, 3] - r @ e1[:3, 3]


def rotation_angle_deg(r: np.ndarray) -> float:
    """Rotation angle of a 3x3 rotation matrix, degrees."""
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1.0, 1.0))))


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    c = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def _pair(
    i: int,
    j: int,
    a: _Features,
    b: _Features,
    k_up: np.ndarray,
    e_i: np.ndarray,
    e_j: np.ndarray,
    cfg: Consistency3DConfig,
) -> PairResult:
    nan = math.nan
    x1, x2 = _match(a, b, cfg.ratio)
    fail = dict(
        i=i,
        j=j,
        matches=len(x1),
        f_inliers=0,
        sampson_px=nan,
        pose_inliers=0,
        rotation_error_deg=nan,
        translation_error_deg=nan,
        success=False,
    )
    if len(x1) < cfg.min_matches:
        return PairResult(**fail, reason=f"{len(x1)} matches < min_matches={cfg.min_matches}")
    s = cfg.upsample
    cv2.setRNGSeed(cfg.seed)
    f, fmask = cv2.findFundamentalMat(x1, x2, cv2.FM_RANSAC, cfg.f_threshold_px * s, 0.999)
    if f is not None and f.shape == (3, 3) and fmask is not None and fmask.sum() >= 8:
        inl = fmask.ravel().astype(bool)
        fail |= dict(
            f_inliers=int(inl.sum()), sampson_px=float(sampson_distance(f, x1[inl], x2[inl]).mean() / s)
        )
    cv2.setRNGSeed(cfg.seed)
    try:
        e, emask = cv2.findEssentialMat(x1, x2, k_up, cv2.USAC_MAGSAC, 0.999, cfg.e_threshold_px * s)
        if e is None or emask is None:
            return PairResult(**fail, reason="no essential matrix")
        # degenerate data can give several stacked solutions (3n x 3): keep the first
        n_in, r, t, _ = cv2.recoverPose(np.ascontiguousarray(e[:3]), x1, x2, k_up, mask=emask.copy())
    except cv2.error as err:  # OpenCV refuses some degenerate point sets; a failed pair, not a crash
        return PairResult(**fail, reason=f"OpenCV: {str(err).splitlines()[-1][:80]}")
    r_gt, t_gt = relative_pose(e_i, e_j)
    rot_err = rotation_angle_deg(r_gt.T @ r)
    has_baseline = np.linalg.norm(t_gt) >= cfg.min_baseline
    trans_err = _angle_deg(t.ravel(), t_gt) if has_baseline else nan
    fail |= dict(pose_inliers=int(n_in), rotation_error_deg=rot_err, translation_error_deg=trans_err)
    if n_in < cfg.min_pose_inliers:
        reason = f"{n_in} pose inliers < min_pose_inliers={cfg.min_pose_inliers}"
    elif rot_err > cfg.max_rotation_error_deg:
        reason = f"rotation error {rot_err:.2f} deg > {cfg.max_rotation_error_deg}"
    elif has_baseline and trans_err > cfg.max_translation_error_deg:
        reason = f"translation direction error {trans_err:.1f} deg > {cfg.max_translation_error_deg}"
    else:
        return PairResult(**(fail | dict(success=True)))
    return PairResult(**fail, reason=reason)


# ---- entry point ----------------------------------------------------------------------------------
def consistency_3d(
    frames, intrinsics: np.ndarray, extrinsics: np.ndarray, config: Consistency3DConfig | None = None
) -> Consistency3DResult:
    """Sampson error and pose-estimation success of a static-scene video (see the module docstring).

    Args:
        frames: T frames, ``(T, H, W, 3)`` or ``(T, H, W)``, uint8 0-255 or float 0-1 (e.g. a
            world model's prediction of a ``Physics-CameraOrbit-GT-v0`` episode).
        intrinsics: 3x3 pinhole K in pixels of these frames (origin at the top-left pixel corner),
            shared by all frames, as in ``info["cameras"][cam]["intrinsics"]``.
        extrinsics: ``(T, 4, 4)`` GT world-to-camera transforms (OpenCV frame), as in
            ``info["cameras"][cam]["extrinsics"]``.
        config: settings (default ``Consistency3DConfig()``).

    Returns:
        ``Consistency3DResult``: ``figures()`` and per-pair ``rows()``. Strides longer than the
        video give no pairs; a video with no pair at all has NaN figures.
    """
    cfg = config or Consistency3DConfig()
    frames = list(frames)
    t = len(frames)
    k = np.asarray(intrinsics, dtype=np.float64)
    ext = np.asarray(extrinsics, dtype=np.float64)
    if k.shape != (3, 3):
        raise ValueError(f"intrinsics must be one 3x3 K shared by all frames, got shape {k.shape}")
    if ext.shape != (t, 4, 4):
        raise ValueError(
            f"extrinsics must be ({t}, 4, 4) (one world-to-camera matrix per frame), got {ext.shape}"
        )
    if t and len({np.shape(f)[:2] for f in frames}) > 1:
        raise ValueError("all frames must have the same height and width")
    k_up = np.diag([cfg.upsample, cfg.upsample, 1.0]) @ k  # K of the upsampled frames
    sift = cv2.SIFT_create()
    feats = [_features(f, cfg.upsample, sift) for f in frames]
    pairs = [
        _pair(i, i + s, feats[i], feats[i + s], k_up, ext[i], ext[i + s], cfg)
        for s in cfg.strides
        for i in range(t - s)
    ]
    return Consistency3DResult(tuple(pairs), cfg)
