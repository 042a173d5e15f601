"""State maps of a renderer of state: projection to latent cells, the maps' geometry, the DiT's zero start."""

import numpy as np
import pytest
import torch

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models import state_maps as sm
from cosmos_sim.world_models.dit import DiT, DiTConfig

# A camera 1 m above the origin looking straight down (OpenCV frame: x right, y down, z forward), 64 px frames.
CAM = sm.StateCamera(
    intrinsics=((64.0, 0.0, 32.0), (0.0, 64.0, 32.0), (0.0, 0.0, 1.0)),
    extrinsics=((1.0, 0.0, 0.0, 0.0), (0.0, -1.0, 0.0, 0.0), (0.0, 0.0, -1.0, 1.0), (0.0, 0.0, 0.0, 1.0)),
    heights=((0.5, 0.1), (0.9, 0.1), (0.6, 0.1)),
)


def _state(grip, elbow, wrist, rpy=(0.0, 0.0, 0.0), opening=0.04, block=(0.0, 0.0)):
    return np.array([[*grip, *elbow, *wrist, *rpy, opening, *block]])


def test_cells_follow_the_pinhole_model():
    # the optical axis hits pixel (32, 32): the centre of cell 7.5 of 16 (cells of 4 px, the first centred at 0)
    assert np.allclose(CAM.cells(np.array([[0.0, 0.0, 0.0]])), [[7.5, 7.5]])
    # 0.25 m right at 1 m depth: 16 px = 4 cells right; +y (world) is up in the image
    assert np.allclose(CAM.cells(np.array([[0.25, 0.25, 0.0]])), [[11.5, 3.5]])


def test_tail_holds_cells_normalised_heights_and_the_angles():
    t = sm.tail(_state((0.25, 0, 0.6), (0, 0, 0.8), (0, 0.25, 0.5), rpy=(0.3, -0.15, np.pi / 4)), 0.0, CAM)
    assert t.shape == (1, len(sm.TAIL))
    d = dict(zip(sm.TAIL, t[0], strict=True))
    assert (d["hand_u"], d["hand_v"]) == pytest.approx(
        (7.5 + 16 / 0.4 / 4, 7.5)
    )  # 0.25 m right at 0.4 m depth
    assert d["hand_h"] == pytest.approx(1.0) and d["elbow_h"] == pytest.approx(-1.0)
    assert d["wrist_h"] == pytest.approx(-1.0)
    assert (d["block_u"], d["block_v"]) == pytest.approx((7.5, 7.5))
    assert (d["ee_roll"], d["ee_pitch"]) == pytest.approx((1.0, -0.5))
    assert (d["ee_cos2yaw"], d["ee_sin2yaw"]) == pytest.approx((0.0, 1.0), abs=1e-6)
    assert d["finger"] == pytest.approx(0.0)  # 0.04 m open: the middle of 0..0.08


def test_tail_refuses_states_of_another_layout():
    with pytest.raises(ConfigError, match="15"):
        sm.tail(np.zeros((2, 5)), 0.0, CAM)


def test_maps_peak_where_the_points_and_segments_are():
    t = torch.zeros(1, len(sm.TAIL))
    names = {n: i for i, n in enumerate(sm.TAIL)}
    for n, v in dict(
        hand_u=3,
        hand_v=12,
        hand_h=0.5,
        block_u=10,
        block_v=2,
        elbow_u=0,
        elbow_v=0,
        elbow_h=1,
        wrist_u=8,
        wrist_v=0,
        wrist_h=-1,
    ).items():
        t[0, names[n]] = v
    m = sm.draw(t, (16, 16))[0]
    assert m.shape == (sm.N_MAPS, 16, 16)
    assert divmod(int(m[0].argmax()), 16) == (12, 3) and m[0, 12, 3] == pytest.approx(1.0)
    assert torch.allclose(m[1], 0.5 * m[0])  # hand times its height
    assert divmod(int(m[2].argmax()), 16) == (2, 10)
    assert torch.allclose(
        m[3][0, :9], torch.ones(9)
    )  # the elbow-wrist segment runs along row 0, columns 0..8
    assert m[3][0, 12] < 0.01 and m[3][3, 4] < 0.01
    assert m[4][0, 0] == pytest.approx(1.0) and m[4][0, 8] == pytest.approx(-1.0)  # the height along it
    assert m[4][0, 4] == pytest.approx(0.0, abs=1e-6)


def test_a_dit_with_state_maps_starts_as_the_dit_without_them():
    tiny = dict(
        latent_channels=4, latent_size=(4, 4), context_frames=2, dim=32, depth=2, heads=2, patch=(2, 2)
    )
    n = 7 + len(sm.TAIL)
    plain, maps = DiT(DiTConfig(**tiny, action_dim=n)), DiT(DiTConfig(**tiny, action_dim=n, state_maps=True))
    missing = maps.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["map_in.bias", "map_in.weight"]
    for p in plain.parameters():  # a non-trivial network: the output layers away from zero
        torch.nn.init.normal_(p, std=0.2)
    maps.load_state_dict(plain.state_dict(), strict=False)
    x, sigma, ctx = torch.randn(2, 4, 4, 4), torch.tensor([0.5, 2.0]), torch.randn(2, 2, 4, 4, 4)
    a = torch.randn(2, n)
    a_plain = a.clone()
    a_plain[:, 7 : 7 + sm.N_COORD] = 0.0  # the coordinates reach the maps only
    assert torch.allclose(maps(x, sigma, ctx, a), plain(x, sigma, ctx, a_plain), atol=1e-5)
    torch.nn.init.normal_(maps.map_in.weight, std=0.2)  # once trained, the maps move the output
    assert not torch.allclose(maps(x, sigma, ctx, a), plain(x, sigma, ctx, a_plain), atol=1e-3)


def test_state_maps_config_needs_concat_mode_and_room_for_the_state():
    with pytest.raises(ConfigError, match="state_maps"):
        DiTConfig(action_dim=7, state_maps=True)
    with pytest.raises(ConfigError, match="concat"):
        DiTConfig(action_dim=7 + len(sm.TAIL), context_mode="tokens", state_maps=True)


def test_camera_round_trips_through_json(tmp_path):
    CAM.save(tmp_path / "cam.json")
    assert sm.StateCamera.load(tmp_path / "cam.json") == CAM
    with pytest.raises(ConfigError, match="missing"):
        sm.StateCamera.load(tmp_path / "nope.json")
