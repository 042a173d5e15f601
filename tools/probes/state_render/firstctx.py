"""Probe patch: train the DiT as a renderer of state: its context is always the episode's FIRST frame (K copies),
so it cannot drift; where the hand and the block are comes only from the maps (mapdit).

``PROBE_RECENT=p`` (the variant): the last context slot holds the previous frame with probability p.
``PROBE_MOVED=c`` (session 15): rows are drawn with weight 1 + c * min(d, 4) / 4, d the block's distance in latent
cells from where it was at its episode's start (the action tail's block_u, block_v): late rows with the block far
from its first-frame place are few and drawn short of it."""

import os

import numpy as np
import torch

import cosmos_sim.train.wfm as tw

_orig = tw.sample_batch
P_RECENT = float(os.environ.get("PROBE_RECENT", "0"))
W_MOVED = float(os.environ.get("PROBE_MOVED", "0"))
_draw = {}


def _moved_rows(data, n):
    if id(data) not in _draw:
        valid = np.flatnonzero(~data.last)
        blk = data.action[:, 10:12]  # block_u, block_v of the tail (layouts 1 and 2)
        d = np.linalg.norm(blk[valid] - blk[data.episode_start[valid]], axis=1)
        w = 1.0 + W_MOVED * np.minimum(d, 4.0) / 4.0
        _draw[id(data)] = (valid, w / w.sum())
        print(
            f"PROBE_MOVED={W_MOVED}: rows with the block > 1 cell from its start {np.mean(d > 1):.3f}",
            flush=True,
        )
    valid, p = _draw[id(data)]
    return np.random.choice(valid, n, p=p)


def sample_batch(data, rows, k, waypoints=0, unroll=0, first_frame=False):
    if W_MOVED > 0:
        rows = _moved_rows(data, len(rows))
    out = _orig(data, rows, k, waypoints, unroll, first_frame)
    ctx = np.repeat(data.latents[data.episode_start[rows]][:, None], k, 1).astype(data.latents.dtype)
    if P_RECENT > 0:
        keep = np.random.random(len(rows)) < P_RECENT
        ctx[keep, -1] = data.latents[rows[keep]]
    out["context"] = torch.from_numpy(ctx)
    out["context_actions"] = torch.zeros_like(out["context_actions"])
    return out


tw.sample_batch = sample_batch
