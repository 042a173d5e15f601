"""Probe patch: train the DiT as a renderer of state: its context is always the episode's FIRST frame (K copies),
so it cannot drift; where the hand and the block are comes only from the maps (mapdit)."""

import numpy as np
import torch

import cosmos_sim.train.wfm as tw

_orig = tw.sample_batch


def sample_batch(data, rows, k, waypoints=0, unroll=0):
    out = _orig(data, rows, k, waypoints, unroll)
    first = data.latents[data.episode_start[rows]]
    out["context"] = torch.from_numpy(np.repeat(first[:, None], k, 1).astype(data.latents.dtype))
    out["context_actions"] = torch.zeros_like(out["context_actions"])
    return out


tw.sample_batch = sample_batch
