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
from cosmos_sim.world_models import state_maps as SM

N_MAP = 3  # map channels
N_TAIL = 5  # action entries read: hand u, v, h, block u, v
STATE = ("ee_x", "ee_y", "ee_z", "red_block_x", "red_block_y")  # the state model's entries
STATE2 = SM.STATE  # layout 2's: the package's renderer of state reads the same
N_TAIL2, N_MAP2 = len(SM.TAIL), SM.N_MAPS - N_MAP  # layout 2: its action entries, its extra maps
_init, _raw, _trunk_orig = D.DiT.__init__, D.DiT.raw, D.DiT.trunk


def tail(hand, block, cam):
    """The N_TAIL action entries of world positions: hand (N, 3) and block (N, 3) -> (N, 5) float32. ``cam``: the
    front camera (K, E) and the hand-height normalisation (z_mid, z_half) of ``prep.py``'s cam.npz."""

    def cells(xyz):  # pixels -> latent cells (4 px each, centre of the first at 0)
        return project(np.asarray(xyz, np.float64), cam["K"], cam["E"])[:, :2] / 4.0 - 0.5

    h = (np.asarray(hand)[:, 2:3] - float(cam["z_mid"])) / float(cam["z_half"])
    return np.concatenate([cells(hand), h, cells(block)], 1).astype(np.float32)


def tail2(state, block_z, cam):
    """Layout 2's entries of states (N, 15) in ``STATE2`` order (``state_maps.tail`` with ``prep.py``'s cam2.npz)."""
    heights = tuple((float(cam["z_mid" + k]), float(cam["z_half" + k])) for k in ("", "_elbow", "_wrist"))
    camera = SM.StateCamera(tuple(map(tuple, cam["K"])), tuple(map(tuple, cam["E"])), heights)
    return SM.tail(state, block_z, camera)


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


def raw(self, x_in, c_noise, context, action, context_sigma=None):
    if self.map_in is None:
        self._map_tokens = 0.0
        return _raw(self, x_in, c_noise, context, action, context_sigma)
    tail = action[:, 7:].float()
    a = action.clone()
    a[:, 7 : 7 + SM.N_COORD] = (
        0.0  # the action embedding never sees the coordinates (layout 2: it sees the scalars)
    )
    if self.n_tail == N_TAIL2:  # the package's seven maps: the first three are layout 1's
        m = SM.draw(tail, self.config.latent_size)
    else:
        xs, ys = SM.grid(self.config.latent_size, tail)
        hand = SM.point_map(tail[:, 0:2], xs, ys)
        m = torch.stack([hand, hand * tail[:, 2, None, None], SM.point_map(tail[:, 3:5], xs, ys)], 1)
    m = m.unsqueeze(1).to(x_in.dtype)
    self._map_tokens = self.map_in(self.patchify(m[:, :, :N_MAP]))
    if self.n_tail == N_TAIL2:
        self._map_tokens = self._map_tokens + self.map_in2(self.patchify(m[:, :, N_MAP:]))
    return _raw(self, x_in, c_noise, context, a, context_sigma)


def trunk(self, tokens, emb, n_out):
    # the map tokens (set by raw just before) join the input tokens: concat mode has one frame of tokens
    return _trunk_orig(self, tokens + self._map_tokens, emb, n_out)


D.DiT.__init__, D.DiT.raw, D.DiT.trunk = __init__, raw, trunk
