"""Probe: Reacher's arm dynamics as an MLP (joint angles and velocities, action -> their change), trained on the
bench's random-policy store and scored by the fingertip's open-loop error in pixels after 16 steps.

    python tools/probes/byo_state/dynamics.py TRAIN.zarr VALID.zarr OUT.pt"""

import sys

import numpy as np
import torch
from torch import nn

from cosmos_sim.data.store import TrajectoryStore


def joint_state(obs):
    """Reacher observations (N, 10) -> q1, q2, qv1, qv2 (N, 4) (angles wrapped to (-pi, pi])."""
    return np.stack(
        [np.arctan2(obs[:, 2], obs[:, 0]), np.arctan2(obs[:, 3], obs[:, 1]), obs[:, 6], obs[:, 7]], 1
    )


def features(s, a):
    return torch.cat([torch.cos(s[:, :2]), torch.sin(s[:, :2]), s[:, 2:4] / 10.0, a], 1)


class Dyn(nn.Module):
    """MLP of the change of (q1, q2, qv1, qv2) in one step."""

    def __init__(self, hidden=256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(8, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 4)
        )
        self.scale = nn.Parameter(torch.tensor([0.1, 0.1, 2.0, 2.0]), requires_grad=False)

    def forward(self, s, a):
        return s + self.net(features(s, a)) * self.scale


def episodes(path):
    st = TrajectoryStore.open(path)
    obs, act = st.read("state", 0, st.n_steps), st.read("action", 0, st.n_steps)
    ends, out, start = st.episode_ends, [], 0
    for e in ends:
        out.append((joint_state(obs[start:e]).astype(np.float32), act[start:e].astype(np.float32)))
        start = e
    return out


def fingertip(s):
    q1, q2 = s[..., 0], s[..., 1]
    return np.stack(
        [0.1 * np.cos(q1) + 0.11 * np.cos(q1 + q2), 0.1 * np.sin(q1) + 0.11 * np.sin(q1 + q2)], -1
    )


def rollout(model, s0, actions):
    s, out = torch.as_tensor(s0)[None], []
    with torch.no_grad():
        for a in actions:
            s = model(s, torch.as_tensor(a)[None])
            out.append(s[0].numpy())
    return np.array(out)


def main(train, valid, out, minutes=4.0, unroll=8):
    import time

    torch.set_num_threads(1)
    tr, va = episodes(train), episodes(valid)
    model = Dyn()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    windows = [(s, a, t) for s, a in tr for t in range(len(s) - unroll)]
    t0, step = time.time(), 0
    while time.time() - t0 < minutes * 60:
        idx = np.random.randint(len(windows), size=256)
        s = torch.as_tensor(
            np.stack([windows[i][0][windows[i][2] : windows[i][2] + unroll + 1] for i in idx])
        )
        a = torch.as_tensor(np.stack([windows[i][1][windows[i][2] : windows[i][2] + unroll] for i in idx]))
        cur, loss = s[:, 0], 0.0
        for k in range(unroll):
            cur = model(cur, a[:, k])
            d = cur - s[:, k + 1]
            d = torch.cat([torch.atan2(torch.sin(d[:, :2]), torch.cos(d[:, :2])) * 10, d[:, 2:]], 1)
            loss = loss + (d**2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 2000 == 0:
            for g in opt.param_groups:
                g["lr"] *= 0.7
            errs = [
                np.linalg.norm(fingertip(rollout(model, s[0], a[:16])) - fingertip(s[1:17]), axis=-1)
                for s, a in va
            ]
            print(
                f"step {step} loss {loss.item():.4f} fingertip err cm at 1/8/16: "
                f"{np.mean([e[0] for e in errs]) * 100:.3f} {np.mean([e[7] for e in errs]) * 100:.3f} "
                f"{np.mean([e[15] for e in errs]) * 100:.3f}",
                flush=True,
            )
    torch.save(model.state_dict(), out)


if __name__ == "__main__":
    main(*sys.argv[1:4], *map(float, sys.argv[4:5]))
