"""The multi-view DiT (one backbone for six cameras) and the "multiview" WorldModel family."""

import numpy as np
import pytest
import torch

from cosmos_sim.world_models.multiview import MultiViewDiT, MultiViewDiTConfig
from cosmos_sim.world_models.wfm import WorldModel, WorldModelConfig, tiny_world_model

CFG = MultiViewDiTConfig(
    latent_channels=4, latent_size=(4, 4), context_frames=2, dim=32, depth=2, heads=2, views=3, waypoints=2
)


def _random_weights(m: torch.nn.Module) -> torch.nn.Module:
    """AdaLN-Zero starts every block as the identity; give every weight a value so views can interact."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.2)
    return m.eval()


def test_condition_packs_action_and_optional_waypoints():
    m = MultiViewDiT(CFG)
    a = torch.tensor([[0.5, -1.0], [0.0, 1.0]])
    wp = torch.tensor([[[1.0, 0.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.0]]])
    c = m.condition(a, wp)
    assert c.shape == (2, CFG.cond_dim) == (2, 2 + 4 + 1)
    assert c[0].tolist() == pytest.approx(
        [0.5, -1.0, 0.1, 0.0, 0.2, 0.05, 1.0]
    )  # metres / waypoint_scale, present
    absent = m.condition(a)
    assert absent[:, 2:].abs().sum() == 0 and torch.equal(absent[:, :2], a)
    dropped = m.condition(a, wp, drop=torch.tensor([True, False]))
    assert dropped[0, 2:].abs().sum() == 0 and dropped[1, -1] == 1  # a stopped car (zeros) is not "absent"
    with pytest.raises(ValueError, match=r"waypoints must be \(B, 2, 2\)"):
        m.condition(a, wp[:, :1])
    with pytest.raises(ValueError, match=r"action must be \(B, 2\)"):
        m.condition(torch.zeros(2, 7))
    with pytest.raises(ValueError, match="without waypoint"):
        MultiViewDiT(MultiViewDiTConfig(latent_channels=4, latent_size=(4, 4), dim=32, heads=2)).condition(
            a, wp
        )


def test_views_attend_to_each_other_and_have_their_own_embedding():
    m = _random_weights(MultiViewDiT(CFG))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 3, 4, 4, 4, generator=g)
    ctx = torch.randn(1, 2, 3, 4, 4, 4, generator=g)
    cond = m.condition(torch.zeros(1, 2))
    sigma = torch.ones(1)
    with torch.no_grad():
        base = m(x, sigma, ctx, cond)
        ctx2 = ctx.clone()
        ctx2[:, :, 0] += 1.0  # change only view 0's past
        moved = m(x, sigma, ctx2, cond)
        same_in = m(
            x[:, :1].expand(-1, 3, -1, -1, -1), sigma, ctx[:, :, :1].expand(-1, -1, 3, -1, -1, -1), cond
        )
    assert base.shape == (1, 3, 4, 4, 4)
    assert (moved[:, 2] - base[:, 2]).abs().max() > 1e-3  # view 2 sees view 0 (one joint attention)
    assert (
        same_in[:, 0] - same_in[:, 1]
    ).abs().max() > 1e-3  # identical inputs, different views -> different outputs


def test_waypoints_change_the_prediction_and_sampling_is_reproducible():
    m = _random_weights(MultiViewDiT(CFG))
    ctx = torch.randn(2, 2, 3, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(2, *m.latent_shape, generator=torch.Generator().manual_seed(1))
    a = torch.zeros(2, 2)
    s1 = m.sample(ctx, m.condition(a), steps=2, noise=noise)
    s2 = m.sample(ctx, m.condition(a), steps=2, noise=noise)
    s3 = m.sample(ctx, m.condition(a, torch.ones(2, 2, 2)), steps=2, noise=noise)
    assert s1.shape == (2, 3, 4, 4, 4) and torch.equal(s1, s2)
    assert (s3 - s1).abs().max() > 1e-3
    assert torch.isfinite(m.loss(s1, ctx, m.condition(a)))


def test_bad_multiview_config_is_refused():
    with pytest.raises(ValueError, match="context_mode must be 'concat'"):
        MultiViewDiTConfig(context_mode="tokens")
    with pytest.raises(ValueError, match="views >= 1"):
        MultiViewDiTConfig(views=0)
    with pytest.raises(ValueError, match="view names"):
        WorldModelConfig(dynamics=MultiViewDiTConfig(views=6), views=("front",))


def test_world_model_rolls_out_six_views_and_round_trips(tmp_path):
    wm = tiny_world_model("multiview")
    frames = np.random.default_rng(0).integers(0, 256, (2, 1, 6, 64, 64, 3), dtype=np.uint8)
    z = wm.encode(frames)
    assert z.shape == (2, 1, 6, 4, 8, 8)
    # each view frame is encoded alone: the same frame gives the same latent in any view slot
    assert torch.allclose(wm.encode(frames[:, :, [1] * 6])[:, 0, 3], z[:, 0, 1], atol=1e-5)
    state = wm.start(z.expand(-1, 2, -1, -1, -1, -1).contiguous())
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    state, nxt = wm.predict_next(
        state, np.zeros((2, 2), np.float32), noise=wm.noise(gens), waypoints=np.ones((2, 2, 2), np.float32)
    )
    assert nxt.shape == (2, 6, 4, 8, 8) and state.window.shape == (2, 2, 6, 4, 8, 8)
    out = wm.decode(nxt)
    assert out.shape == (2, 6, 64, 64, 3) and out.dtype == np.uint8
    r, p = wm.reward(nxt, np.zeros((2, 2)))
    assert r.shape == p.shape == (2,) and ((p >= 0) & (p <= 1)).all()
    wm.save_pretrained(tmp_path / "mv", dtype=None)
    back = WorldModel.from_pretrained(tmp_path / "mv", device="cpu")
    assert back.config == wm.config and back.config.views[0] == "front"
    for a, b in zip(back.state_dict().values(), wm.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_world_model_refuses_frames_without_all_views():
    wm = tiny_world_model("multiview")
    with pytest.raises(ValueError, match="hold 5 views, this model needs 6"):
        wm.encode(np.zeros((1, 1, 5, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"uint8 \(B, T, V, H, W, 3\)"):
        wm.encode(np.zeros((1, 1, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="multiview models only"):
        d = tiny_world_model("diffusion")
        z = d.encode(np.zeros((1, 1, 64, 64, 3), np.uint8))
        d.predict_next(d.start(z.expand(-1, 2, -1, -1, -1)), np.zeros((1, 7)), waypoints=np.zeros((1, 2, 2)))
