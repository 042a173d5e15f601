"""Probe (issue 15, session 16): Reacher-v5 as a renderer of state. Packs the bench's stores with the package's
state-map tail (``world_models/state_maps.py``) of each row's NEXT state drawn in the render camera: the fingertip
as the hand, the target as the block, the arm's root and elbow as the "elbow" and "wrist" (heights 0: planar).

    python tools/probes/byo_state/prep.py BYO_WORK OUT_DIR [MORE.zarr ...]

BYO_WORK: a ``bench byo-env`` work dir (train.zarr, val.zarr, tok, wfm). Writes OUT_DIR/{train,val,<MORE's stem>}.npz
(``tools/gpu/pack.py``'s format), OUT_DIR/camera.json, OUT_DIR/overlay.png (projections on frames) and
OUT_DIR/init (the bench's world model with ``state_maps``; session 16's run extended the action layers with zeros,
now they start fresh).

Superseded by the package path (``train-wfm --render-from-state``, ``world_models/body_maps.py``), which draws one
map per body and link instead of this probe's borrowed manipulation layout; kept for its figures (README of
the folder)."""

import dataclasses
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
import gymnasium as gym
import mujoco
import numpy as np

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.envs.base import extrinsics_from_gl_pose, intrinsics_from_fovy
from cosmos_sim.train.wfm import load_matching, store_env_info
from cosmos_sim.world_models import state_maps as SM
from cosmos_sim.world_models.wfm import WorldModel

BODIES = ("fingertip", "target", "body0", "body1")


def reacher_camera(env_kwargs, size):
    env = gym.make("Reacher-v5", render_mode="rgb_array", width=size, height=size, **env_kwargs)
    env.reset(seed=0)
    env.render()
    scn = env.unwrapped.mujoco_renderer._get_viewer("rgb_array").scn
    c = mujoco.mjv_averageCamera(scn.camera[0], scn.camera[1])  # mono rendering: between the two eyes
    fwd, up = np.asarray(c.forward, float), np.asarray(c.up, float)
    right = np.cross(fwd, up)
    rot = np.column_stack([right, up, -fwd])
    fovy = 2 * np.degrees(np.arctan(c.frustum_top / c.frustum_near))
    k, e = intrinsics_from_fovy(fovy, size, size), extrinsics_from_gl_pose(np.asarray(c.pos, float), rot)
    return env.unwrapped, k, e


def positions(env, state):
    """Reacher observations (N, 10) -> world positions of BODIES (N, 4, 3) by forward kinematics."""
    m, d = env.model, mujoco.MjData(env.model)
    ids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, b) for b in BODIES]
    out = np.zeros((len(state), len(BODIES), 3))
    for i, s in enumerate(state):
        d.qpos[:] = [np.arctan2(s[2], s[0]), np.arctan2(s[3], s[1]), s[4], s[5]]
        mujoco.mj_kinematics(m, d)
        out[i] = d.xpos[ids]
    return out


def tail_of(pos, camera):
    """Positions (N, 4, 3) -> the state-map tail (N, 16)."""
    n = len(pos)
    z = np.zeros((n, 1))
    cells = [camera.cells(pos[:, j]) for j in range(4)]  # fingertip, target, root, elbow
    return np.concatenate([cells[0], z, cells[1], cells[2], z, cells[3], z, np.zeros((n, 5))], 1).astype(
        np.float32
    )


def nxt(a, ends):
    n = np.concatenate([a[1:], a[-1:]])
    last = np.zeros(len(a), bool)
    last[np.asarray(ends) - 1] = True
    n[last] = a[last]
    return n


def main(work, out, *more):
    work, out = Path(work), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train = TrajectoryStore.open(work / "train.zarr")
    env_kwargs = dict(train.attrs["config"]["env_kwargs"])
    size = int(train.attrs["config"]["resolution"][0])
    env, k, e = reacher_camera(env_kwargs, size)
    camera = SM.StateCamera(tuple(map(tuple, k)), tuple(map(tuple, e)), ((0.0, 1.0),) * 3, 4)
    camera.save(out / "camera.json")
    stores = {"train": work / "train.zarr", "val": work / "val.zarr"} | {Path(m).stem: Path(m) for m in more}
    for name, path in stores.items():
        s = TrajectoryStore.open(path)
        n, ends = s.n_steps, np.asarray(s.episode_ends)
        pos = positions(env, s.read("state", 0, n))
        rgb = s.read("rgb", 0, n)
        if name == "val":  # overlay: fingertip red, target green, root blue, elbow yellow
            tiles = []
            for r in range(0, 8 * 17, 17):
                img = np.kron(rgb[r], np.ones((4, 4, 1), np.uint8)).copy()
                for j, col in enumerate(((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0))):
                    u, v = (camera.cells(pos[r : r + 1, j])[0] + 0.5) * 4 * 4
                    img[max(int(v) - 2, 0) : int(v) + 2, max(int(u) - 2, 0) : int(u) + 2] = col
                tiles.append(img)
            import imageio.v3 as iio

            iio.imwrite(out / "overlay.png", np.concatenate(tiles, 1))
        tail = nxt(tail_of(pos, camera), ends)
        np.save(out / f"pos_{name}.npy", pos.astype(np.float32))
        act = s.read("action", 0, n).astype(np.float32)
        info = store_env_info(str(path))
        info["action_layout"] = list(info["action_layout"]) + list(SM.TAIL)
        np.savez(
            out / f"{name}.npz",
            rgb=rgb,
            weights=np.ones((n, size // 4, size // 4), np.uint8),
            action=np.concatenate([act, tail], 1),
            reward=s.read("reward", 0, n).astype(np.float32),
            success=np.zeros(n, bool),
            ends=ends,
            env_info=np.frombuffer(json.dumps(info).encode(), dtype=np.uint8),
        )
        print(name, n, "rows; tail range", tail.min(0)[:11].round(1), tail.max(0)[:11].round(1), flush=True)
    wm = WorldModel.from_pretrained(work / "wfm" / "best")
    cfg = wm.config
    a = cfg.dynamics.action_dim + len(SM.TAIL)
    new = dataclasses.replace(
        cfg,
        dynamics=dataclasses.replace(cfg.dynamics, action_dim=a, state_maps=True),
        head=dataclasses.replace(cfg.head, action_dim=a),
        action_layout=tuple(cfg.action_layout) + SM.TAIL,
    )
    nw = WorldModel(new, wm.tokenizer)
    for part in ("dynamics", "head"):  # the action layers (another size) start fresh, map_in at zero
        print("fresh", part, load_matching(nw, wm, part))
    nw.save_pretrained(out / "init", tokenizer_dir=str(work / "tok" / "best"), dtype=None)
    print("init saved")


if __name__ == "__main__":
    main(*sys.argv[1:])
