"""Probe eval: the Reacher renderer of state over 16 open-loop steps of a store's episodes, every step drawn from the
first frame; positions from the recorded state (oracle) or the dynamics MLP stepped from the first state (pred).
PSNR per step against the recorded frames, beside copy-last (the first frame held).

    python tools/probes/byo_state/evaluate.py MODEL STORE.zarr PREP_DIR oracle|pred [DYN.pt] [OUT.png]"""

import os
import sys

import numpy as np
import torch

os.environ.setdefault("MUJOCO_GL", "egl")
torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "state_render"))
sys.path.insert(0, HERE)  # first: both folders have a prep.py
from dynamics import Dyn, joint_state, rollout
from fc_rollout import render_loop
from prep import positions, reacher_camera, tail_of

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.world_models import state_maps as SM
from cosmos_sim.world_models.wfm import WorldModel

STEPS = 16


def psnr(a, b):
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(-1, -2, -3))
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))


def main(model, store, prep, mode, dyn=None, out_png=None):
    wm = WorldModel.from_pretrained(model)
    wm.eval()
    s = TrajectoryStore.open(store)
    camera = SM.StateCamera.load(f"{prep}/camera.json")
    env, _, _ = reacher_camera(dict(s.attrs["config"]["env_kwargs"]), 64)
    starts = np.concatenate([[0], s.episode_ends[:-1]])
    frames = np.stack([s.read("rgb", a, a + STEPS + 1) for a in starts])
    acts = np.stack([s.read("action", a, a + STEPS) for a in starts]).astype(np.float32)
    obs = np.stack([s.read("state", a, a + STEPS + 1) for a in starts])
    tails = []
    for i in range(len(starts)):
        o = obs[i, 1:].copy()
        if mode == "pred":
            m = Dyn()
            m.load_state_dict(torch.load(dyn))
            js = rollout(m, joint_state(obs[i, :1])[0].astype(np.float32), acts[i])
            o[:, 0], o[:, 1], o[:, 2], o[:, 3] = (
                np.cos(js[:, 0]),
                np.cos(js[:, 1]),
                np.sin(js[:, 0]),
                np.sin(js[:, 1]),
            )
            o[:, 4:6] = obs[i, 0, 4:6]  # the target does not move
        tails.append(tail_of(positions(env, o), camera))
    full = np.concatenate([acts, np.asarray(tails)], -1)
    pred = render_loop(wm, frames[:, 0], full)
    p = psnr(pred, frames[:, 1:])
    c = psnr(np.repeat(frames[:, :1], STEPS, 1), frames[:, 1:])
    print(
        f"{mode}: model {p.mean():.2f} dB, copy-last {c.mean():.2f} dB, gain {p.mean() - c.mean():+.2f}; "
        f"per step model {np.round(p.mean(0), 1).tolist()}",
        flush=True,
    )
    if out_png:
        import imageio.v3 as iio

        rows = [np.concatenate(list(frames[i, 1::3]), 1) for i in range(4)]
        rows += [np.concatenate(list(pred[i, ::3]), 1) for i in range(4)]
        iio.imwrite(out_png, np.kron(np.concatenate(rows, 0), np.ones((2, 2, 1), np.uint8)))


if __name__ == "__main__":
    main(*sys.argv[1:])
