"""Probe rollout of the renderer of state: every step from the first frame's context."""

import numpy as np
import torch


@torch.no_grad()
def render_loop(model, first, actions, seed=0, recent=False):
    """Every step from the first frame's context (K copies): the renderer of state never sees its own frames.
    ``recent`` (the variant): the last context slot holds the model's own previous frame instead."""
    k = model.context_frames
    z0 = model.encode(torch.from_numpy(first).unsqueeze(1))
    state = model.start(z0.expand(-1, k, *z0.shape[2:]).contiguous())
    gens = [torch.Generator().manual_seed(seed + i) for i in range(len(first))]
    out = []
    for t in range(actions.shape[1]):
        _, z = model.predict_next(state, actions[:, t], noise=model.noise(gens))
        out.append(model.decode(z))
        if recent:  # the first frame (K-1 copies), then the model's own last frame
            base = z0.expand(-1, k - 1, *z0.shape[2:])
            state = model.start(torch.cat([base, z.unsqueeze(1).to(base.dtype)], 1).contiguous())
    return np.stack(out, axis=1)
