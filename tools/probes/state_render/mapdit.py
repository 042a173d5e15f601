"""Probe patch: the DiT reads the hand's and the block's next pixel positions (the last 4 action entries, latent-cell
coordinates u, v of each) as two Gaussian maps added to its input tokens through a zero-initialised projection."""

import torch
from torch import nn

from cosmos_sim.world_models import dit as D

N_MAP = 2
SIGMA = 0.6  # cells (a cell is 4 px)
_init, _raw, _trunk_orig = D.DiT.__init__, D.DiT.raw, D.DiT.trunk


def __init__(self, config=None):
    _init(self, config)
    if self.config.action_dim != 11:  # only the probe's 7 actions + 4 coordinates
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
    uv = action[:, -2 * N_MAP :].reshape(-1, N_MAP, 2).float()
    a = action.clone()
    a[:, -2 * N_MAP :] = 0.0  # the action embedding never sees the coordinates
    m = self.patchify(maps(self, uv).unsqueeze(1).to(x_in.dtype))
    self._map_tokens = self.map_in(m)
    return _raw(self, x_in, c_noise, context, a, context_sigma)


def trunk(self, tokens, emb, n_out):
    # the map tokens (set by raw just before) join the input tokens: concat mode has one frame of tokens
    return _trunk_orig(self, tokens + self._map_tokens, emb, n_out)


D.DiT.__init__, D.DiT.raw, D.DiT.trunk = __init__, raw, trunk
