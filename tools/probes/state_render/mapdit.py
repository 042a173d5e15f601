"""Probe patch: the DiT reads the hand's and the block's next positions (the last 5 action entries: the hand's latent-cell
coordinates u, v and its normalised height h, then the block's u, v) as three maps (a Gaussian at the hand, the same
times h, a Gaussian at the block) added to its input tokens through a zero-initialised projection.

Layout 2 (session 15, 16 entries, ``STATE2``/``tail2``): also the elbow's and the wrist's u, v, h, drawn as four more
maps of the arm's two last links (elbow-wrist, wrist-hand: a Gaussian of the distance to the segment, and the same
times the height along it; the elbow is mostly outside the view, the forearm is not), through a second
zero-initialised projection, and five scalars the action embedding sees (roll, pitch, the yaw as
cos/sin of twice it: the two fingers look the same turned by half a turn, the finger opening)."""

import numpy as np
import torch
from torch import nn

from cosmos_sim.envs.base import project
from cosmos_sim.world_models import dit as D

N_MAP = 3  # map channels
N_TAIL = 5  # action entries read: hand u, v, h, block u, v
STATE = ("ee_x", "ee_y", "ee_z", "red_block_x", "red_block_y")  # the state model's entries
STATE2 = ("ee_x", "ee_y", "ee_z", "elbow_x", "elbow_y", "elbow_z", "wrist_x", "wrist_y", "wrist_z")
STATE2 += ("ee_roll", "ee_pitch", "ee_yaw", "gripper_opening", "red_block_x", "red_block_y")  # layout 2's
N_TAIL2, N_MAP2 = 16, 4  # layout 2: its action entries, its extra maps
SIGMA = 0.6  # cells (a cell is 4 px)
_init, _raw, _trunk_orig = D.DiT.__init__, D.DiT.raw, D.DiT.trunk


def tail(hand, block, cam):
    """The N_TAIL action entries of world positions: hand (N, 3) and block (N, 3) -> (N, 5) float32. ``cam``: the
    front camera (K, E) and the hand-height normalisation (z_mid, z_half) of ``prep.py``'s cam.npz."""

    h = (np.asarray(hand)[:, 2:3] - float(cam["z_mid"])) / float(cam["z_half"])
    return np.concatenate([_cells(hand, cam), h, _cells(block, cam)], 1).astype(np.float32)


def _cells(xyz, cam):  # world -> latent cells (4 px each, centre of the first at 0)
    return project(np.asarray(xyz, np.float64), cam["K"], cam["E"])[:, :2] / 4.0 - 0.5


def tail2(state, block_z, cam):
    """Layout 2's N_TAIL2 entries of states (N, 15) in ``STATE2`` order; ``block_z`` the block's height(s) (N,) or one."""
    s = np.asarray(state, np.float64)
    out = []
    for i, key in ((0, ""), (3, "_elbow"), (6, "_wrist")):
        h = (s[:, i + 2 : i + 3] - float(cam["z_mid" + key])) / float(cam["z_half" + key])
        out += [_cells(s[:, i : i + 3], cam), h]
        if i == 0:
            blk = np.concatenate([s[:, 13:15], np.broadcast_to(np.reshape(block_z, (-1, 1)), (len(s), 1))], 1)
            out.append(_cells(blk, cam))
    yaw2 = 2 * s[:, 11:12]
    out += [s[:, 9:11] / 0.3, np.cos(yaw2), np.sin(yaw2), s[:, 12:13] / 0.04 - 1.0]
    return np.concatenate(out, 1).astype(np.float32)


def __init__(self, config=None):
    _init(self, config)
    self.n_tail = self.config.action_dim - 7  # the probe's: 7 actions + its tail
    if self.n_tail not in (N_TAIL, N_TAIL2):
        self.map_in = None
        return
    ph, pw = self.config.patch
    self.map_in = nn.Linear(N_MAP * ph * pw, self.config.dim)
    nn.init.zeros_(self.map_in.weight)
    nn.init.zeros_(self.map_in.bias)
    if self.n_tail == N_TAIL2:
        self.map_in2 = nn.Linear(N_MAP2 * ph * pw, self.config.dim)
        nn.init.zeros_(self.map_in2.weight)
        nn.init.zeros_(self.map_in2.bias)


def maps(self, uv):
    h, w = self.config.latent_size
    ys = torch.arange(h, device=uv.device, dtype=uv.dtype)[:, None]
    xs = torch.arange(w, device=uv.device, dtype=uv.dtype)[None, :]
    u, v = uv[..., 0][..., None, None], uv[..., 1][..., None, None]  # (B, N, 1, 1)
    return torch.exp(-((xs - u) ** 2 + (ys - v) ** 2) / (2 * SIGMA**2))  # (B, N, h, w)


def segment_maps(self, a, b):
    """Gaussian of the distance to the segment a-b (B, 3: u, v, h) and the same times the height along it."""
    h, w = self.config.latent_size
    ys = torch.arange(h, device=a.device, dtype=a.dtype)[:, None]
    xs = torch.arange(w, device=a.device, dtype=a.dtype)[None, :]
    a_, d_ = a[:, :, None, None], (b - a)[:, :, None, None]
    t = ((xs - a_[:, 0]) * d_[:, 0] + (ys - a_[:, 1]) * d_[:, 1]) / (d_[:, 0] ** 2 + d_[:, 1] ** 2 + 1e-6)
    t = t.clamp(0.0, 1.0)
    g = torch.exp(
        -((xs - a_[:, 0] - t * d_[:, 0]) ** 2 + (ys - a_[:, 1] - t * d_[:, 1]) ** 2) / (2 * SIGMA**2)
    )
    return g, g * (a_[:, 2] + t * d_[:, 2])


def raw(self, x_in, c_noise, context, action, context_sigma=None):
    if self.map_in is None:
        self._map_tokens = 0.0
        return _raw(self, x_in, c_noise, context, action, context_sigma)
    tail = action[:, 7:].float()
    a = action.clone()
    a[:, 7 : 7 + 11] = 0.0  # the action embedding never sees the coordinates (layout 2: it sees the scalars)
    g = maps(self, torch.stack([tail[:, 0:2], tail[:, 3:5]], 1))  # (B, 2, h, w): hand, block
    m = torch.stack([g[:, 0], g[:, 0] * tail[:, 2, None, None], g[:, 1]], 1)
    m = self.patchify(m.unsqueeze(1).to(x_in.dtype))
    self._map_tokens = self.map_in(m)
    if self.n_tail == N_TAIL2:
        hand, elbow, wrist = tail[:, 0:3], tail[:, 5:8], tail[:, 8:11]
        m = torch.stack([*segment_maps(self, elbow, wrist), *segment_maps(self, wrist, hand)], 1)
        self._map_tokens = self._map_tokens + self.map_in2(self.patchify(m.unsqueeze(1).to(x_in.dtype)))
    return _raw(self, x_in, c_noise, context, a, context_sigma)


def trunk(self, tokens, emb, n_out):
    # the map tokens (set by raw just before) join the input tokens: concat mode has one frame of tokens
    return _trunk_orig(self, tokens + self._map_tokens, emb, n_out)


D.DiT.__init__, D.DiT.raw, D.DiT.trunk = __init__, raw, trunk
