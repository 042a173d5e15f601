"""Captions from privileged state (envs/captions.py) and the physics scenes' colour option."""

import gymnasium as gym
import numpy as np
import pytest

import cosmos_sim  # noqa: F401
from cosmos_sim.data.generate import TEXT_KEY, rollout
from cosmos_sim.envs.captions import describe_episode, render_caption
from cosmos_sim.envs.physics import PALETTE


def test_fixed_colours_are_the_default_and_bit_identical():
    a = gym.make("cosmos_sim/Physics-Collision-GT-v0")
    b = gym.make("cosmos_sim/Physics-Collision-GT-v0", colours="fixed")
    oa, _ = a.reset(seed=3)
    ob, _ = b.reset(seed=3)
    assert np.array_equal(oa, ob)
    assert a.unwrapped.object_colours == {"ball_a": "red", "ball_b": "blue"}


def test_random_colours_keep_the_initial_state_and_follow_the_seed():
    fixed = gym.make("cosmos_sim/Physics-Dominoes-GT-v0")
    rand = gym.make("cosmos_sim/Physics-Dominoes-GT-v0", colours="random")
    _, i_fixed = fixed.reset(seed=5)
    _, i_rand = rand.reset(seed=5)
    for name in fixed.unwrapped.coloured_objects:  # same positions: colours have their own random stream
        assert np.array_equal(i_fixed["objects"][name]["pos"], i_rand["objects"][name]["pos"])
    c5 = dict(rand.unwrapped.object_colours)
    assert len(set(c5.values())) == 5 and set(c5.values()) <= set(PALETTE)
    rand.reset(seed=6)
    c6 = dict(rand.unwrapped.object_colours)
    rand.reset(seed=5)
    assert rand.unwrapped.object_colours == c5 and c6 != c5
    # the rendered pixels of domino_0 carry its drawn colour, not the fixed one
    geom = rand.unwrapped._geom_rgba("domino_0")[:3]
    assert np.allclose(geom, [float(v) for v in PALETTE[c5["domino_0"]].split()[:3]])


def test_bad_colour_mode_says_the_choices():
    with pytest.raises(ValueError, match="colours='rainbow'.*fixed.*random"):
        gym.make("cosmos_sim/Physics-Bounce-GT-v0", colours="rainbow")


def test_collision_caption_from_state():
    env = gym.make("cosmos_sim/Physics-Collision-GT-v0", colours="random")
    ep = rollout(env, "random", 100000, captions=True)
    text = ep[TEXT_KEY]
    facts = text["facts"]
    a, b = facts["objects"]
    assert facts["scene"] == "collision" and facts["events"] == [["hits", "ball_a", "ball_b"]]
    assert a["motion"] == "right" and a["start"] == "left"  # ball_a starts at x=-1.2 moving +x
    assert a["colour"] in text["short"] and b["colour"] in text["short"] and "hits" in text["short"]
    assert "knocked to the right" in text["long"]
    u = env.unwrapped
    assert [o["colour"] for o in facts["objects"]] == [u.object_colours["ball_a"], u.object_colours["ball_b"]]


@pytest.mark.parametrize("scene", ["bounce", "pendulum", "dominoes", "camera_orbit", "push"])
def test_render_caption_every_grammar(scene):
    from cosmos_sim.text.upsampler import DEFAULTS

    caption = render_caption(DEFAULTS[scene] | {"scene": scene, "events": []})
    assert caption["short"][0].isupper() and caption["long"].endswith(".")
    assert len(caption["long"]) > len(caption["short"])


def test_articles_and_unknown_scene():
    facts = {
        "scene": "bounce",
        "objects": [{"name": "ball", "kind": "ball", "colour": "orange", "start": "left", "motion": "right"}],
        "events": [],
    }
    assert render_caption(facts)["short"] == "An orange ball bounces to the right."
    with pytest.raises(ValueError, match="no caption grammar for scene 'spin'"):
        render_caption({"scene": "spin", "objects": [], "events": []})


def test_envs_without_captions_give_none():
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    ep = rollout(env, "random", 0, max_steps=3)
    assert describe_episode(env, ep) is None


def test_push_scene_caption():
    env = gym.make("cosmos_sim/Manipulation-GT-v0")
    ep = rollout(env, "expert", 1, max_steps=5, captions=True)
    assert ep[TEXT_KEY]["short"] == "The robot arm pushes the red block to the green disc."
