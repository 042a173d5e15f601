"""WorldModel bundles: encode/decode shapes, batched rollout steps, reward head, checkpoints and their errors."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from cosmos_sim.world_models.checkpoint import CheckpointError
from cosmos_sim.world_models.heads import RewardHead, RewardHeadConfig
from cosmos_sim.world_models.wfm import WorldModel, tiny_world_model


def _frames(b: int, t: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (b, t, 64, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("family", ["diffusion", "ar"])
def test_rollout_shapes_and_one_frame_per_latent(family):
    wm = tiny_world_model(family)
    z = wm.encode(_frames(3, 2))
    # One latent per frame (image mode of the 4x temporal tokenizer), not one per 4 frames.
    assert z.shape == ((3, 2, 4, 8, 8) if family == "diffusion" else (3, 2, 8, 8))
    state = wm.start(z)
    gens = [torch.Generator().manual_seed(i) for i in range(3)]
    state, nxt = wm.predict_next(state, np.zeros((3, 7), np.float32), noise=wm.noise(gens))
    assert nxt.shape == z.shape[:1] + z.shape[2:]
    assert torch.equal(state.window[:, -1], nxt) and torch.equal(state.window[:, 0], z[:, 1])
    frames = wm.decode(nxt)
    assert frames.shape == (3, 64, 64, 3) and frames.dtype == np.uint8
    reward, p = wm.reward(nxt, np.zeros((3, 7), np.float32))
    assert reward.shape == (3,) and ((p >= 0) & (p <= 1)).all()


def test_encode_refuses_frames_of_the_wrong_size_or_layout():
    wm = tiny_world_model()
    with pytest.raises(ValueError, match="resize"):
        wm.encode(np.zeros((1, 1, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        wm.encode(np.zeros((1, 1, 3, 64, 64), np.float32))


@pytest.mark.parametrize("family", ["diffusion", "ar"])
def test_save_and_load_round_trip(tmp_path, family):
    wm = tiny_world_model(family)
    wm.save_pretrained(tmp_path / "wm", dtype=None)
    assert (tmp_path / "wm" / "tokenizer" / "model.safetensors").is_file()
    back = WorldModel.from_pretrained(tmp_path / "wm", device="cpu")
    assert back.config == wm.config
    for (k, a), b in zip(wm.state_dict().items(), back.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    z = wm.encode(_frames(1, 2))
    noise = torch.randn(1, 4, 8, 8)
    _, n1 = wm.predict_next(wm.start(z), np.ones((1, 7), np.float32) * 0.3, noise=noise)
    _, n2 = back.predict_next(back.start(z), np.ones((1, 7), np.float32) * 0.3, noise=noise)
    assert torch.equal(n1, n2)


def test_checkpoint_errors_name_the_file(tmp_path):
    wm = tiny_world_model()
    wm.save_pretrained(tmp_path / "wm")
    with pytest.raises(CheckpointError, match="not a 'tokenizer'|is a 'wfm'"):
        from cosmos_sim.world_models.tokenizer import Tokenizer

        Tokenizer.from_pretrained(tmp_path / "wm")
    # A tokenizer other than the one the model was trained with is refused.
    cfg = json.loads((tmp_path / "wm" / "config.json").read_text())
    cfg["config"]["tokenizer_sha"] = "0123456789abcdef"
    (tmp_path / "wm" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="not the tokenizer"):
        WorldModel.from_pretrained(tmp_path / "wm")
    (tmp_path / "wm" / "model.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        WorldModel.from_pretrained(tmp_path / "wm")


def test_family_needs_the_matching_tokenizer_kind():
    dv = tiny_world_model("ar").tokenizer
    with pytest.raises(ValueError, match="needs a CV tokenizer"):
        WorldModel(tiny_world_model("diffusion").config, dv)


def test_reward_head_learns_reward_and_success():
    torch.manual_seed(0)
    head = RewardHead(RewardHeadConfig(latent_channels=4, latent_size=(4, 4), channels=16, hidden=32))
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(150):
        z, a = torch.randn(64, 4, 4, 4), torch.randn(64, 7)
        reward = z[:, 0].mean((1, 2)) - 0.5 * a[:, 0]
        success = z[:, 1, 0, 0] > 1.0
        loss = head.loss(z, a, reward, success)
        opt.zero_grad()
        loss.backward()
        opt.step()
    z, a = torch.randn(512, 4, 4, 4), torch.randn(512, 7)
    r, logit = head(z, a)
    truth = z[:, 0].mean((1, 2)) - 0.5 * a[:, 0]
    assert (r - truth).abs().mean() < 0.5 * truth.abs().mean()
    assert ((logit > 0) == (z[:, 1, 0, 0] > 1.0)).float().mean() > 0.85


def test_bundle_can_point_at_a_shared_tokenizer_instead_of_a_copy(tmp_path):
    wm = tiny_world_model()
    wm.tokenizer.save_pretrained(tmp_path / "tokenizers" / "cv", dtype=None)
    from cosmos_sim.world_models.wfm import file_sha

    wm.config = dataclasses.replace(
        wm.config, tokenizer_sha=file_sha(tmp_path / "tokenizers" / "cv" / "model.safetensors")
    )
    wm.save_pretrained(tmp_path / "wfm" / "m", tokenizer_ref="../../tokenizers/cv")
    assert not (tmp_path / "wfm" / "m" / "tokenizer").exists()
    back = WorldModel.from_pretrained(tmp_path / "wfm" / "m")
    assert back.config.tokenizer_dir == "../../tokenizers/cv"
    with pytest.raises(ValueError, match="tokenizer_ref"):
        wm.save_pretrained(tmp_path / "wfm" / "n", tokenizer_ref="../nowhere")


def test_change_gain_scales_the_predicted_change_from_the_last_latent():
    wm = tiny_world_model("diffusion")
    for p in wm.dynamics.parameters():  # break the zero init so the prediction moves
        torch.nn.init.normal_(p, std=0.05)
    ctx = torch.randn(2, wm.context_frames, *wm.dynamics.latent_shape)
    action, noise = np.zeros((2, 7), np.float32), torch.randn(2, *wm.dynamics.latent_shape)
    _, plain = wm.predict_next(wm.start(ctx), action, noise=noise)
    gained = WorldModel(dataclasses.replace(wm.config, change_gain=0.5), wm.tokenizer)
    gained.load_state_dict(wm.state_dict())
    state, nxt = gained.predict_next(gained.start(ctx), action, noise=noise)
    last = gained.start(ctx).window[:, -1]
    assert torch.allclose(nxt, last + 1.5 * (plain - last), atol=1e-5)
    assert torch.equal(state.window[:, -1], nxt)  # what the next step sees
    with pytest.raises(ValueError, match="change_gain=-1.0: use 0, or a gain > -1 with a diffusion-family"):
        dataclasses.replace(wm.config, change_gain=-1.0)
    with pytest.raises(ValueError, match="change_gain=0.2: .* \\(not 'ar'\\)"):
        dataclasses.replace(tiny_world_model("ar").config, change_gain=0.2)


def test_reward_head_action_path_learns_what_an_action_costs_apart_from_the_image():
    # Reacher-like: the reward is minus the squared action; the latents are noise the head could overfit
    torch.manual_seed(0)
    z, a = torch.randn(512, 4, 4, 4), torch.rand(512, 2) * 2 - 1
    r, success = -(a**2).sum(1), torch.zeros(512)

    def fit(action_path: int) -> float:
        torch.manual_seed(1)
        head = RewardHead(
            RewardHeadConfig(latent_channels=4, latent_size=(4, 4), action_dim=2, action_path=action_path)
        )
        opt = torch.optim.Adam(head.parameters(), 1e-3)
        for _ in range(300):
            i = torch.randint(0, 384, (32,))
            loss = head.loss(z[i], a[i], r[i], success[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return float((head(z[384:], a[384:])[0] - r[384:]).abs().mean())  # held-out samples

    with_path, without = fit(2), fit(0)
    assert with_path < 0.5 * without, (with_path, without)
    assert (
        "action_mlp.0.weight" not in RewardHead(RewardHeadConfig()).state_dict()
    )  # older bundles load as before
