"""State maps: where the arm, the hand and the block are, drawn as images a DiT reads (a renderer of state).

A world model that rolls its own frames forward drifts: the arm lags and the pushed block is left where it was.
A *renderer of state* cannot drift: its context is always the episode's first frame, and where things are at
the frame it draws comes only from a state (stepped by a ``ProprioModel``) drawn as seven maps on the latent grid
(``DiTConfig.state_maps``), added to the DiT's input tokens through a zero-initialised projection:

    hand       a Gaussian at the grip point's projection, and the same times its normalised height
    block      a Gaussian at the red block's projection
    forearm    a Gaussian of the distance to the elbow-wrist segment, and the same times the height along it
    hand link  the same for the wrist-grip segment (the elbow is mostly outside the view, the forearm is not)

The state reaches the DiT as the last ``len(TAIL)`` entries of its action vector (``tail``): the map coordinates
(latent cells, heights normalised) and five scalars the action embedding sees (roll, pitch, the yaw as cos/sin of
twice it, since the two fingers look the same turned by half a turn, and the finger opening).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cosmos_sim.errors import ConfigError

#: The state a renderer of state is driven by (a ``ProprioModel``'s names): grip point, elbow, wrist (world xyz,
#: metres), the commanded gripper roll, pitch, yaw (rad), the finger opening (m), the red block's x, y.
STATE = ("ee_x", "ee_y", "ee_z", "elbow_x", "elbow_y", "elbow_z", "wrist_x", "wrist_y", "wrist_z")
STATE += ("ee_roll", "ee_pitch", "ee_yaw", "gripper_opening", "red_block_x", "red_block_y")
#: The action entries the DiT reads them from (after the env's own actions).
TAIL = ("hand_u", "hand_v", "hand_h", "block_u", "block_v", "elbow_u", "elbow_v", "elbow_h")
TAIL += ("wrist_u", "wrist_v", "wrist_h", "ee_roll", "ee_pitch", "ee_cos2yaw", "ee_sin2yaw", "finger")
N_COORD = 11  # the first N_COORD tail entries are map coordinates, hidden from the action embedding
N_MAPS = 7
SIGMA = 0.6  # Gaussian width, latent cells


@dataclass(frozen=True)
class StateCamera:
    """The front camera the maps are drawn in and the height normalisation of the three arm points."""

    intrinsics: tuple
    """3x3 pinhole matrix in pixels."""
    extrinsics: tuple
    """4x4 world-to-camera transform (OpenCV frame)."""
    heights: tuple[tuple[float, float], ...]
    """(middle, half range) of the grip point's, the elbow's and the wrist's height in the training data, metres."""
    cell: int = 4
    """Pixels per latent cell (the tokenizer's spatial compression)."""

    @classmethod
    def load(cls, path: str | Path) -> StateCamera:
        """Read ``state_camera.json`` (``save``)."""
        try:
            d = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(
                f"{path} is missing: a renderer-of-state bundle keeps its camera there"
            ) from None
        return cls(
            tuple(map(tuple, d["intrinsics"])),
            tuple(map(tuple, d["extrinsics"])),
            tuple(map(tuple, d["heights"])),
            d["cell"],
        )

    def save(self, path: str | Path) -> None:
        d = {"intrinsics": self.intrinsics, "extrinsics": self.extrinsics, "heights": self.heights}
        Path(path).write_text(json.dumps({**d, "cell": self.cell}, indent=1))

    def cells(self, xyz: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> latent-cell coordinates (N, 2), the first cell's centre at 0."""
        k, e = np.asarray(self.intrinsics), np.asarray(self.extrinsics)
        cam = (e[:3, :3] @ np.asarray(xyz, np.float64).T + e[:3, 3:4]).T
        uv = (k @ cam.T).T
        return uv[:, :2] / uv[:, 2:3] / self.cell - 0.5


def tail(state: np.ndarray, block_z, camera: StateCamera) -> np.ndarray:
    """States (N, len(STATE)) and the block's height(s) (N,) or one -> the DiT's tail entries (N, len(TAIL))."""
    s = np.asarray(state, np.float64)
    if s.ndim != 2 or s.shape[1] != len(STATE):
        raise ConfigError(f"states must be (N, {len(STATE)}) in the order {STATE}, got {s.shape}")
    bz = np.broadcast_to(np.reshape(np.asarray(block_z, np.float64), (-1, 1)), (len(s), 1))
    out = []
    for i, (mid, half) in zip((0, 3, 6), camera.heights, strict=True):
        out += [camera.cells(s[:, i : i + 3]), (s[:, i + 2 : i + 3] - mid) / half]
        if i == 0:
            out.append(camera.cells(np.concatenate([s[:, 13:15], bz], 1)))
    yaw2 = 2 * s[:, 11:12]
    out += [s[:, 9:11] / 0.3, np.cos(yaw2), np.sin(yaw2), s[:, 12:13] / 0.04 - 1.0]
    return np.concatenate(out, 1).astype(np.float32)


def grid(latent_size, like: torch.Tensor):
    """The latent grid's column and row coordinates, broadcastable to (h, w)."""
    h, w = latent_size
    ys = torch.arange(h, device=like.device, dtype=like.dtype)[:, None]
    xs = torch.arange(w, device=like.device, dtype=like.dtype)[None, :]
    return xs, ys


def point_map(uv: torch.Tensor, xs, ys) -> torch.Tensor:
    """Gaussian at the latent-cell coordinates uv (B, 2) on the grid ``grid`` gives."""
    u, v = uv[:, 0, None, None], uv[:, 1, None, None]
    return torch.exp(-((xs - u) ** 2 + (ys - v) ** 2) / (2 * SIGMA**2))


def segment_maps(a: torch.Tensor, b: torch.Tensor, xs, ys) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian of the distance to the segment a-b ((B, 3): u, v, height) and the same times the height along it."""
    a_, d_ = a[:, :, None, None], (b - a)[:, :, None, None]
    t = ((xs - a_[:, 0]) * d_[:, 0] + (ys - a_[:, 1]) * d_[:, 1]) / (d_[:, 0] ** 2 + d_[:, 1] ** 2 + 1e-6)
    t = t.clamp(0.0, 1.0)
    g = torch.exp(
        -((xs - a_[:, 0] - t * d_[:, 0]) ** 2 + (ys - a_[:, 1] - t * d_[:, 1]) ** 2) / (2 * SIGMA**2)
    )
    return g, g * (a_[:, 2] + t * d_[:, 2])


def draw(tail: torch.Tensor, latent_size: tuple[int, int]) -> torch.Tensor:
    """Tail entries (B, len(TAIL)) -> the N_MAPS maps (B, N_MAPS, h, w) (module docstring)."""
    t = tail.float()
    xs, ys = grid(latent_size, t)
    hand = point_map(t[:, 0:2], xs, ys)
    hand_pt, elbow, wrist = t[:, 0:3], t[:, 5:8], t[:, 8:11]
    forearm, link = segment_maps(elbow, wrist, xs, ys), segment_maps(wrist, hand_pt, xs, ys)
    return torch.stack([hand, hand * t[:, 2, None, None], point_map(t[:, 3:5], xs, ys), *forearm, *link], 1)


__all__ = [
    "N_COORD",
    "N_MAPS",
    "STATE",
    "TAIL",
    "StateCamera",
    "draw",
    "grid",
    "point_map",
    "segment_maps",
    "tail",
]
