"""Control maps derived from RGB (Canny edges, blur) and the names every GT env uses.

Depth and segmentation come from the renderers (MuJoCo, PyBullet); the maps here are computed
from the RGB frame the same way for every engine, so a Transfer model sees one convention.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Every control map a GT env can return, per camera and per step.
MAP_NAMES: tuple[str, ...] = ("depth", "seg", "edges", "blur")


def canny_edges(rgb: np.ndarray, low: int = 50, high: int = 150) -> np.ndarray:
    """Canny edges of an HxWx3 uint8 frame: HxW uint8 in {0, 255}."""
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return cv2.Canny(gray, low, high)


def blurred(rgb: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Gaussian-blurred RGB (the 'blur' control of Cosmos-Transfer), same shape and dtype."""
    return cv2.GaussianBlur(np.ascontiguousarray(rgb), (0, 0), sigmaX=sigma)


def parse_maps(maps: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """Normalise a map selection ("depth,seg" or a sequence) and refuse unknown names."""
    if maps is None or maps == "" or maps == ():
        return ()
    names = [m.strip() for m in maps.split(",")] if isinstance(maps, str) else [str(m) for m in maps]
    unknown = [m for m in names if m not in MAP_NAMES]
    if unknown:
        raise ValueError(f"unknown control map(s) {unknown}; choose from {list(MAP_NAMES)}")
    return tuple(dict.fromkeys(names))


def derived_maps(rgb: np.ndarray, maps: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The RGB-derived maps (edges, blur) among ``maps``."""
    out: dict[str, np.ndarray] = {}
    if "edges" in maps:
        out["edges"] = canny_edges(rgb)
    if "blur" in maps:
        out["blur"] = blurred(rgb)
    return out
