"""Autoregressive world model: a GPT over the discrete tokenizer's token ids, with a rolling KV cache.

A frame of a DV tokenizer is ``h*w`` token ids (64 at 8x8), each a mixed-radix number over the
FSQ levels (8, 8, 8, 5, 5, 5) = 64,000 codes. A 64,000-row embedding and softmax would dominate a
nano model on a CPU, so a token is embedded as the **sum of one small embedding per FSQ digit**
and predicted by **factorised heads**, one softmax per digit (8+8+8+5+5+5 = 39 logits instead of
64,000; the digits of one token are predicted independently given the past).

Sequence layout (one block per frame; ``a_t`` is the action taken from frame ``t``)::

    [f_0 tokens (h*w, raster order)] [a_0] [f_1 tokens] [a_1] ... [f_K tokens]

Every position predicts the next frame token (an action position predicts the first token of the
next frame). Positions carry a learned within-frame embedding (cell or action slot) plus 1D
rotary embeddings of the absolute sequence index, which depend only on *relative* distances in
attention: a rolling KV cache can drop its oldest frame block and keep going without
recomputing anything (``step`` costs ``h*w`` single-token forwards over a cache of at most
``(K + 1)`` blocks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.configs import FieldsMapping
from cosmos_sim.world_models.dit import Attention, apply_rope


@dataclass(frozen=True)
class GPTConfig(FieldsMapping):
    """Architecture of the autoregressive dynamics model."""

    fsq_levels: tuple[int, ...] = (8, 8, 8, 5, 5, 5)
    """FSQ levels of the DV tokenizer (one embedding table and one softmax head per level)."""
    latent_size: tuple[int, int] = (8, 8)
    """Token grid of one frame (h, w)."""
    context_frames: int = 4
    """Frames kept in the window before the predicted one (K)."""
    action_dim: int = 7
    """Action vector size."""
    dim: int = 128
    """Transformer width."""
    depth: int = 4
    """Transformer blocks."""
    heads: int = 4
    """Attention heads."""
    mlp_ratio: float = 3.0
    """MLP hidden width / dim."""
    rope_base: float = 10000.0
    """Rotary embedding base over sequence positions."""

    def __post_init__(self):
        object.__setattr__(self, "fsq_levels", tuple(int(v) for v in self.fsq_levels))
        object.__setattr__(self, "latent_size", tuple(int(v) for v in self.latent_size))
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise ConfigError(f"dim={self.dim} must split into {self.heads} heads of an even size")

    @property
    def tokens_per_frame(self) -> int:
        return self.latent_size[0] * self.latent_size[1]

    @property
    def block(self) -> int:
        """Sequence positions per frame: its tokens plus the action that leaves it."""
        return self.tokens_per_frame + 1


class GPTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Causal attention over ``x`` (B, N, D), after the cached keys/values when ``cache`` is given.

        With a cache, the new keys/values are appended to ``cache["k"]``/``cache["v"]`` in place
        of the dict's entries.
        """
        q, k, v = self.attn.split(self.norm1(x))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        n_new = x.shape[1]
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        n_all = k.shape[2]
        if n_new == 1:
            y = F.scaled_dot_product_attention(q, k, v)
        else:  # new queries see every cached key and the new keys up to their own position
            mask = torch.ones(n_new, n_all, dtype=torch.bool, device=x.device).tril(n_all - n_new)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.attn.merge(y)
        return x + self.mlp(self.norm2(x))


@dataclass
class GPTState:
    """Per-rollout state of the AR model: the KV cache and where the sequence stands."""

    caches: list[dict[str, torch.Tensor]] = field(default_factory=list)
    """One {"k", "v"} dict per block, each (B, heads, N, head_dim)."""
    position: int = 0
    """Absolute sequence index of the next position to feed."""
    pending: torch.Tensor | None = None
    """The last frame's final token ids (B, 1), not yet fed to the cache."""
    frame: torch.Tensor | None = None
    """The last frame's token ids (B, h, w)."""


class GPT(nn.Module):
    """Action-conditioned GPT over FSQ token ids with factorised digit embeddings and heads."""

    def __init__(self, config: GPTConfig | None = None):
        super().__init__()
        cfg = config or GPTConfig()
        self.config = cfg
        self.digit_emb = nn.ModuleList(nn.Embedding(n, cfg.dim) for n in cfg.fsq_levels)
        self.action_emb = nn.Sequential(
            nn.Linear(cfg.action_dim, cfg.dim), nn.SiLU(), nn.Linear(cfg.dim, cfg.dim)
        )
        self.slot_emb = nn.Embedding(cfg.block, cfg.dim)  # cell (h, w) of a token, or the action slot
        self.blocks = nn.ModuleList(GPTBlock(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.heads = nn.ModuleList(nn.Linear(cfg.dim, n) for n in cfg.fsq_levels)
        basis = torch.cumprod(torch.tensor([1, *cfg.fsq_levels[:-1]]), 0)
        self.register_buffer("basis", basis, persistent=False)
        self.register_buffer("levels", torch.tensor(cfg.fsq_levels), persistent=False)
        pairs = cfg.dim // cfg.heads // 2
        self.register_buffer(
            "inv_freq", cfg.rope_base ** (-torch.arange(pairs, dtype=torch.float32) / pairs), persistent=False
        )

    # ---- token <-> digits ----------------------------------------------------------------------------
    def digits(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids (...) -> FSQ digits (..., n_levels)."""
        return (ids.long().unsqueeze(-1) // self.basis) % self.levels

    def ids(self, digits: torch.Tensor) -> torch.Tensor:
        return (digits * self.basis).sum(-1)

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        d = self.digits(ids)
        return sum(emb(d[..., i]) for i, emb in enumerate(self.digit_emb))

    def rope(self, start: int, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        pos = torch.arange(start, start + n, device=device, dtype=torch.float32)
        a = pos.unsqueeze(1) * self.inv_freq
        return a.cos(), a.sin()

    # ---- the network ---------------------------------------------------------------------------------
    def sequence(self, frames: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Embeddings of the interleaved sequence of ``frames`` (B, T, h, w) and ``actions`` (B, T-1, A)."""
        b, t = frames.shape[:2]
        n = self.config.tokens_per_frame
        tok = self.embed_tokens(frames.reshape(b, t, n)) + self.slot_emb.weight[:n]
        act = self.action_emb(actions) + self.slot_emb.weight[n]
        x = torch.cat([tok[:, :-1], act.unsqueeze(2)], dim=2).reshape(b, (t - 1) * (n + 1), -1)
        return torch.cat([x, tok[:, -1]], dim=1)

    def run(self, x: torch.Tensor, start: int, caches: list[dict] | None = None) -> torch.Tensor:
        cos, sin = self.rope(start, x.shape[1], x.device)
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, None if caches is None else caches[i])
        return self.norm(x)

    def logits(self, h: torch.Tensor) -> list[torch.Tensor]:
        return [head(h) for head in self.heads]

    def loss(self, frames: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy (summed over the FSQ digits) of every frame token after the first frame.

        Args:
            frames: ``(B, T, h, w)`` token ids, T = K + 1 frames.
            actions: ``(B, T - 1, action_dim)``: ``actions[:, i]`` leads from frame i to i + 1.
        """
        n = self.config.tokens_per_frame
        h = self.run(self.sequence(frames, actions), 0)
        # Position p predicts position p + 1; the targets are the tokens of frames 1..T-1.
        b, t = frames.shape[:2]
        pred = h[:, n:].reshape(b, t - 1, n + 1, -1)[:, :, :n]  # action slot + first n-1 tokens of each
        target = self.digits(frames[:, 1:].reshape(b, t - 1, n))
        return sum(
            F.cross_entropy(lg.flatten(0, 2).float(), target[..., i].flatten())
            for i, lg in enumerate(self.logits(pred))
        )

    # ---- rollout with the KV cache -------------------------------------------------------------------
    @torch.no_grad()
    def start(self, frames: torch.Tensor, actions: torch.Tensor, position: int = 0) -> GPTState:
        """Prefill the cache with context ``frames`` (B, K, h, w) and the actions between them (B, K-1, A).

        The last frame's final token is left pending (fed with the next action), so a fresh state
        and a stepped one hold caches of the same length. ``position`` is the absolute index of
        the first context token (the env aligns restarted rows with the rest of the batch).
        """
        state = GPTState(caches=[{} for _ in self.blocks])
        x = self.sequence(frames, actions)[:, :-1]
        self.run(x, position, state.caches)
        state.position = position + x.shape[1]
        state.frame = frames[:, -1]
        state.pending = frames[:, -1].flatten(1)[:, -1:]
        return state

    def cache_length(self) -> int:
        """Cached positions between steps: K frame blocks minus the pending token."""
        return self.config.context_frames * self.config.block - 2

    def _choose(
        self, logits: list[torch.Tensor], temperature: float, generator: torch.Generator | None
    ) -> torch.Tensor:
        digits = []
        for lg in logits:
            lg = lg[:, -1].float()
            if temperature <= 0:
                digits.append(lg.argmax(-1))
            else:
                p = torch.softmax(lg / temperature, -1)
                digits.append(torch.multinomial(p, 1, generator=generator).squeeze(1))
        return self.ids(torch.stack(digits, -1))

    @torch.no_grad()
    def step(
        self,
        state: GPTState,
        action: torch.Tensor,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
        trace: list | None = None,
    ) -> torch.Tensor:
        """Generate the next frame's token ids ``(B, h, w)`` after ``action`` (B, A); updates ``state``.

        ``temperature`` 0 takes the most likely digit of every FSQ level (deterministic). ``trace``, a list,
        receives each token's per-digit logits ``[(B, levels_i)]`` (to inspect or test the cached path).
        """
        cfg = self.config
        n = cfg.tokens_per_frame
        act = self.action_emb(action.float()).unsqueeze(1) + self.slot_emb.weight[n]
        x = torch.cat([self.embed_tokens(state.pending) + self.slot_emb.weight[n - 1], act], dim=1)
        out = []
        for i in range(n):
            h = self.run(x, state.position, state.caches)
            state.position += x.shape[1]
            logits = self.logits(h)
            if trace is not None:
                trace.append([lg[:, -1].float() for lg in logits])
            tok = self._choose(logits, temperature, generator).unsqueeze(1)  # (B, 1)
            out.append(tok)
            if i < n - 1:
                x = self.embed_tokens(tok) + self.slot_emb.weight[i]
        state.pending = out[-1]
        # Keep at most K complete blocks (+ the pending token): drop the oldest frame block.
        for c in state.caches:
            extra = c["k"].shape[2] - self.cache_length()
            if extra > 0:
                c["k"], c["v"] = c["k"][:, :, extra:], c["v"][:, :, extra:]
        frame = torch.cat(out, dim=1).view(-1, *cfg.latent_size)
        state.frame = frame
        return frame

    def select(self, state: GPTState, rows: torch.Tensor, other: GPTState) -> GPTState:
        """``state`` with the rows where ``rows`` (bool (B,)) is set taken from ``other``.

        ``other`` must have been started at ``state.position - cache_length()`` (autoreset does
        this), so both caches cover the same absolute positions.
        """
        if other.position != state.position:
            raise ValueError(f"states at positions {state.position} and {other.position} cannot be mixed")
        m = rows.view(-1, 1, 1, 1)
        caches = [
            {k: torch.where(m, o[k], c[k]) for k in ("k", "v")}
            for c, o in zip(state.caches, other.caches, strict=True)
        ]
        pending = torch.where(rows.view(-1, 1), other.pending, state.pending)
        frame = torch.where(rows.view(-1, 1, 1), other.frame, state.frame)
        return GPTState(caches, state.position, pending, frame)


__all__ = ["GPT", "GPTConfig", "GPTState"]
