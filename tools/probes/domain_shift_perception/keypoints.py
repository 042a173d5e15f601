"""Would an estimator that *finds* the block, instead of regressing it from the whole frame, read it in coffee?
(issue 17, session 25)

Every earlier probe kept ``manip-state-nano``'s design: convolutions, then the whole 4x4 feature map flattened into
an MLP, so the background's features reach the output directly, and in the held-out coffee look the block estimate
collapses towards the mean (std 2.6 cm against the block's true 10-11 cm spread). Here: a fully convolutional net
whose outputs are keypoints, the expected pixel position under a spatial softmax (Levine et al. 2016), two of them
(block, goal disc) taught by the seg map (cross-entropy of the softmax against the object's mask), four free; an
MLP reads only the keypoints' coordinates, so the look can change the output only by moving a keypoint. Trained
from scratch on the bench's arms (default 240 episodes; half default / half Transfer re-rendering), scored as the
other probes are (error in cm on 16 held-out episodes per look, seeds 100100..).

    PROBE_WORK=/work/runs_s23 PROBE_STEPS=2500 python tools/probes/domain_shift_perception/keypoints.py ARM

ARM: default (the bench's default store), half (its first half + the Transfer re-rendering's second half), pasted
(the same with ``paste-backgrounds``' store).
"""

import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.train import state_estimator

NAMES = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y", "red_block_x", "red_block_y")
OBJECTS = ("red_block", "goal")


class Keypoints(nn.Module):
    """Frame -> (state, keypoint logits): the convolutions' K maps, their spatial-softmax means, an MLP of those."""

    def __init__(self, n_out, taught=2, free=4, width=64):
        super().__init__()
        k = taught + free
        self.net = nn.Sequential(
            nn.Conv2d(5, 32, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(32, width, 4, 2, 1), nn.SiLU(),
            nn.Conv2d(width, width, 4, 2, 1), nn.SiLU(),
            nn.Conv2d(width, width, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(width, width, 3, 1, 2, dilation=2), nn.SiLU(),
            nn.Conv2d(width, width, 3, 1, 4, dilation=4), nn.SiLU(),
            nn.Conv2d(width, k, 1),
        )  # fmt: skip
        self.head = nn.Sequential(
            nn.Linear(2 * k, 256), nn.SiLU(), nn.Linear(256, 256), nn.SiLU(), nn.Linear(256, n_out)
        )

    def forward(self, x):
        x = x.float() / 127.5 - 1.0
        b, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(b, 1, h, w)
        logits = self.net(torch.cat([x, xs, ys], 1))  # (B, K, 16, 16)
        b, k, hh, ww = logits.shape
        p = logits.flatten(2).softmax(-1).view(b, k, hh, ww)
        gy = torch.linspace(-1, 1, hh).view(1, 1, hh, 1)
        gx = torch.linspace(-1, 1, ww).view(1, 1, 1, ww)
        coords = torch.stack([(p * gx).sum((2, 3)), (p * gy).sum((2, 3))], -1)  # (B, K, 2)
        return self.head(coords.flatten(1)), logits


def load(paths):
    frames, truth = state_estimator.load_pairs(paths, NAMES)
    masks = []
    for p in paths:
        s = TrajectoryStore.open(p)
        labels = {v: int(k) for k, v in s.attrs["segmentation_labels"].items()}
        seg = torch.from_numpy(np.asarray(s.read("maps/front/seg", 0, s.n_steps)))
        m = torch.stack([(seg == labels[o]).float() for o in OBJECTS], 1)
        masks.append(F.avg_pool2d(m, 4))  # the mask's share of each 4x4 cell: the heatmap's grid
    return frames, truth, torch.cat(masks)


def mixed_paths(work, arm):
    if arm == "default":
        return (f"{work}/ds/default.zarr",), None
    other = {"half": "transfer_s23", "pasted": "pasted"}[arm]
    return (f"{work}/ds/default.zarr", f"{work}/ds/{other}.zarr"), "half"


def main():
    torch.set_num_threads(1)
    arm = sys.argv[1]
    work = os.environ["PROBE_WORK"]
    steps = int(os.environ.get("PROBE_STEPS", "3000"))
    paths, mix = mixed_paths(work, arm)
    frames, truth, masks = load(paths)
    if mix:  # the bench's mix: the default store's first 120 episodes, the re-rendering's last 120
        ends = TrajectoryStore.open(paths[0]).episode_ends
        half = int(ends[len(ends) // 2 - 1])
        n = len(frames) // 2
        keep = np.r_[0:half, n + half : 2 * n]
        frames, truth, masks = frames[keep], truth[keep], masks[torch.from_numpy(keep)]
    mean, std = truth.mean(0), truth.std(0) + 1e-6
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy((truth - mean) / std)
    model = Keypoints(len(NAMES))
    opt = torch.optim.AdamW(model.parameters(), 1e-3, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    t0 = time.time()
    for step in range(steps):
        lr = 1e-3 * min(1, (step + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        i = torch.from_numpy(rng.integers(0, len(x), 64))
        out, logits = model(x[i])
        reg = F.smooth_l1_loss(out, y[i])
        m = masks[i]
        visible = m.sum((2, 3)) > 0.5
        target = m.flatten(2) / m.flatten(2).sum(-1, keepdim=True).clamp_min(1e-6)
        ce = -(target * logits[:, : len(OBJECTS)].flatten(2).log_softmax(-1)).sum(-1)
        seg = (ce * visible).sum() / visible.sum().clamp_min(1)
        loss = reg + 0.1 * seg
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == steps - 1:
            print(
                f"{arm} step {step} reg {reg.item():.4f} seg {seg.item():.3f} {time.time() - t0:.0f}s",
                flush=True,
            )
    model.eval()
    row = {}
    for look in ("default", "gravel", "coffee"):
        f, t = state_estimator.load_pairs((f"{work}/ds_probe/val_{look}.zarr",), NAMES)
        with torch.no_grad():
            pred = model(torch.from_numpy(f).permute(0, 3, 1, 2))[0].numpy() * std + mean
        err = np.abs(pred - t)
        groups = {"block": [5, 6], "goal": [3, 4], "hand": [0, 1, 2]}
        row[look] = {
            k: round(float(np.linalg.norm(err[:, c], axis=1).mean() * 100), 2) for k, c in groups.items()
        }
        row[look]["block_std"] = round(float(pred[:, 5:7].std(0).mean() * 100), 2)
    print(arm, steps, json.dumps(row), flush=True)
    torch.save({"model": model.state_dict(), "mean": mean, "std": std}, f"{work}/keypoints_{arm}_{steps}.pt")


if __name__ == "__main__":
    main()
