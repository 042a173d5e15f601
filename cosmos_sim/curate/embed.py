"""Stage 6: a clip embedding and semantic dedup (k-means, then near-duplicates within each cluster).

The default ``"thumbs"`` embedder needs no model: a 16x9 colour thumbnail of 4 frames spread over
the clip, each made zero-mean, plus an 8x4x4 HSV colour histogram, the two parts unit-normalised
and concatenated (so the cosine similarity of two clips is close to 1 only when they show the
same thing at the same place in the frame, as re-encodes, resizes and re-uploads do). Pluggable:
``embedder = "package.module:function"`` names any ``f(frames: list of RGB arrays) -> 1-D array``
(e.g. a wrapper around a local CLIP checkpoint).

Dedup follows the Cosmos curator's semantic dedup: k-means on the unit embeddings (about
``clips_per_cluster`` clips per cluster, at most ``n_clusters``), then within each cluster every
pair with cosine similarity >= ``threshold`` is a duplicate; from each group the clip with the highest quality (sharpness) is
kept, the others are dropped with the similarity as the measured value.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from cosmos_sim.curate.clip import Clip

STAGE = "dedup"


@dataclass(frozen=True)
class DedupConfig:
    """Embedding and near-duplicate removal."""

    enabled: bool = True
    """Remove near-duplicates (embeddings are always computed)."""
    embedder: str = "thumbs"
    """``"thumbs"`` (no model) or ``"package.module:function"`` mapping a clip's frames to a 1-D embedding."""
    n_clusters: int = 64
    """Most k-means clusters; duplicates are searched within a cluster."""
    clips_per_cluster: int = 32
    """Typical cluster size: k = min(n_clusters, clips // clips_per_cluster), at least 1."""
    threshold: float = 0.95
    """Cosine similarity at or above which two clips are duplicates. Real footage (benchmarks/curate_real,
    default embedder): the same shot in two videos 0.9999; a fixed street camera's view minutes apart
    (other walkers) 0.974-0.981, kept once; the same street framed differently 0.91 and below, and
    different scenes 0.84 and below, all kept."""
    seed: int = 0
    """k-means initialisation seed."""


def thumbs_embedding(frames: list[np.ndarray]) -> np.ndarray:
    """The default embedding (see the module docstring), float32, unit norm."""
    if not frames:
        raise ValueError("no frames to embed")
    idx = np.linspace(0, len(frames) - 1, 4).round().astype(int)
    thumbs = np.concatenate(
        [cv2.resize(frames[i], (16, 9), interpolation=cv2.INTER_AREA).astype(np.float32).ravel() for i in idx]
    )
    thumbs -= thumbs.mean()
    hsv = cv2.cvtColor(np.concatenate([cv2.resize(frames[i], (64, 36)) for i in idx]), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    hist = np.sqrt(hist)  # Hellinger: big bins do not swamp the rest
    parts = [p / (np.linalg.norm(p) + 1e-8) for p in (thumbs, hist)]
    v = np.concatenate(parts).astype(np.float32)
    return v / (np.linalg.norm(v) + 1e-8)


def get_embedder(name: str) -> Callable[[list[np.ndarray]], np.ndarray]:
    """The embedding function called ``name`` (see ``DedupConfig.embedder``)."""
    if name == "thumbs":
        return thumbs_embedding
    module, _, attr = name.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise ValueError(
            f"embedder {name!r} is neither 'thumbs' nor an importable 'package.module:function' ({e})"
        ) from None


def embed_clip(clip: Clip, cfg: DedupConfig) -> np.ndarray:
    """The clip's embedding as a unit float32 vector."""
    v = np.asarray(get_embedder(cfg.embedder)(clip.frames), np.float32).ravel()
    return v / (np.linalg.norm(v) + 1e-8)


def kmeans(x: np.ndarray, k: int, seed: int = 0, iters: int = 30) -> np.ndarray:
    """Cluster labels of the rows of ``x`` (k-means++ init, Lloyd iterations; deterministic for a seed)."""
    n = len(x)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(n)]]
    for _ in range(1, k):
        d = np.min(((x[:, None] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        if d.sum() <= 0:
            break
        centres.append(x[rng.choice(n, p=d / d.sum())])
    c = np.array(centres)
    labels = np.zeros(n, dtype=int)
    for _ in range(iters):
        labels_new = np.argmin(((x[:, None] - c[None]) ** 2).sum(-1), axis=1)
        if _ and np.array_equal(labels_new, labels):
            break
        labels = labels_new
        c = np.array([x[labels == j].mean(0) if np.any(labels == j) else c[j] for j in range(len(c))])
    return labels


def dedup(clips: list[Clip], embeddings: np.ndarray, cfg: DedupConfig) -> None:
    """Drop near-duplicates among ``clips`` (all kept, rows of ``embeddings`` in the same order)."""
    if not cfg.enabled or len(clips) < 2:
        return
    x = embeddings / (np.linalg.norm(embeddings, axis=1, keepdims=True) + 1e-8)
    labels = kmeans(x, min(cfg.n_clusters, len(clips) // cfg.clips_per_cluster), cfg.seed)
    for j in np.unique(labels):
        members = np.flatnonzero(labels == j)
        # best first: sharpest, then by id so ties are deterministic
        members = sorted(members, key=lambda i: (-clips[i].metrics.get("sharpness", 0.0), clips[i].clip_id))
        sims = x[members] @ x[members].T
        for a in range(len(members)):
            if not clips[members[a]].kept:
                continue
            for b in range(a + 1, len(members)):
                other = clips[members[b]]
                if other.kept and sims[a, b] >= cfg.threshold:
                    other.drop(
                        STAGE,
                        f"near-duplicate of {clips[members[a]].clip_id} (cosine {sims[a, b]:.3f} >= "
                        f"threshold {cfg.threshold:g})",
                        float(sims[a, b]),
                    )
                    other.extra["duplicate_of"] = clips[members[a]].clip_id
