"""Fit a ProprioModel of hand xyz + block xy on the three training stores (from ``replay_arm.py``'s replays).

    python tools/probes/state_render/state_model.py [UNROLL [OUT]]

``PROBE_LAYOUT=2``: the arm's states too (mapdit.STATE2, from ``replay_arm.py``'s ``arm_<name>.npy``; saved to
``$PROBE_WORK/state2``). UNROLL > 0: then fine-tune it on UNROLL-step open-loop windows (the loss on its own rolled-out states, back-propagated
through the steps), against the compounding of one-step errors over whole episodes. OUT: default $PROBE_WORK/state.
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mapdit
from state_unroll import fit_one_step, fit_unrolled

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.train.proprio import open_loop_error

WORK = os.environ.get("PROBE_WORK", "runs/state_render")  # scratch: packs, runs, the state model
LAYOUT = int(os.environ.get("PROBE_LAYOUT", "1"))
torch.set_num_threads(1)
torch.manual_seed(0)
names = {
    "train_noisy": "data/wfm16/train_noisy.zarr",
    "train_manip_expert": "data/tok16/train_manip_expert.zarr",
    "train_manip_random": "data/tok16/train_manip_random.zarr",
}
eps = []
for k, p in names.items():
    s = TrajectoryStore.open(p)
    g = np.load(f"{WORK}/arm_{k}.npy")[:, slice(None) if LAYOUT == 2 else slice(0, 3)]
    b = s.read("objects/red_block/pos", 0, s.n_steps)[:, :2]
    a = s.read("action", 0, s.n_steps)
    st = np.concatenate([g, b], 1).astype(np.float32)
    ends = s.episode_ends
    starts = np.concatenate([[0], ends[:-1]])
    eps += [
        (st[i:j], a[i : j - 1].astype(np.float32)) for i, j in zip(starts, ends, strict=True) if j - i >= 2
    ]
rng = np.random.default_rng(0)
rng.shuffle(eps)
val, tr = eps[:40], eps[40:]
m = fit_one_step(tr, mapdit.STATE2 if LAYOUT == 2 else mapdit.STATE)
print("one-step fit: val open loop 16 / 48 (cm):", open_loop_error(m, val, 16), open_loop_error(m, val, 48))
unroll = int(sys.argv[1]) if len(sys.argv) > 1 else 0
if unroll:
    fit_unrolled(m, tr, unroll, 3000, rng, m.delta_std)
    print(
        f"unroll {unroll}: val open loop 16 / 48 (cm):",
        open_loop_error(m, val, 16),
        open_loop_error(m, val, 48),
    )
m.save_pretrained(
    sys.argv[2] if len(sys.argv) > 2 else f"{WORK}/state{'' if LAYOUT == 1 else LAYOUT}", dtype=None
)
