"""Body maps: where a MuJoCo env's bodies are, drawn as images a DiT reads (a renderer of state for your own env).

The frame-to-frame world model of a bring-your-own env drifts like the others (the arm is lost within a few
steps). A *renderer of state* cannot drift: its context is always the episode's first frame, and where things
are in the frame it draws comes only from the env's MuJoCo state (``qpos``, stepped by a ``ProprioModel``),
turned into body positions by the env's own kinematics (``mj_kinematics``: the robot's geometry is known, its
dynamics are learnt) and drawn on the latent grid through the env's render camera: one map per body (a
Gaussian at its projected origin) and one per link (a Gaussian of the distance to the segment between a body
and its drawn parent), added to the DiT's input tokens through a zero-initialised projection
(``DiTConfig.state_bodies``). The state reaches the DiT as the last ``2 x bodies`` entries of its action vector
(``BodyMaps.tail``: each body's latent-cell u, v). ``world_models/state_maps.py`` is the same idea with a
hand-picked layout for the manipulation scene.

    maps = BodyMaps.for_env(env, cell=4)            # a Gymnasium MuJoCo env that renders rgb_array
    tail = maps.tail(maps.positions(model, qpos))   # (N, nq) -> (N, 2 x len(maps.bodies))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
import torch

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.state_maps import grid, point_map, segment_maps

FILE = "body_maps.json"  # the bodies and the camera, beside a bundle's weights
STATE_DIR = "state"  # the bundle's state model (a ProprioModel of qpos and qvel)


@dataclass(frozen=True)
class BodyMaps:
    """The bodies a renderer of state draws and the camera it draws them in."""

    bodies: tuple[str, ...]
    """Names of the drawn bodies (every body but the world's that carries a geom)."""
    parents: tuple[int, ...]
    """Per body, the index of its nearest drawn ancestor in ``bodies`` (-1: none): the links drawn."""
    intrinsics: tuple
    """3x3 pinhole matrix of the render camera, pixels."""
    extrinsics: tuple
    """4x4 world-to-camera transform (OpenCV frame) of the render camera."""
    cell: int = 4
    """Pixels per latent cell (the tokenizer's spatial compression)."""

    def __post_init__(self):
        object.__setattr__(self, "bodies", tuple(self.bodies))
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        for name in ("intrinsics", "extrinsics"):  # nested tuples of floats, as JSON lists come back
            object.__setattr__(self, name, tuple(tuple(float(v) for v in row) for row in getattr(self, name)))
        if not self.bodies or len(self.parents) != len(self.bodies):
            raise ConfigError(
                f"need one parent per body, got {len(self.bodies)} bodies, {len(self.parents)} parents"
            )
        check_parents(self.parents)

    @classmethod
    def for_env(cls, env, cell: int = 4) -> BodyMaps:
        """The bodies of a Gymnasium MuJoCo env (``env.unwrapped`` has ``model``, ``data``, ``render()``) and its
        render camera, read from the scene of one render. The camera must stay put: a free camera needs a fixed
        ``lookat`` in ``default_camera_config``, and one that follows the bodies (tracking) is refused (checked
        by rendering the env once more at another ``qpos``, then restoring its state)."""
        env = env.unwrapped
        m = getattr(env, "model", None)
        gym_mujoco = isinstance(m, mujoco.MjModel) and hasattr(env, "mujoco_renderer")
        if not gym_mujoco or getattr(env, "render_mode", None) != "rgb_array":
            raise ConfigError(
                f"{type(env).__name__} is not a Gymnasium MuJoCo env that renders rgb_array: a renderer of state "
                "needs the env's MuJoCo model (env.unwrapped.model) and its render camera (env.unwrapped.mujoco_renderer)"
            )
        renderer = env.mujoco_renderer
        free = getattr(renderer, "camera_id", None) in (None, -1)  # MuJoCo's free camera, not a model camera
        if free and "lookat" not in (renderer.default_cam_config or {}):
            raise ConfigError(
                f"{type(env).__name__} renders from MuJoCo's free camera without a fixed look-at point, which aims "
                "at where the geoms are at its first render (the same seed renders differently in a fresh env): pass "
                "default_camera_config={..., 'lookat': [x, y, z]} in the env kwargs"
            )
        k, e = _render_camera(env)
        d = env.data
        saved = d.qpos.copy(), d.qvel.copy()
        d.qpos[:] += np.random.default_rng(0).uniform(
            -0.5, 0.5, d.qpos.shape
        )  # the camera must not follow it
        mujoco.mj_forward(m, d)
        moved = not np.allclose(_render_camera(env)[1], e, atol=1e-6)
        d.qpos[:], d.qvel[:] = saved
        mujoco.mj_forward(m, d)
        if moved:
            raise ConfigError(
                f"{type(env).__name__}'s render camera follows its bodies: a renderer of state draws the bodies in a "
                "camera fixed in the world; pass a fixed one (default_camera_config with a 'lookat', or a world camera)"
            )
        drawn = [b for b in range(1, m.nbody) if m.body_geomnum[b] > 0]
        parents = []
        for b in drawn:
            p = int(m.body_parentid[b])
            while p != 0 and p not in drawn:
                p = int(m.body_parentid[p])
            parents.append(drawn.index(p) if p in drawn else -1)
        names = tuple(mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b) or f"body{b}" for b in drawn)
        return cls(names, tuple(parents), k, tuple(map(tuple, e)), cell)

    @classmethod
    def load(cls, directory: str | Path) -> BodyMaps:
        """Read ``directory/body_maps.json`` (``save``)."""
        path = Path(directory) / FILE
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise ConfigError(
                f"{path} is missing: a renderer of a MuJoCo env's state keeps its bodies there"
            ) from None

    def save(self, directory: str | Path) -> None:
        d = {k: getattr(self, k) for k in ("bodies", "parents", "intrinsics", "extrinsics", "cell")}
        (Path(directory) / FILE).write_text(json.dumps(d, indent=1))

    @property
    def tail_names(self) -> tuple[str, ...]:
        """The action entries the DiT reads the bodies from."""
        return tuple(f"{b}_{c}" for b in self.bodies for c in ("u", "v"))

    def positions(
        self, model: mujoco.MjModel, qpos: np.ndarray, scratch: mujoco.MjData | None = None
    ) -> np.ndarray:
        """Joint positions (N, nq) -> world positions of the drawn bodies (N, bodies, 3), by the model's
        kinematics in ``scratch`` (a new ``MjData`` when None; never the env's own: it is left alone)."""
        q = np.asarray(qpos, np.float64)
        if q.ndim != 2 or q.shape[1] != model.nq:
            raise ConfigError(f"qpos must be (N, {model.nq}), got {q.shape}")
        ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, b) for b in self.bodies]
        if min(ids) < 0:
            raise ConfigError(f"bodies {self.bodies} are not all in the model")
        data, out = scratch or mujoco.MjData(model), np.zeros((len(q), len(ids), 3))
        for i, row in enumerate(q):
            data.qpos[:] = row
            mujoco.mj_kinematics(model, data)
            out[i] = data.xpos[ids]
        return out

    def tail(self, positions: np.ndarray) -> np.ndarray:
        """World positions (N, bodies, 3) -> latent-cell u, v per body (N, 2 x bodies) float32 (the first
        cell's centre at 0)."""
        p = np.asarray(positions, np.float64)
        k, e = np.asarray(self.intrinsics), np.asarray(self.extrinsics)
        cam = p @ e[:3, :3].T + e[:3, 3]
        uv = cam @ k.T
        cells = uv[..., :2] / np.maximum(uv[..., 2:3], 1e-6) / self.cell - 0.5
        return cells.reshape(len(p), -1).astype(np.float32)


def _render_camera(env) -> tuple[tuple, np.ndarray]:
    """Intrinsics (3x3 tuples) and world-to-camera extrinsics (4x4, OpenCV axes) of one render of the env."""
    env.render()
    viewer = env.mujoco_renderer._get_viewer("rgb_array")
    cam = mujoco.mjv_averageCamera(viewer.scn.camera[0], viewer.scn.camera[1])  # mono: between the eyes
    h, w = viewer.viewport.height, viewer.viewport.width
    fwd, up = np.asarray(cam.forward, float), np.asarray(cam.up, float)
    rot = np.column_stack([np.cross(fwd, up), -up, fwd])  # camera-to-world, OpenCV axes
    e = np.eye(4)
    e[:3, :3], e[:3, 3] = rot.T, -rot.T @ np.asarray(cam.pos, float)
    f = 0.5 * h * cam.frustum_near / cam.frustum_top
    return ((f, 0.0, w / 2), (0.0, f, h / 2), (0.0, 0.0, 1.0)), e


def check_parents(parents: tuple[int, ...]) -> None:
    """Each parent is -1 or an earlier body (bodies come in MuJoCo's tree order)."""
    for i, p in enumerate(parents):
        if not -1 <= p < i:
            raise ConfigError(
                f"state_bodies: body {i}'s parent must be -1 or an earlier body's index, got {p}"
            )


def n_maps(parents: tuple[int, ...]) -> int:
    """One map per body and one per link."""
    return len(parents) + sum(p >= 0 for p in parents)


def draw(tail: torch.Tensor, parents: tuple[int, ...], latent_size: tuple[int, int]) -> torch.Tensor:
    """Tail entries (B, 2 x bodies) -> the maps (B, n_maps, h, w): each body's Gaussian, then each link's."""
    t = tail.float()
    xs, ys = grid(latent_size, t)
    uv = t.reshape(len(t), len(parents), 2)
    maps = [point_map(uv[:, i], xs, ys) for i in range(len(parents))]
    zero = torch.zeros_like(uv[:, 0, :1])
    for i, p in enumerate(parents):
        if p >= 0:  # segment_maps takes (u, v, height); bodies have no height channel
            a, b = torch.cat([uv[:, p], zero], 1), torch.cat([uv[:, i], zero], 1)
            maps.append(segment_maps(a, b, xs, ys)[0])
    return torch.stack(maps, 1)


__all__ = ["FILE", "STATE_DIR", "BodyMaps", "check_parents", "draw", "n_maps"]
