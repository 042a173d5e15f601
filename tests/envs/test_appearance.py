"""Appearance domains: another look, the same geometry (depth, seg, state) for the same seed and actions."""

import gymnasium as gym
import numpy as np
import pytest

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.envs.appearance import DOMAINS, HELD_OUT_DOMAINS, TRAINING_DOMAINS


def _episode(appearance: str, seed: int = 100002, steps: int = 3):
    env = gym.make(
        "cosmos_sim/Manipulation-GT-v0", appearance=appearance, maps="depth,seg", obs_mode="pixels+state"
    )
    obs, info = env.reset(seed=seed)
    out = [(obs, info["maps"]["front"])]
    for _ in range(steps):
        obs, _, _, _, info = env.step(env.unwrapped.expert_action())
        out.append((obs, info["maps"]["front"]))
    name = env.unwrapped.appearance_domain
    env.close()
    return name, out


@pytest.mark.parametrize("appearance", ["brick", "night", "coffee", "randomized"])
def test_a_domain_changes_the_pixels_and_nothing_else(appearance):
    _, ref = _episode("default")
    _, got = _episode(appearance)
    for (o_ref, m_ref), (o, m) in zip(ref, got, strict=True):
        assert np.array_equal(o["state"], o_ref["state"])  # the same layout and motion
        assert np.array_equal(m["depth"], m_ref["depth"]) and np.array_equal(m["seg"], m_ref["seg"])
        differs = np.abs(o["pixels"].astype(int) - o_ref["pixels"]).mean()
        assert differs > 5, f"{appearance}: the frame hardly changed ({differs:.1f} grey levels)"


def test_randomized_is_seeded_and_never_shows_a_held_out_domain():
    a, first = _episode("randomized", seed=100005, steps=0)
    b, again = _episode("randomized", seed=100005, steps=0)
    assert a == b and np.array_equal(first[0][0]["pixels"], again[0][0]["pixels"])
    env = gym.make("cosmos_sim/Manipulation-GT-v0", appearance="randomized")
    seen = set()
    for seed in range(40):
        env.reset(seed=seed)
        seen.add(env.unwrapped.appearance_domain)
    env.close()
    assert seen <= set(TRAINING_DOMAINS) and len(seen) >= 4 and not seen & set(HELD_OUT_DOMAINS)


def test_every_named_domain_loads_and_unknown_ones_are_refused():
    for name in DOMAINS:
        assert _episode(name, steps=0)[0] == name
    with pytest.raises(ValueError, match="appearance 'mars' unknown; choose one of"):
        gym.make("cosmos_sim/Manipulation-GT-v0", appearance="mars")
