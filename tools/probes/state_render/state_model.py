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

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.train.proprio import open_loop_error, samples
from cosmos_sim.world_models.proprio import ProprioConfig, ProprioModel

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
d = samples(tr)
m = ProprioModel(
    ProprioConfig(
        names=mapdit.STATE2 if LAYOUT == 2 else mapdit.STATE,
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
print("one-step fit: val open loop 16 / 48 (cm):", open_loop_error(m, val, 16), open_loop_error(m, val, 48))
unroll = int(sys.argv[1]) if len(sys.argv) > 1 else 0
if unroll:
    m.train()
    wins = [(st, a, i) for st, a in tr for i in range(len(a) - unroll + 1)]
    opt = torch.optim.Adam(m.parameters(), lr=5e-4)
    steps = 3000
    sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=2e-5)
    for _ in range(steps):
        batch = [wins[j] for j in rng.integers(0, len(wins), 128)]
        st = torch.from_numpy(np.stack([w[0][w[2] : w[2] + unroll + 1] for w in batch]))
        ac = torch.from_numpy(np.stack([w[1][w[2] : w[2] + unroll] for w in batch]))
        prev = torch.from_numpy(np.stack([w[0][max(w[2] - 1, 0)] for w in batch]))
        a_prev = torch.from_numpy(
            np.stack([w[1][w[2] - 1] if w[2] > 0 else np.zeros_like(w[1][0]) for w in batch])
        )
        p, loss = st[:, 0], 0.0
        for t in range(unroll):
            nxt = p + m(p, prev, ac[:, t], a_prev) * m.delta_std
            loss = loss + torch.mean(((nxt - st[:, t + 1]) / m.delta_std) ** 2) / unroll
            p, prev, a_prev = nxt, p, ac[:, t]
        opt.zero_grad()
        loss.backward()
        opt.step()
        sch.step()
    m.eval()
    print(
        f"unroll {unroll}: val open loop 16 / 48 (cm):",
        open_loop_error(m, val, 16),
        open_loop_error(m, val, 48),
    )
m.save_pretrained(
    sys.argv[2] if len(sys.argv) > 2 else f"{WORK}/state{'' if LAYOUT == 1 else LAYOUT}", dtype=None
)
