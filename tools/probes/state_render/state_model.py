"""Fit a ProprioModel of hand xyz + block xy on the three training stores (grip from the replays)."""

import os

import numpy as np
import torch

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.train.proprio import open_loop_error, samples
from cosmos_sim.world_models.proprio import ProprioConfig, ProprioModel

WORK = os.environ.get("PROBE_WORK", "runs/state_render")  # scratch: packs, runs, the state model
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
    g = np.load(f"{WORK}/grip_{k}.npy")
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
d = samples(tr)
m = ProprioModel(
    ProprioConfig(
        names=("ee_x", "ee_y", "ee_z", "red_block_x", "red_block_y"),
        action_dim=7,
        mean=tuple(d["p"].mean(0).tolist()),
        std=tuple(np.maximum(d["p"].std(0), 1e-4).tolist()),
        delta_std=tuple(np.maximum(d["delta"].std(0), 1e-4).tolist()),
        hidden=256,
    )
)
t = {k: torch.from_numpy(v) for k, v in d.items()}
target = t["delta"] / m.delta_std
opt = torch.optim.Adam(m.parameters(), lr=2e-3)
steps = 6000
sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=1e-4)
for _ in range(steps):
    j = torch.randint(0, len(target), (256,))
    loss = torch.nn.functional.mse_loss(
        m(t["p"][j], t["p_prev"][j], t["action"][j], t["prev_action"][j]), target[j]
    )
    opt.zero_grad()
    loss.backward()
    opt.step()
    sch.step()
m.eval()
print("val open loop 16 (all 5 entries, cm):", open_loop_error(m, val, 16))
print("val block only:", open_loop_error(m, [(s[:, 3:], a) for s, a in val], 16) if False else "")
m.save_pretrained(f"{WORK}/state", dtype=None)
