"""A renderer-of-state bundle rolled out on the scene's TRUE state (its state model bypassed), for the probes that
judge the renderer alone (``bundle_verdict.py``, ``decoder_pairs.py``)."""

from contextlib import contextmanager

import gymnasium as gym
import numpy as np

from cosmos_sim.envs import state_render


def true_states(seeds, actions: np.ndarray) -> np.ndarray:
    """(E, T, 15) the scene's state after each of ``actions`` (E, T, 7) from each seed's reset, as the renderer
    reads it (``arm_state`` + the red block's x, y)."""
    env = gym.make("cosmos_sim/Manipulation-GT-v0", obs_mode="state").unwrapped
    out = []
    for e, seed in enumerate(seeds):
        env.reset(seed=int(seed))
        row = []
        for a in actions[e]:
            env.step(a)
            row.append(np.concatenate([env.arm_state(), env.block_pos(0)[:2]]))
        out.append(row)
    env.close()
    return np.asarray(out, np.float32)


@contextmanager
def forced_state(true: np.ndarray, on_latent=None):
    """Within it every ``StateRenderRollouts`` steps to ``true[:, t]`` at step t instead of its state model's
    prediction; ``on_latent(z)`` sees each normalised latent before it is decoded."""
    step = state_render.StateRenderRollouts.model_step

    def forced(self, actions):
        t = int(np.ravel(self.steps)[0])
        keep, self.states = self.states, type("S", (), {"step": staticmethod(lambda *_: true[:, t])})
        real = self.model.decode
        if on_latent is not None:

            def recording(z):
                on_latent(z)
                return real(z)

            self.model.decode = recording
        try:
            return step(self, actions)
        finally:
            self.states = keep
            self.model.decode = real

    state_render.StateRenderRollouts.model_step = forced
    try:
        yield
    finally:
        state_render.StateRenderRollouts.model_step = step
