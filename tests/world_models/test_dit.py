"""The diffusion transformer: patchify, 3D RoPE, EDM preconditioning, sampling, and that it learns."""

import pytest
import torch

from cosmos_sim.world_models.dit import DiT, DiTConfig, apply_rope, rope_3d

TINY = dict(latent_channels=4, latent_size=(4, 4), context_frames=2, dim=32, depth=2, heads=2)


def test_patchify_round_trip_and_token_order():
    m = DiT(DiTConfig(**TINY, patch=(2, 2)))
    x = torch.randn(3, 1, 4, 4, 4)
    tokens = m.patchify(x)
    assert tokens.shape == (3, 4, 16)  # 2x2 patches of 4 channels x 2 x 2
    assert torch.equal(m.unpatchify(tokens), x[:, 0])
    # token 1 is the patch at row 0, column 1: cells (0..1, 2..3)
    assert torch.equal(tokens[0, 1].view(4, 2, 2), x[0, 0, :, 0:2, 2:4])


def test_rope_scores_depend_only_on_relative_position():
    split = (2, 3, 3)
    q, k = torch.randn(16), torch.randn(16)
    pos = torch.tensor([[0, 1, 2], [3, 5, 7], [10, 1, 2], [13, 5, 7]])
    cos, sin = rope_3d(pos, split)
    rq, rk = apply_rope(q.expand(4, 16), cos, sin), apply_rope(k.expand(4, 16), cos, sin)
    # (0,1,2)->(3,5,7) and (10,1,2)->(13,5,7) have the same offset: same attention score
    assert torch.allclose(rq[0] @ rk[1], rq[2] @ rk[3], atol=1e-5)
    assert not torch.allclose(rq[0] @ rk[1], rq[0] @ rk[3], atol=1e-3)
    assert torch.allclose(rq.norm(dim=1), q.norm().expand(4), atol=1e-5)  # rotations keep the norm


def test_untrained_denoiser_is_the_edm_skip_connection():
    # The output layer starts at zero, so D(x, sigma) = c_skip(sigma) * x exactly.
    m = DiT(DiTConfig(**TINY))
    x, sigma = torch.randn(2, 4, 4, 4), torch.tensor([0.5, 3.0])
    d = m(x, sigma, torch.randn(2, 2, 4, 4, 4), torch.randn(2, 7))
    c_skip = 1 / (sigma**2 + 1)
    assert torch.allclose(d, c_skip.view(-1, 1, 1, 1) * x, atol=1e-6)


@pytest.mark.parametrize("mode", ["concat", "tokens"])
def test_sampling_is_reproducible_and_shaped(mode):
    m = DiT(DiTConfig(**TINY, context_mode=mode)).eval()
    for p in m.parameters():  # break the zero init so the network matters
        torch.nn.init.normal_(p, std=0.05)
    ctx, a = torch.randn(3, 2, 4, 4, 4), torch.randn(3, 7)
    noise = torch.randn(3, 4, 4, 4)
    x1 = m.sample(ctx, a, steps=3, noise=noise)
    assert x1.shape == (3, 4, 4, 4)
    assert torch.equal(x1, m.sample(ctx, a, steps=3, noise=noise))
    assert not torch.allclose(x1, m.sample(ctx, -a, steps=3, noise=noise))  # the action matters
    assert torch.isfinite(m.sample(ctx, a, steps=2, sampler="heun", noise=noise)).all()
    sig = m.sigmas(3)
    assert float(sig[0]) == pytest.approx(m.config.sigma_max, rel=1e-5)
    assert float(sig[-2]) == pytest.approx(m.config.sigma_min, rel=1e-5) and sig[-1] == 0


def test_learns_an_action_dependent_shift():
    # Next latent = last context latent + action[0]: a few hundred steps get the loss well down.
    torch.manual_seed(0)
    m = DiT(DiTConfig(**TINY))
    opt = torch.optim.AdamW(m.parameters(), lr=2e-3)
    first = None
    for _ in range(80):
        ctx, a = torch.randn(32, 2, 4, 4, 4), torch.randn(32, 7)
        target = ctx[:, -1] + a[:, :1, None, None]
        loss = m.loss(target, ctx, a)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first or loss.item()
    m.eval()
    ctx, a = torch.randn(64, 2, 4, 4, 4), torch.randn(64, 7)
    noise = torch.randn(64, 4, 4, 4)
    pred = m.sample(ctx, a, steps=3, noise=noise)
    err = (pred - (ctx[:, -1] + a[:, :1, None, None])).pow(2).mean()
    blind = (a[:, :1] ** 2).mean()  # the error of the best action-blind guess, ctx[:, -1]
    assert err < 0.3 * blind
    # The action moves the prediction by the action: same context and noise, another action.
    a2 = a.clone()
    a2[:, 0] = -a[:, 0]
    pred2 = m.sample(ctx, a2, steps=3, noise=noise)
    shift = (pred2 - pred).mean((1, 2, 3))
    assert torch.corrcoef(torch.stack([shift, -2 * a[:, 0]]))[0, 1] > 0.9
    assert loss.item() < 0.5 * first


@pytest.mark.parametrize("mode", ["concat", "tokens"])
def test_residual_diffuses_the_change_from_the_last_context_latent(mode):
    plain = DiT(DiTConfig(**TINY, context_mode=mode)).eval()
    for p in plain.parameters():  # break the zero init so the network matters
        torch.nn.init.normal_(p, std=0.05)
    res = DiT(DiTConfig(**TINY, context_mode=mode, residual=True)).eval()
    res.load_state_dict(plain.state_dict())  # the same weights: the residual adds no parameter
    ctx, a, noise = torch.randn(3, 2, 4, 4, 4), torch.randn(3, 7), torch.randn(3, 4, 4, 4)
    # Sampling: the same denoising chain, then the last context latent added back.
    assert torch.allclose(
        res.sample(ctx, a, steps=2, noise=noise), plain.sample(ctx, a, steps=2, noise=noise) + ctx[:, -1]
    )
    # Training: the loss of the next latent is the plain loss of its change.
    target = ctx[:, -1] + 0.1 * torch.randn(3, 4, 4, 4)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.allclose(
        res.loss(target, ctx, a, generator=g1), plain.loss(target - ctx[:, -1], ctx, a, generator=g2)
    )


def test_context_aug_starts_as_the_base_and_then_reads_the_announced_level():
    base = DiT(DiTConfig(**TINY)).eval()
    for p in base.parameters():  # break the zero init so the network matters
        torch.nn.init.normal_(p, std=0.05)
    aug = DiT(DiTConfig(**TINY, context_aug=0.5)).eval()
    missing = aug.load_state_dict(base.state_dict(), strict=False).missing_keys
    assert missing == ["context_sigma_emb.1.weight", "context_sigma_emb.1.bias"]  # the only new weights
    ctx, a, noise = torch.randn(3, 2, 4, 4, 4), torch.randn(3, 7), torch.randn(3, 4, 4, 4)
    want = base.sample(ctx, a, steps=2, noise=noise)
    for level in (0.0, 0.3):  # zero-initialised: a fine-tune starts from the base's predictions
        assert torch.allclose(aug.sample(ctx, a, steps=2, noise=noise, context_sigma=level), want)
    torch.nn.init.normal_(aug.context_sigma_emb[1].weight, std=0.05)
    clean, noisy = (aug.sample(ctx, a, steps=2, noise=noise, context_sigma=v) for v in (0.0, 0.3))
    assert not torch.allclose(clean, noisy)
    assert torch.equal(clean, aug.sample(ctx, a, steps=2, noise=noise))  # not announced = 0
    target = torch.randn(3, 4, 4, 4)
    loss = aug.loss(target, ctx, a, context_sigma=torch.tensor([0.0, 0.2, 0.4]))
    loss.backward()
    assert aug.context_sigma_emb[1].weight.grad.abs().sum() > 0  # it learns from the level
    with pytest.raises(ValueError, match="context_aug must be >= 0"):
        DiTConfig(context_aug=-0.1)


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="context_mode"):
        DiTConfig(context_mode="cross")
    with pytest.raises(ValueError, match="patch"):
        DiTConfig(latent_size=(8, 8), patch=(3, 3))
    with pytest.raises(ValueError, match="sigma_data must be > 0, got 0"):
        DiTConfig(sigma_data=0)
    with pytest.raises(ValueError, match="sampler"):
        DiT(DiTConfig(**TINY)).sample(torch.zeros(1, 2, 4, 4, 4), torch.zeros(1, 7), sampler="dpm")
