"""Where the objects are in a trajectory store's frames, from the segmentation maps recorded beside them.

Objects (the robot, the blocks, the balls) cover ~2 % of a frame, so a plain reconstruction loss spends
itself on the background and smears them. The tokenizer and world-model trainers weight their losses
with these masks (``--object-weight``): the simulator knows where every object is, so this is free.

    store (recorded with --maps seg) --seg_key_of--> maps/<camera>/seg --object_ids--> bool masks
        -> pixel weights (tokenizer) | per-latent-cell weights (world model, ``cell_weights``)
"""

from __future__ import annotations

import numpy as np

from cosmos_sim.data.store import TrajectoryStore

STATIC_LABELS = ("background", "table", "floor", "goal", "ramp", "support", "road")
"""Segmentation labels that are scenery, not objects (the scenes' floors, tables, props and goal marks)."""


def seg_key_of(store: TrajectoryStore, key: str = "rgb") -> str:
    """The segmentation map key under image ``key``: ``maps/<camera>/seg`` of the camera the key shows (a
    camera's own key, or the env's first camera, its observation camera, for ``rgb``)."""
    cams = list(store.attrs.get("cameras", {}))
    cam = key if key in cams else (cams[0] if key == "rgb" and cams else None)
    seg = f"maps/{cam}/seg"
    if cam is None or seg not in store.key_info():
        raise ValueError(
            f"--object-weight needs the segmentation map under {key!r} in {store.path}, but the store "
            f"has no {seg!r}; record it with `cosmos-sim generate ... --maps seg` or use "
            "--object-weight 1"
        )
    return seg


def object_ids(store: TrajectoryStore, static_labels: tuple[str, ...] = STATIC_LABELS) -> np.ndarray:
    """Segmentation ids of the store's objects: every recorded label that is not scenery."""
    labels = store.attrs.get("segmentation_labels", {})
    return np.array([int(i) for i, name in labels.items() if name not in static_labels], dtype=np.int32)


def object_masks(
    store: TrajectoryStore,
    key: str = "rgb",
    static_labels: tuple[str, ...] = STATIC_LABELS,
    start: int = 0,
    stop: int | None = None,
) -> np.ndarray:
    """``(N, H, W)`` bool: the object pixels of rows ``start:stop`` under image ``key``."""
    stop = store.n_steps if stop is None else stop
    return np.isin(store.read(seg_key_of(store, key), start, stop), object_ids(store, static_labels))


def grow(masks: np.ndarray, pixels: int = 1) -> np.ndarray:
    """Masks ``(..., H, W)`` dilated by a ``(2 * pixels + 1)`` square (edges carry most of the error)."""
    out = np.asarray(masks, dtype=bool)
    for _ in range(pixels):
        v = out.copy()
        v[..., 1:, :] |= out[..., :-1, :]
        v[..., :-1, :] |= out[..., 1:, :]
        out = v.copy()
        out[..., :, 1:] |= v[..., :, :-1]
        out[..., :, :-1] |= v[..., :, 1:]
    return out


def cell_weights(masks: np.ndarray, cell: int, object_weight: float) -> np.ndarray:
    """``(N, H, W)`` bool masks -> ``(N, H/cell, W/cell)`` float32 loss weights of latent cells:
    ``object_weight`` where a cell holds any (grown) object pixel, 1 elsewhere."""
    n, h, w = masks.shape
    hit = grow(masks).reshape(n, h // cell, cell, w // cell, cell).any(axis=(2, 4))
    return np.where(hit, np.float32(object_weight), np.float32(1.0))


__all__ = ["STATIC_LABELS", "cell_weights", "grow", "object_ids", "object_masks", "seg_key_of"]
