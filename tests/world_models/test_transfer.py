import numpy as np
import pytest
import torch

from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.world_models.tokenizer import Tokenizer, TokenizerConfig
from cosmos_sim.world_models.transfer import (
    DEPTH_NEAR,
    SEG_PALETTE,
    Conditioning,
    Transfer,
    TransferConfig,
    TransferDiT,
    control_image,
    normalize_weights,
)

TINY = TransferConfig(dim=32, depth=2, heads=2, control_blocks=1, domains=("default", "grass"))


def _model(seed=0, config=TINY) -> Transfer:
    torch.manual_seed(seed)
    tok = Tokenizer(TokenizerConfig(frame_channels=8, channels=16, norm_groups=4, res_blocks=1))
    return Transfer(config, tok).eval()


def _controls(t=3):
    rng = np.random.default_rng(0)
    return {
        "depth": rng.uniform(0.5, 3.0, (t, 64, 64)).astype(np.float32),
        "seg": rng.integers(0, 5, (t, 64, 64)),
        "edge": (rng.random((t, 64, 64)) > 0.9).astype(np.uint8) * 255,
        "vis": rng.integers(0, 256, (t, 64, 64, 3), dtype=np.uint8),
    }


def test_control_images_follow_their_conventions():
    depth = np.array([[[DEPTH_NEAR, 2 * DEPTH_NEAR, 1e6]]], np.float32)
    img = control_image("depth", depth)
    assert img.shape == (1, 1, 3, 3) and img.dtype == np.uint8
    assert list(img[0, 0, :, 0]) == [255, 128, 0]  # disparity: near white, twice as far half, the sky black
    seg = control_image("seg", np.array([[[0, 1, len(SEG_PALETTE) + 1]]]))
    assert (
        (seg[0, 0, 0] == 0).all()
        and (seg[0, 0, 1] == SEG_PALETTE[1]).all()
        and (seg[0, 0, 2] == SEG_PALETTE[1]).all()
    )
    assert (control_image("edge", np.full((1, 2, 2), 255, np.uint8)) == 255).all()
    with pytest.raises(ConfigError, match="vis control must be"):
        control_image("vis", np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(ConfigError, match="unknown control 'keypoint'"):
        control_image("keypoint", np.zeros((1, 4, 4)))


def test_weights_are_clamped_and_sum_to_at_most_one():
    w = normalize_weights({"a": torch.tensor([2.0, 0.2, -1.0]), "b": torch.tensor([2.0, 0.3, 0.5])})
    assert torch.allclose(w["a"], torch.tensor([0.5, 0.2, 0.0]))  # 4 -> halves; 0.5 kept; negative -> 0
    assert torch.allclose(w["b"], torch.tensor([0.5, 0.3, 0.5]))
    assert (torch.stack(list(w.values())).sum(0) <= 1 + 1e-6).all()


def test_branches_copy_the_first_blocks_and_start_as_no_op():
    net = TransferDiT(TINY)
    for name in TINY.controls:
        assert all(
            torch.equal(a, b)
            for a, b in zip(
                net.control_branch[name][0].state_dict().values(),
                net.blocks[0].state_dict().values(),
                strict=True,
            )
        )
    torch.manual_seed(1)  # AdaLN-Zero starts every block as the identity: give the modulations values
    for blk in [*net.blocks, *[b for m in net.control_branch.values() for b in m]]:
        torch.nn.init.normal_(blk.ada.weight, std=0.1)
    torch.nn.init.normal_(net.patch_out.weight, std=0.1)
    x, ctx = torch.randn(2, 16, 8, 8), torch.randn(2, 1, 16, 8, 8)
    app = torch.zeros(2, 3)
    none = net(x, torch.ones(2), ctx, Conditioning(app, {}, {}))
    ctrl = {"edge": torch.randn(2, 16, 8, 8)}
    ones = {"edge": torch.ones(2, 8, 8)}
    assert torch.allclose(none, net(x, torch.ones(2), ctx, Conditioning(app, ctrl, ones)))  # zero projections
    torch.nn.init.normal_(net.control_out["edge"][0].weight, std=0.1)
    assert not torch.allclose(none, net(x, torch.ones(2), ctx, Conditioning(app, ctrl, ones)))
    zero = {"edge": torch.zeros(2, 8, 8)}
    assert torch.allclose(
        none, net(x, torch.ones(2), ctx, Conditioning(app, ctrl, zero))
    )  # weight 0 = absent


def test_weight_inputs_start_as_the_plain_model_then_let_a_branch_see_it_shares():
    plain = TransferDiT(TINY)
    aware = TransferDiT(TransferConfig(**{**TINY.__dict__, "weight_inputs": True}))
    missing, unexpected = aware.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("weight_in.") for k in missing)
    torch.manual_seed(1)  # give the modulations and the output projections values (both start at zero)
    for net in (plain, aware):
        for blk in [*net.blocks, *[b for m in net.control_branch.values() for b in m]]:
            torch.nn.init.normal_(blk.ada.weight, std=0.1)
        torch.nn.init.normal_(net.patch_out.weight, std=0.1)
        for outs in net.control_out.values():
            torch.nn.init.normal_(outs[0].weight, std=0.1)
    aware.load_state_dict(plain.state_dict(), strict=False)
    x, ctx, app = torch.randn(2, 16, 8, 8), torch.randn(2, 1, 16, 8, 8), torch.zeros(2, 3)
    ctrl = {"edge": torch.randn(2, 16, 8, 8), "seg": torch.randn(2, 16, 8, 8)}
    half = {"edge": torch.full((2, 8, 8), 0.5), "seg": torch.full((2, 8, 8), 0.5)}
    alone = ({"edge": ctrl["edge"]}, {"edge": half["edge"]})
    for c, w in ((ctrl, half), alone):  # zero weight inputs: the same function as the plain model
        assert torch.allclose(plain(x, torch.ones(2), ctx, Conditioning(app, c, w)),
                              aware(x, torch.ones(2), ctx, Conditioning(app, c, w)), atol=1e-6)  # fmt: skip
    torch.nn.init.normal_(aware.weight_in["edge"].weight, std=0.5)
    # the edge branch at weight 0.5 now acts differently beside seg (weights' sum 1) than alone (sum 0.5)
    edge_only = lambda net, c, w: net(x, torch.ones(2), ctx, Conditioning(app, c, w))  # noqa: E731
    seg_zero = {"edge": half["edge"], "seg": torch.zeros(2, 8, 8)}
    assert torch.allclose(edge_only(aware, *alone), edge_only(aware, ctrl, seg_zero), atol=1e-6)
    assert not torch.allclose(edge_only(aware, ctrl, seg_zero), edge_only(aware, ctrl, half), atol=1e-4)
    assert torch.allclose(edge_only(plain, *alone), edge_only(plain, ctrl, seg_zero), atol=1e-6)


def test_transfer_is_seeded_and_round_trips(tmp_path):
    m = _model()
    for p in m.net.parameters():  # untrained zero layers would make every seed give the same frames
        torch.nn.init.normal_(p, std=0.05)
    c = _controls()
    spec = {"edge": {"control_weight": 1.0}, "seg": {"control_weight": 0.5, "mask": np.ones((64, 64))}}
    a = m.transfer(c, spec, seed=3, domain="grass")
    assert a.shape == (3, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, m.transfer(c, spec, seed=3, domain="grass"))
    assert not np.array_equal(a, m.transfer(c, spec, seed=4, domain="grass"))
    m.save_pretrained(tmp_path / "t", dtype=None)
    back = Transfer.from_pretrained(tmp_path / "t", device="cpu")
    assert back.config == m.config and back.config.tokenizer_sha
    assert np.array_equal(a, back.transfer(c, spec, seed=3, domain="grass"))
    (tmp_path / "t" / "tokenizer" / "model.safetensors").write_bytes(b"not the tokenizer")
    with pytest.raises(CheckpointError, match="not the tokenizer this transfer model was trained with"):
        Transfer.from_pretrained(tmp_path / "t", device="cpu")


def test_transfer_refuses_bad_requests():
    m = _model()
    c = _controls(2)
    with pytest.raises(ConfigError, match=r"names control\(s\) \['depth'\] but no map"):
        m.transfer({"edge": c["edge"]}, {"depth": {"control_weight": 1}})
    with pytest.raises(ConfigError, match="domain 'mars' is not one this model renders"):
        m.transfer(c, None, domain="mars")
    with pytest.raises(ConfigError, match=r"control mask must be a scalar, \(H, W\) or \(T=2, H, W\)"):
        m.transfer(c, {"edge": {"control_weight": 1, "mask": np.ones((3, 64, 64))}})
    with pytest.raises(ConfigError, match="control_blocks=3 must lie in"):
        TransferConfig(depth=2, control_blocks=3)
    with pytest.raises(ConfigError, match="non-empty subset"):
        TransferConfig(controls=("normals",))
