"""Body maps of a renderer of a MuJoCo env's state: bodies and camera read off the env, projection against the
rendered pixels, the maps' geometry, the DiT's zero start and its config checks."""

import os

import gymnasium as gym
import numpy as np
import pytest
import torch

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models import body_maps as bm
from cosmos_sim.world_models.dit import DiT, DiTConfig

os.environ.setdefault("MUJOCO_GL", "egl")
TOP_DOWN = {"distance": 0.55, "elevation": -90.0, "azimuth": 90.0, "lookat": [0.0, 0.0, 0.0]}


@pytest.fixture(scope="module")
def reacher():
    env = gym.make(
        "Reacher-v5", render_mode="rgb_array", width=64, height=64, default_camera_config=dict(TOP_DOWN)
    )
    env.reset(seed=3)
    yield env
    env.close()


def test_bodies_and_links_come_from_the_model_tree(reacher):
    maps = bm.BodyMaps.for_env(reacher)
    # the arm (body0 -> body1 -> fingertip) and the target, a child of the world
    assert maps.bodies == ("body0", "body1", "fingertip", "target")
    assert maps.parents == (-1, 0, 1, -1)
    assert maps.tail_names[:3] == ("body0_u", "body0_v", "body1_u") and len(maps.tail_names) == 8
    assert bm.n_maps(maps.parents) == 4 + 2


def test_projection_lands_on_the_rendered_target_and_the_arm_root(reacher):
    maps = bm.BodyMaps.for_env(reacher, cell=4)
    u = reacher.unwrapped
    errs = []
    for seed in range(6):
        reacher.reset(seed=seed)
        frame = reacher.render().astype(int)
        pos = maps.positions(u.model, u.data.qpos[None].copy())
        px = (maps.tail(pos)[0].reshape(4, 2) + 0.5) * 4  # cells -> pixels
        red = (frame[..., 0] > 100) & (frame[..., 1] < 60) & (frame[..., 2] < 60)  # the target's sphere
        errs.append(np.hypot(*(np.argwhere(red)[:, ::-1].mean(0) + 0.5 - px[3])))
        assert np.allclose(px[0], [32, 32], atol=0.01)  # the arm's root sits under the look-at point
    assert max(errs) < 0.6  # pixels


def test_positions_follow_the_kinematics_and_leave_the_env_alone(reacher):
    maps = bm.BodyMaps.for_env(reacher)
    u = reacher.unwrapped
    before = u.data.xpos.copy()
    q = np.zeros((2, u.model.nq))
    q[1, 0] = np.pi / 2  # the shoulder a quarter turn: the fingertip from +x to +y
    pos = maps.positions(u.model, q)
    assert np.allclose(pos[0, 2, :2], [0.21, 0.0], atol=1e-6) and np.allclose(
        pos[1, 2, :2], [0.0, 0.21], atol=1e-6
    )
    assert np.array_equal(u.data.xpos, before)
    with pytest.raises(ConfigError, match="qpos must be"):
        maps.positions(u.model, np.zeros((2, 3)))


def test_maps_peak_at_the_bodies_and_along_the_links():
    parents = (-1, 0, -1)
    t = torch.tensor(
        [[0.0, 0.0, 8.0, 0.0, 10.0, 12.0]]
    )  # body 0 at (0, 0), body 1 at (8, 0), body 2 at (10, 12)
    m = bm.draw(t, parents, (16, 16))[0]
    assert m.shape == (4, 16, 16)  # three bodies, one link
    assert divmod(int(m[1].argmax()), 16) == (0, 8) and m[1, 0, 8] == pytest.approx(1.0)
    assert divmod(int(m[2].argmax()), 16) == (12, 10)
    assert torch.allclose(m[3][0, :9], torch.ones(9)) and m[3][0, 12] < 0.01  # the link along row 0


def test_a_dit_with_bodies_starts_as_the_dit_without_them():
    tiny = dict(
        latent_channels=4, latent_size=(4, 4), context_frames=2, dim=32, depth=2, heads=2, patch=(2, 2)
    )
    parents = (-1, 0)
    n = 2 + 4
    plain, bodies = (
        DiT(DiTConfig(**tiny, action_dim=n)),
        DiT(DiTConfig(**tiny, action_dim=n, state_bodies=parents)),
    )
    for p in plain.parameters():
        torch.nn.init.normal_(p, std=0.2)
    missing = bodies.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["map_in.bias", "map_in.weight"]
    x, sigma, ctx = torch.randn(2, 4, 4, 4), torch.tensor([0.5, 2.0]), torch.randn(2, 2, 4, 4, 4)
    a = torch.randn(2, n)
    a_plain = a.clone()
    a_plain[:, 2:] = 0.0  # the positions reach the maps only
    assert torch.allclose(bodies(x, sigma, ctx, a), plain(x, sigma, ctx, a_plain), atol=1e-5)
    torch.nn.init.normal_(bodies.map_in.weight, std=0.2)
    assert not torch.allclose(bodies(x, sigma, ctx, a), plain(x, sigma, ctx, a_plain), atol=1e-3)


def test_configs_refuse_bad_parents_and_no_room_for_the_bodies(tmp_path, reacher):
    with pytest.raises(ConfigError, match="earlier body"):
        DiTConfig(action_dim=8, state_bodies=(-1, 1))
    with pytest.raises(ConfigError, match="action_dim > 4"):
        DiTConfig(action_dim=4, state_bodies=(-1, 0))
    with pytest.raises(ConfigError, match="no state_maps"):
        DiTConfig(action_dim=40, state_bodies=(-1, 0), state_maps=True)
    maps = bm.BodyMaps.for_env(reacher)
    maps.save(tmp_path)
    assert bm.BodyMaps.load(tmp_path) == maps
    with pytest.raises(ConfigError, match="missing"):
        bm.BodyMaps.load(tmp_path / "nope")
    for env_id, kwargs, match in (
        (
            "Reacher-v5",
            {"default_camera_config": {"distance": 0.55}},
            "fixed look-at point",
        ),  # aims at the geoms
        (
            "Swimmer-v5",
            {"camera_name": "track"},
            "follows its bodies",
        ),  # Swimmer's camera tracks its centre of mass
    ):
        env = gym.make(env_id, render_mode="rgb_array", width=64, height=64, **kwargs)
        env.reset(seed=0)
        with pytest.raises(ConfigError, match=match):
            bm.BodyMaps.for_env(env)
        env.close()
    with pytest.raises(ConfigError, match="not a Gymnasium MuJoCo env"):
        bm.BodyMaps.for_env(gym.make("CartPole-v1", render_mode="rgb_array"))
