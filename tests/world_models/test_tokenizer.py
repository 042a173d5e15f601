import numpy as np
import pytest
import torch

from cosmos_sim.world_models.checkpoint import CheckpointError, save_checkpoint
from cosmos_sim.world_models.tokenizer import Tokenizer, TokenizerConfig, haar_patch, haar_unpatch

TINY = dict(frame_channels=8, channels=16, norm_groups=4, res_blocks=1)


def _model(kind="CV", seed=0, **kw) -> Tokenizer:
    """A tiny tokenizer with random weights everywhere (the zero-initialised branches too)."""
    torch.manual_seed(seed)
    m = Tokenizer(TokenizerConfig(kind=kind, **{**TINY, **kw}))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return m.eval()


def _video(b=2, t=9, size=32, seed=0) -> torch.Tensor:
    return torch.rand(b, t, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_haar_patcher_known_values_and_inverse():
    x = torch.zeros(1, 1, 4, 4)
    x[..., 0, 0] = 1.0  # one bright pixel: every level-2 band sees it with weight 1/16
    y = haar_patch(x)
    assert y.shape == (1, 16, 1, 1) and torch.allclose(y.abs(), torch.full_like(y, 1 / 16))
    const = torch.full((1, 3, 8, 8), 0.7)
    bands = haar_patch(const)
    assert torch.allclose(bands[:, :3], torch.full((1, 3, 2, 2), 0.7)) and bands[:, 3:].abs().max() < 1e-7
    v = torch.rand(3, 3, 64, 64)
    assert haar_patch(v).shape == (3, 48, 16, 16) and torch.allclose(
        haar_unpatch(haar_patch(v)), v, atol=1e-6
    )


@pytest.mark.parametrize("kind", ["CV", "DV"])
def test_shapes_for_images_and_videos(kind):
    m = _model(kind)
    for t, n in ((1, 1), (5, 2), (9, 3)):
        z = m.encode(_video(t=t))
        expect = (2, n, 16, 4, 4) if kind == "CV" else (2, n, 4, 4)
        assert tuple(z.shape) == expect == (2, *m.latent_shape(t, 32, 32))
        assert z.dtype == (torch.float32 if kind == "CV" else torch.int64)
        y = m.decode(z)
        assert y.shape == (2, t, 3, 32, 32) and y.min() >= 0 and y.max() <= 1
    img = m.encode(_video(t=1)[:, 0])  # (B, 3, H, W) images are T = 1 videos
    assert torch.equal(img, m.encode(_video(t=1)))
    if kind == "DV":
        assert 0 <= int(img.min()) and int(img.max()) < 64_000


@pytest.mark.parametrize("kind", ["CV", "DV"])
def test_causal_prefix_latents_and_frames_do_not_change(kind):
    m = _model(kind)
    v = _video(t=13)
    full = m.encode(v)
    for t in (1, 5, 9):
        prefix = m.encode(v[:, :t])
        n = prefix.shape[1]
        assert torch.allclose(prefix.float(), full[:, :n].float(), atol=1e-5), (
            f"latents of {t} frames changed"
        )
        assert torch.allclose(m.decode(prefix), m.decode(full)[:, :t], atol=1e-5), (
            f"decoded {t} frames changed"
        )
    # ... while the latents do depend on the frames they cover (so the check above can fail).
    changed = v.clone()
    changed[:, 5:9] = 1 - changed[:, 5:9]
    z = m.encode(changed)
    assert torch.equal(z[:, :2], full[:, :2]) and not torch.equal(z[:, 2], full[:, 2])


def test_other_compression_settings():
    m = _model("CV", temporal_compression=8, spatial_compression=16)
    assert m.config.name == "CV8x16x16" and m.compression_ratio() == 8 * 16 * 16 * 3 / 16
    assert m.encode(_video(b=1, t=17)).shape == (1, 3, 16, 2, 2)
    img = _model("DV", temporal_compression=1)
    assert img.encode(_video(b=1, t=3)).shape == (1, 3, 4, 4)
    assert _model("DV").bits_per_frame(64, 64) == pytest.approx(64 * np.log2(64_000) / 4)


def test_batched_equals_one_by_one_and_uint8_equals_float():
    m = _model("CV")
    v = _video(b=3, t=5)
    batched = m.encode(v)
    single = torch.cat([m.encode(v[i : i + 1]) for i in range(3)])
    assert torch.allclose(batched, single, atol=1e-5)
    u8 = (v * 255).round().to(torch.uint8)
    assert torch.allclose(m.encode(u8), m.encode(u8.float() / 255), atol=1e-6)
    assert torch.allclose(m.encode(u8.numpy()), m.encode(u8), atol=1e-6)  # numpy input


def test_bad_input_is_refused_with_a_clear_message():
    m = _model("CV")
    v = _video(b=1, t=5)
    with pytest.raises(ValueError, match="channels-last"):
        m.encode(v.permute(0, 1, 3, 4, 2))
    with pytest.raises(ValueError, match=r"needs 1 \+ k\*4 frames, got 6; pass pad=True"):
        m.encode(_video(b=1, t=6))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        m.encode(v * 255)
    with pytest.raises(ValueError, match="uint8"):
        m.encode(v.to(torch.int32))
    with pytest.raises(ValueError, match="multiples of 8"):
        m.encode(torch.rand(1, 1, 3, 30, 32))
    with pytest.raises(ValueError, match=r"\(B, T, 3, H, W\)"):
        m.encode(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="CV latents"):
        m.decode(torch.zeros(1, 2, 4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="DV token ids"):
        _model("DV").decode(torch.zeros(1, 2, 6, 4, 4))


def test_pad_repeats_the_last_frame_and_decode_trims():
    m = _model("CV")
    v = _video(b=1, t=7)
    z = m.encode(v, pad=True)
    padded = torch.cat([v, v[:, -1:], v[:, -1:]], dim=1)
    assert torch.equal(z, m.encode(padded))
    assert m.decode(z, num_frames=7).shape == (1, 7, 3, 32, 32) and m.reconstruct(v, pad=True).shape[1] == 7


@pytest.mark.parametrize("kind", ["CV", "DV"])
def test_save_and_load_round_trip(tmp_path, kind):
    m = _model(kind)
    v = _video(b=1, t=5)
    m.save_pretrained(tmp_path / "fp32", dtype=None)
    again = Tokenizer.from_pretrained(tmp_path / "fp32", device="cpu")
    assert again.config == m.config and not again.training
    assert torch.equal(again.encode(v), m.encode(v))
    m.save_pretrained(tmp_path / "bf16")  # default: bf16 weights, half the bytes
    small = Tokenizer.from_pretrained(tmp_path / "bf16", device="auto")
    size = lambda d: (d / "model.safetensors").stat().st_size  # noqa: E731
    assert size(tmp_path / "bf16") < 0.6 * size(tmp_path / "fp32")
    if kind == "CV":
        assert (small.encode(v) - m.encode(v)).abs().mean() < 0.02 * m.encode(v).abs().mean()
    else:  # bf16 rounding may move a code across a bin edge, but rarely
        assert (small.encode(v) == m.encode(v)).float().mean() > 0.7


def test_loading_the_wrong_kind_of_checkpoint_names_the_file(tmp_path):
    save_checkpoint(tmp_path / "wfm", "wfm", {"x": 1}, {"w": torch.zeros(1)})
    with pytest.raises(
        CheckpointError, match=r"wfm/config\.json is a 'wfm' checkpoint, not a 'tokenizer' one"
    ):
        Tokenizer.from_pretrained(tmp_path / "wfm")
    _model("CV").save_pretrained(tmp_path / "cv")
    (tmp_path / "cv" / "model.safetensors").write_bytes(b"broken")
    with pytest.raises(CheckpointError, match=r"cv/model\.safetensors is truncated or corrupt"):
        Tokenizer.from_pretrained(tmp_path / "cv")


def test_config_is_validated():
    with pytest.raises(ValueError, match="kind must be"):
        TokenizerConfig(kind="VQ")
    with pytest.raises(ValueError, match="temporal_compression"):
        TokenizerConfig(temporal_compression=3)


@pytest.mark.parametrize("name", ["cv4x8x8-nano", "dv4x8x8-nano"])
def test_shipped_checkpoints_reconstruct_a_held_out_clip(name):
    import gymnasium as gym

    import cosmos_sim  # noqa: F401  (registers the ids)
    from cosmos_sim.assets import ASSETS_DIR
    from cosmos_sim.eval.metrics import psnr

    tok = Tokenizer.from_pretrained(ASSETS_DIR / "tokenizers" / name, device="cpu")
    assert tok.config.name.lower() == name.split("-")[0]
    env = gym.make("cosmos_sim/Physics-Bounce-GT-v0")
    env.reset(seed=100_000)  # a held-out seed
    frames = [env.render()]
    for _ in range(4):
        env.step(env.action_space.sample())
        frames.append(env.render())
    env.close()
    video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)[None]  # (1, 5, 3, 64, 64) uint8
    rec = tok.reconstruct(video)
    assert float(psnr(rec, video.float() / 255).mean()) > 28
