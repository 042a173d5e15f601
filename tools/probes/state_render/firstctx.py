"""Probe patch: train the DiT as a renderer of state: its context is always the episode's FIRST frame (K copies),
so it cannot drift; where the hand and the block are comes only from the maps (mapdit).

``PROBE_RECENT=p`` (the variant): the last context slot holds the previous frame with probability p."""

import os

import numpy as np
import torch

import cosmos_sim.train.wfm as tw

_orig = tw.sample_batch
P_RECENT = float(os.environ.get("PROBE_RECENT", "0"))


def sample_batch(data, rows, k, waypoints=0, unroll=0):
    out = _orig(data, rows, k, waypoints, unroll)
    ctx = np.repeat(data.latents[data.episode_start[rows]][:, None], k, 1).astype(data.latents.dtype)
    if P_RECENT > 0:
        keep = np.random.random(len(rows)) < P_RECENT
        ctx[keep, -1] = data.latents[rows[keep]]
    out["context"] = torch.from_numpy(ctx)
    out["context_actions"] = torch.zeros_like(out["context_actions"])
    return out


tw.sample_batch = sample_batch
