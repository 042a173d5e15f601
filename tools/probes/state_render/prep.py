"""Probe: packs whose actions end with the hand's and the block's next positions (latent cells; the hand's height
normalised), the init bundle.

``PROBE_LAYOUT=2``: mapdit's layout 2 (elbow, wrist, hand angles, fingers; the arm states of ``replay_arm.py`` in
``$PROBE_WORK/arm_<name>.npy``). ``PROBE_INIT=DIR``: the bundle to extend (default ``manip-dit16r-nano``). Each
pack's tail is also saved alone (``tail<layout>_<name>.npy``, for ``tools/gpu/with_tail.py``)."""

import dataclasses
import os

os.environ.setdefault("MUJOCO_GL", "egl")
import sys

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mapdit  # patches the DiT; tail() builds the entries

sys.path.insert(0, "tools/gpu")
from with_tail import with_tail

import cosmos_sim  # noqa
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.envs.base import project
from cosmos_sim.world_models.wfm import WorldModel

WORK = os.environ.get("PROBE_WORK", "runs/state_render")  # scratch: packs, runs, the state model
names = {
    "train_noisy": "data/wfm16/train_noisy.zarr",
    "train_manip_expert": "data/tok16/train_manip_expert.zarr",
    "train_manip_random": "data/tok16/train_manip_random.zarr",
}
# PROBE_EXTRA="name:store.zarr,...": more stores, packed the same way (their arms in $PROBE_WORK/arm_<name>.npy; the
# height normalisation stays that of the three stores above)
more = dict(x.split(":", 1) for x in os.environ.get("PROBE_EXTRA", "").split(",") if x)
env = gym.make("cosmos_sim/Manipulation-GT-v0", width=64, height=64).unwrapped
env.reset(seed=0)
cam = env.camera_params("front")
K, E = cam.intrinsics, cam.extrinsics
LAYOUT = int(os.environ.get("PROBE_LAYOUT", "1"))
COLS = slice(None) if LAYOUT == 2 else slice(0, 3)  # replay_arm.py's entries: layout 1 reads the grip point's
grips = {k: np.load(f"{WORK}/arm_{k}.npy")[:, COLS] for k in names}
cam = {"K": K, "E": E}
for col, key in ((2, ""), (5, "_elbow"), (8, "_wrist"))[: 3 if LAYOUT == 2 else 1]:
    z = np.concatenate([g[:, col] for g in grips.values()])
    cam["z_mid" + key] = float(np.percentile(z, 50))
    cam["z_half" + key] = float(np.percentile(z, 95) - np.percentile(z, 5)) / 2
    print(f"height{key}: mid", cam["z_mid" + key], "half range", cam["z_half" + key])
np.savez(f"{WORK}/cam{'' if LAYOUT == 1 else LAYOUT}.npz", **cam)


TAIL_NAMES = ("hand_u", "hand_v", "hand_h", "block_u", "block_v")
if LAYOUT == 2:
    TAIL_NAMES += ("elbow_u", "elbow_v", "elbow_h", "wrist_u", "wrist_v", "wrist_h")
    TAIL_NAMES += ("ee_roll", "ee_pitch", "ee_cos2yaw", "ee_sin2yaw", "finger")


def nxt(a, ends):
    n = np.concatenate([a[1:], a[-1:]])
    last = np.zeros(len(a), bool)
    last[ends - 1] = True
    n[last] = a[last]
    return n


for k, p in {**names, **more}.items():
    s = TrajectoryStore.open(p)
    ends = s.episode_ends
    grip = grips[k] if k in grips else np.load(f"{WORK}/arm_{k}.npy")[:, COLS]
    blk = s.read("objects/red_block/pos", 0, s.n_steps)
    if k == "train_manip_expert":  # check: the projected block sits on the red pixels of the frame
        rgb = s.read("rgb", 0, 50)
        uv = project(blk[:50], K, E)[:, :2]
        red = (rgb[..., 0] > 150) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
        errs = [
            np.hypot(*(np.argwhere(r)[:, ::-1].mean(0) + 0.5 - u))
            for r, u in zip(red, uv, strict=True)
            if r.sum() > 3
        ]
        print("projection vs red centroid, px: median", np.median(errs), "max", np.max(errs))
    if LAYOUT == 2:
        extra = mapdit.tail2(nxt(np.concatenate([grip, blk[:, :2]], 1), ends), nxt(blk, ends)[:, 2], cam)
    else:
        extra = mapdit.tail(nxt(grip, ends), nxt(blk, ends), cam)
    np.save(f"{WORK}/tail{LAYOUT}_{k}.npy", extra)
    with_tail(f".gpu/manip/{k}.npz", extra, TAIL_NAMES, f"{WORK}/{k}.npz")
    print(k, extra.shape, "extra range", extra.min(0), extra.max(0))
wm = WorldModel.from_pretrained(os.environ.get("PROBE_INIT", "assets/wfm/manip-dit16r-nano"))
cfg = wm.config
n = 7 + len(TAIL_NAMES)
new = dataclasses.replace(
    cfg,
    dynamics=dataclasses.replace(cfg.dynamics, action_dim=n),
    head=dataclasses.replace(cfg.head, action_dim=n),
    action_layout=tuple(cfg.action_layout[:7]) + TAIL_NAMES,
)
nw = WorldModel(new, wm.tokenizer)
for part in ("dynamics", "head"):
    old = getattr(wm, part).state_dict()
    mine = getattr(nw, part).state_dict()
    for key, v in mine.items():
        if key not in old:
            print("new", part, key, tuple(v.shape))
            continue  # map_in: zero-initialised
        o = old[key].to(v.dtype)
        if o.shape == v.shape:
            mine[key] = o
        else:
            w = torch.zeros_like(v)
            w[:, : o.shape[1]] = o
            mine[key] = w
            print("extended", part, key)
    getattr(nw, part).load_state_dict(mine)
nw.save_pretrained(
    f"{WORK}/init{'' if LAYOUT == 1 else LAYOUT}", tokenizer_dir="assets/tokenizers/cv4x4x4-nano", dtype=None
)
print("init saved")
