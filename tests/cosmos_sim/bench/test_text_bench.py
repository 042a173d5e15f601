"""``cosmos-sim bench text``: its config, the colour checks on GT videos, and a smoke run."""

import numpy as np
import pytest

from cosmos_sim.bench.text import Config, adherence, heldout_episodes, palette_reference


def test_config_is_checked():
    with pytest.raises(ValueError, match="--arms"):
        Config(arms=("t2w-everything",))
    with pytest.raises(ValueError, match="--frames"):
        Config(frames=5)
    with pytest.raises(ValueError, match="--scenarios"):
        Config(scenarios=("Juggling",))


@pytest.fixture(scope="module")
def setting():
    cfg = Config(scenarios=("Collision",), seeds=1)
    return cfg, palette_reference(("Collision",), seeds=1), heldout_episodes(cfg)[0]


def test_gt_follows_its_caption_and_tampered_videos_do_not(setting):
    cfg, ref, ep = setting
    rgb = ep["rgb"]
    assert adherence(ep["facts"], rgb[0], rgb[1:], ref, cfg)["followed"]
    frozen = np.repeat(rgb[:1], len(rgb) - 1, 0)  # nothing moves
    verdict = adherence(ep["facts"], rgb[0], frozen, ref, cfg)
    assert verdict["colours"] and not verdict["motion"]
    assert verdict["objects_coloured"] == verdict["objects"] == 2 and verdict["moves"] == 2
    assert verdict["moves_seen"] == 0
    swapped = rgb[..., ::-1].copy()  # red <-> blue channels: other colours
    assert not adherence(ep["facts"], swapped[0], swapped[1:], ref, cfg)["colours"]
    flipped = rgb[:, :, ::-1].copy()  # mirrored: the motion goes the other way
    assert not adherence(ep["facts"], flipped[0], flipped[1:], ref, cfg)["motion"]
