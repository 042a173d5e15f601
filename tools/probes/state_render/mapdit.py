"""Probe patch: the DiT reads the hand's and the block's next positions (the last 5 action entries: the hand's latent-cell
coordinates u, v and its normalised height h, then the block's u, v) as three maps (a Gaussian at the hand, the same
times h, a Gaussian at the block) added to its input tokens through a zero-initialised projection."""

import numpy as np
import torch
from torch import nn

from cosmos_sim.envs.base import project
from cosmos_sim.world_models import dit as D

N_MAP = 3  # map channels
N_TAIL = 5  # action entries read: hand u, v, h, block u, v
STATE = ("ee_x", "ee_y", "ee_z", "red_block_x", "red_block_y")  # the state model's entries
SIGMA = 0.6  # cells (a cell is 4 px)
_init, _raw, _trunk_orig = D.DiT.__init__, D.DiT.raw, D.DiT.trunk


def tail(hand, block, cam):
    """The N_TAIL action entries of world positions: hand (N, 3) and block (N, 3) -> (N, 5) float32. ``cam``: the
    front camera (K, E) and the hand-height normalisation (z_mid, z_half) of ``prep.py``'s cam.npz."""

    def cells(xyz):  # pixels -> latent cells (4 px each, centre of the first at 0)
        return project(np.asarray(xyz, np.float64), cam["K"], cam["E"])[:, :2] / 4.0 - 0.5

    h = (np.asarray(hand)[:, 2:3] - float(cam["z_mid"])) / float(cam["z_half"])
    return np.concatenate([cells(hand), h, cells(block)], 1).astype(np.float32)


def __init__(self, config=None):
    _init(self, config)
    if self.config.action_dim != 7 + N_TAIL:  # only the probe's 7 actions + its tail
        self.map_in = None
        return
    ph, pw = self.config.patch
    self.map_in = nn.Linear(N_MAP * ph * pw, self.config.dim)
    nn.init.zeros_(self.map_in.weight)
    nn.init.zeros_(self.map_in.bias)


def maps(self, uv):
    h, w = self.config.latent_size
    ys = torch.arange(h, device=uv.device, dtype=uv.dtype)[:, None]
    xs = torch.arange(w, device=uv.device, dtype=uv.dtype)[None, :]
    u, v = uv[..., 0][..., None, None], uv[..., 1][..., None, None]  # (B, N, 1, 1)
    return torch.exp(-((xs - u) ** 2 + (ys - v) ** 2) / (2 * SIGMA**2))  # (B, N, h, w)


def raw(self, x_in, c_noise, context, action, context_sigma=None):
    if self.map_in is None:
        self._map_tokens = 0.0
        return _raw(self, x_in, c_noise, context, action, context_sigma)
    tail = action[:, -N_TAIL:].float()
    a = action.clone()
    a[:, -N_TAIL:] = 0.0  # the action embedding never sees the coordinates
    g = maps(self, torch.stack([tail[:, 0:2], tail[:, 3:5]], 1))  # (B, 2, h, w): hand, block
    m = torch.stack([g[:, 0], g[:, 0] * tail[:, 2, None, None], g[:, 1]], 1)
    m = self.patchify(m.unsqueeze(1).to(x_in.dtype))
    self._map_tokens = self.map_in(m)
    return _raw(self, x_in, c_noise, context, a, context_sigma)


def trunk(self, tokens, emb, n_out):
    # the map tokens (set by raw just before) join the input tokens: concat mode has one frame of tokens
    return _trunk_orig(self, tokens + self._map_tokens, emb, n_out)


D.DiT.__init__, D.DiT.raw, D.DiT.trunk = __init__, raw, trunk
