"""Probe: packs whose actions end with the hand's and the block's next positions (latent cells; the hand's height
normalised), the init bundle."""

import dataclasses
import json
import os

os.environ.setdefault("MUJOCO_GL", "egl")
import sys

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mapdit  # patches the DiT; tail() builds the entries

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
# PROBE_EXTRA="name:store.zarr,...": more stores, packed the same way (their grips in $PROBE_WORK/grip_<name>.npy; the
# height normalisation stays that of the three stores above)
more = dict(x.split(":", 1) for x in os.environ.get("PROBE_EXTRA", "").split(",") if x)
env = gym.make("cosmos_sim/Manipulation-GT-v0", width=64, height=64).unwrapped
env.reset(seed=0)
cam = env.camera_params("front")
K, E = cam.intrinsics, cam.extrinsics
grips = {k: np.load(f"{WORK}/grip_{k}.npy") for k in names}
z = np.concatenate([g[:, 2] for g in grips.values()])
z_mid, z_half = float(np.percentile(z, 50)), float(np.percentile(z, 95) - np.percentile(z, 5)) / 2
cam = {"K": K, "E": E, "z_mid": z_mid, "z_half": z_half}
np.savez(f"{WORK}/cam.npz", **cam)
print("hand height: mid", z_mid, "half range", z_half)


def nxt(a, ends):
    n = np.concatenate([a[1:], a[-1:]])
    last = np.zeros(len(a), bool)
    last[ends - 1] = True
    n[last] = a[last]
    return n


for k, p in {**names, **more}.items():
    s = TrajectoryStore.open(p)
    ends = s.episode_ends
    grip = grips[k] if k in grips else np.load(f"{WORK}/grip_{k}.npy")
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
    extra = mapdit.tail(nxt(grip, ends), nxt(blk, ends), cam)
    pk = dict(np.load(f".gpu/manip/{k}.npz"))
    pk["action"] = np.concatenate([pk["action"], extra], 1).astype(np.float32)
    info = json.loads(bytes(pk["env_info"]).decode())
    info["action_layout"] = info["action_layout"] + ["hand_u", "hand_v", "hand_h", "block_u", "block_v"]
    pk["env_info"] = np.frombuffer(json.dumps(info).encode(), dtype=np.uint8)
    np.savez(f"{WORK}/{k}.npz", **pk)
    print(k, pk["action"].shape, "extra range", extra.min(0), extra.max(0))
wm = WorldModel.from_pretrained("assets/wfm/manip-dit16r-nano")
cfg = wm.config
n = cfg.dynamics.action_dim + 5
new = dataclasses.replace(
    cfg,
    dynamics=dataclasses.replace(cfg.dynamics, action_dim=n),
    head=dataclasses.replace(cfg.head, action_dim=n),
    action_layout=tuple(cfg.action_layout) + ("hand_u", "hand_v", "hand_h", "block_u", "block_v"),
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
nw.save_pretrained(f"{WORK}/init", tokenizer_dir="assets/tokenizers/cv4x4x4-nano", dtype=None)
print("init saved")
