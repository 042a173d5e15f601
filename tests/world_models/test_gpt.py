"""The autoregressive GPT: factorised FSQ digits, the KV cache equals full recomputation, training signal."""

import torch
import torch.nn.functional as F

from cosmos_sim.world_models.gpt import GPT, GPTConfig, apply_rope

TINY = dict(latent_size=(2, 3), context_frames=2, dim=32, depth=2, heads=2)


def _randomised(cfg: GPTConfig) -> GPT:
    torch.manual_seed(0)
    m = GPT(cfg).eval()
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.3)
    return m


def test_digits_round_trip_through_token_ids():
    m = GPT(GPTConfig(**TINY))
    ids = torch.randint(0, 64000, (5, 7))
    d = m.digits(ids)
    assert d.shape == (5, 7, 6)
    assert (d < torch.tensor([8, 8, 8, 5, 5, 5])).all()
    assert torch.equal(m.ids(d), ids)


def _greedy_full(m: GPT, frames: torch.Tensor, actions: torch.Tensor, action: torch.Tensor):
    """The next frame by recomputing the whole sequence for every token (no cache), and every token's
    per-digit logits."""
    n = m.config.tokens_per_frame
    b = frames.shape[0]
    out = torch.zeros(b, n, dtype=torch.long)
    trace = []
    for i in range(n):
        seq = torch.cat(
            [m.sequence(frames, actions)[:, :], (m.action_emb(action) + m.slot_emb.weight[n]).unsqueeze(1)], 1
        )
        if i:
            seq = torch.cat([seq, m.embed_tokens(out[:, :i]) + m.slot_emb.weight[:i]], 1)
        logits = m.logits(m.run(seq, 0))
        trace.append([lg[:, -1].float() for lg in logits])
        out[:, i] = m._choose(logits, 0.0, None)
    return out.view(b, *m.config.latent_size), trace


def _assert_same_logits(cached: list, full: list) -> None:
    assert len(cached) == len(full)
    for i, (c, f) in enumerate(zip(cached, full, strict=True)):
        for d, (lc, lf) in enumerate(zip(c, f, strict=True)):
            assert torch.allclose(lc, lf, atol=1e-5, rtol=1e-4), f"token {i}, digit {d}"


def _sliding_window_logits(m: GPT, frames, actions, action, tokens, window_from: int, first_new: int):
    """Reference for a step after the cache rolled: the whole sequence recomputed, where queries from
    ``first_new`` on see only keys from ``window_from`` on (the dropped block's keys are gone, but the kept
    keys were computed while it was visible, exactly as in the cache)."""
    n = m.config.tokens_per_frame
    seq = torch.cat(
        [m.sequence(frames, actions), (m.action_emb(action) + m.slot_emb.weight[n]).unsqueeze(1)], 1
    )
    trace = []
    for i in range(n):
        x = seq if i == 0 else torch.cat([seq, m.embed_tokens(tokens[:, :i]) + m.slot_emb.weight[:i]], 1)
        q_pos = torch.arange(x.shape[1]).unsqueeze(1)
        k_pos = torch.arange(x.shape[1]).unsqueeze(0)
        mask = (k_pos <= q_pos) & ((q_pos < first_new) | (k_pos >= window_from))
        cos, sin = m.rope(0, x.shape[1], x.device)
        for blk in m.blocks:
            q, k, v = blk.attn.split(blk.norm1(x))
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            x = x + blk.attn.merge(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
            x = x + blk.mlp(blk.norm2(x))
        trace.append([lg[:, -1].float() for lg in m.logits(m.norm(x))])
    return trace


@torch.no_grad()
def test_kv_cache_step_equals_full_recomputation_and_rolls():
    m = _randomised(GPTConfig(**TINY))
    frames = torch.randint(0, 64000, (3, 2, 2, 3))
    acts = torch.randn(3, 1, 7)
    state = m.start(frames, acts)
    a1, a2 = torch.randn(3, 7), torch.randn(3, 7)
    trace = []
    f1 = m.step(state, a1, trace=trace)
    full, full_trace = _greedy_full(m, frames, acts, a1)
    assert torch.equal(f1, full)
    _assert_same_logits(trace, full_trace)  # logits, not only their argmax: a stale token cannot hide
    assert (
        state.caches[0]["k"].shape[2] == m.cache_length()
    )  # the window rolled: K blocks minus the pending token
    first_new = state.position  # where f1's last token (pending) goes: the next step's first input
    trace = []
    f2 = m.step(state, a2, trace=trace)
    # After the roll the new tokens attend only to the last K frame blocks (a sliding window).
    everything = torch.stack([frames[:, 0], frames[:, 1], f1], 1)
    reference = _sliding_window_logits(
        m,
        everything,
        torch.cat([acts, a1.unsqueeze(1)], 1),
        a2,
        f2.flatten(1),
        first_new - m.cache_length(),
        first_new,
    )
    _assert_same_logits(trace, reference)
    # And the window is the last K frames: the oldest frame changes nothing but what the kept keys carry.
    window = torch.stack([frames[:, 1], f1], 1)
    assert torch.equal(f2, _greedy_full(m, window, a1.unsqueeze(1), a2)[0])


def test_restarted_rows_match_a_fresh_start():
    m = _randomised(GPTConfig(**TINY))
    frames = torch.randint(0, 64000, (2, 2, 2, 3))
    state = m.start(frames, torch.zeros(2, 1, 7))
    m.step(state, torch.randn(2, 7))
    new = torch.randint(0, 64000, (2, 2, 2, 3))
    fresh = m.start(new, torch.zeros(2, 1, 7), position=state.position - m.cache_length())
    mixed = m.select(state, torch.tensor([False, True]), fresh)
    a = torch.randn(2, 7)
    got = m.step(mixed, a)
    alone = m.step(m.start(new[1:], torch.zeros(1, 1, 7)), a[1:])
    assert torch.equal(got[1:], alone)


def test_loss_starts_near_uniform_and_drops_when_overfitting():
    torch.manual_seed(0)
    m = GPT(GPTConfig(**TINY))
    frames, acts = torch.randint(0, 64000, (4, 3, 2, 3)), torch.randn(4, 2, 7)
    uniform = sum(torch.log(torch.tensor(float(n))) for n in (8, 8, 8, 5, 5, 5))
    first = m.loss(frames, acts)
    assert abs(first.item() - uniform.item()) < 1.5
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    for _ in range(60):
        loss = m.loss(frames, acts)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first.item()
