"""Text-conditioned DiT (the ``text-diffusion`` family): Text2World and Video2World from a prompt.

``TextDiT`` is the DiT of ``dit.py`` (same blocks, patchify, EDM preconditioning and sampler; the weights
of a plain DiT load into it unchanged) with, after every block, a cross-attention from the frame's tokens
to the prompt's token embeddings (Cosmos-Predict's T5 cross-attention, here over
``world_models/text_encoder.py``'s tiny T5)::

    tokens = block(tokens, emb)                      # self-attention + MLP, AdaLN-Zero (dit.DiTBlock)
    tokens = tokens + gate * CrossAttn(LN(tokens), [register; W text])   # zero-initialised output

The key/value set always holds one learned register token, so a dropped prompt (the null prompt of
classifier-free guidance, ``TextCond.drop``) attends to it alone. Sampling with ``guidance`` g != 1 runs
the conditional and the null-prompt branch in one doubled batch: ``D = D_null + g (D_text - D_null)``.

Text2World starts from no frame: ``TextCond.blank`` replaces every context slot by a learned null latent
and the model draws the first frame (``first_frame_steps`` Heun steps); from there the rollout is
Video2World from one frame (the first frame repeated in the K slots, as every episode starts in
training). Video2World takes 1 or K (= 9) given frames.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.dit import DiT, DiTConfig, modulate
from cosmos_sim.world_models.families import Diffusion, register_family


@dataclass(frozen=True)
class TextDiTConfig(DiTConfig):
    """A ``DiTConfig`` plus the prompt's cross-attention and the Text2World sampler."""

    text_dim: int = 64
    """Width of the text encoder's token embeddings (its ``d_model``)."""
    guidance: float = 3.0
    """Default classifier-free guidance scale at sampling (1 = no guidance, the conditional model alone)."""
    first_frame_steps: int = 12
    """Heun steps that draw a Text2World first frame from noise (the later frames use the bundle's
    ``sampler_steps``: they only move what the context shows)."""
    text_encoder: str = "text_encoder"
    """The text encoder's Hugging Face directory, relative to the bundle (or an absolute path)."""

    def __post_init__(self):
        super().__post_init__()
        if self.context_mode != "concat":
            raise ConfigError("the text DiT supports context_mode='concat' only (the CPU default)")
        if self.text_dim < 1 or self.first_frame_steps < 1 or self.guidance < 0:
            raise ConfigError(
                f"text_dim={self.text_dim}, first_frame_steps={self.first_frame_steps} must be >= 1 and "
                f"guidance={self.guidance} >= 0"
            )


@dataclass
class TextCond:
    """What the text DiT is conditioned on besides the noisy latent and the context (the DiT's ``action``
    argument: ``DiT.sample``/``DiT.loss`` pass it through untouched)."""

    action: torch.Tensor
    """(B, action_dim)."""
    text: torch.Tensor
    """(B, L, text_dim) token embeddings (zero at padding)."""
    mask: torch.Tensor
    """(B, L) bool: real tokens."""
    drop: torch.Tensor | None = None
    """(B,) bool: the null prompt for these rows (prompt dropout / the guidance's unconditional branch)."""
    blank: torch.Tensor | None = None
    """(B,) bool: no context frames (Text2World's first frame): the K slots hold the learned null latent."""
    guidance: float = 1.0
    """Classifier-free guidance scale used by ``forward`` (1: the conditional model alone)."""

    def rows(self, b: int) -> TextCond:
        """The same condition for a batch of b rows (a single prompt is broadcast)."""
        if self.text.shape[0] == b:
            return self
        if self.text.shape[0] != 1:
            raise ConfigError(f"{self.text.shape[0]} prompts for {b} rows; give one prompt or one per row")
        grow = lambda t: None if t is None else t.expand(b, *t.shape[1:])  # noqa: E731
        return replace(
            self, text=grow(self.text), mask=grow(self.mask), drop=grow(self.drop), blank=grow(self.blank)
        )


class CrossAttention(nn.Module):
    """Frame tokens (queries) attend to text tokens (keys/values); the output projection starts at zero."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        nn.init.zeros_(self.proj.weight)  # a plain DiT's behaviour at initialisation
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q = self.q(self.norm(x)).view(b, n, self.heads, -1).transpose(1, 2)
        k, v = self.kv(text).view(b, text.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
        return self.proj(y.transpose(1, 2).reshape(b, n, d))


class TextDiT(DiT):
    """EDM denoiser ``D(x, sigma, context, TextCond)`` (see the module docstring)."""

    def __init__(self, config: TextDiTConfig | None = None):
        cfg = config or TextDiTConfig()
        super().__init__(cfg)
        self.text_in = nn.Sequential(nn.Linear(cfg.text_dim, cfg.dim), nn.LayerNorm(cfg.dim, eps=1e-6))
        self.register = nn.Parameter(torch.randn(1, 1, cfg.dim) * 0.02)
        self.cross = nn.ModuleList(CrossAttention(cfg.dim, cfg.heads) for _ in range(cfg.depth))
        self.null_latent = nn.Parameter(torch.zeros(1, 1, cfg.latent_channels, *cfg.latent_size))

    def text_tokens(self, cond: TextCond) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys/values ``(B, 1 + L, dim)`` and their mask: the register token, then the prompt's tokens."""
        b = cond.text.shape[0]
        text = self.text_in(cond.text.to(self.register.dtype))
        mask = cond.mask.bool()
        if cond.drop is not None:
            mask = mask & ~cond.drop.view(-1, 1)
        reg = self.register.expand(b, 1, -1).to(text.dtype)
        ones = torch.ones(b, 1, dtype=torch.bool, device=mask.device)
        return torch.cat([reg, text], 1), torch.cat([ones, mask], 1)

    def raw(
        self, x_in: torch.Tensor, c_noise: torch.Tensor, context: torch.Tensor, cond: TextCond
    ) -> torch.Tensor:
        if cond.blank is not None:
            null = self.null_latent.to(context.dtype).expand_as(context)
            context = torch.where(cond.blank.view(-1, 1, 1, 1, 1), null, context)
        tokens = self.patch_in(self.patchify(torch.cat([context.flatten(1, 2), x_in], dim=1).unsqueeze(1)))
        emb = F.silu(self.noise_emb(c_noise) + self.action_emb(cond.action))
        text, mask = self.text_tokens(cond)
        for blk, cross in zip(self.blocks, self.cross, strict=True):
            tokens = blk(tokens, emb, self.rope_cos, self.rope_sin)
            tokens = tokens + cross(tokens, text.to(tokens.dtype), mask)
        shift, scale = self.final_ada(emb).chunk(2, dim=1)
        return self.unpatchify(self.patch_out(modulate(self.final_norm(tokens), shift, scale)))

    def forward(
        self, x: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor, cond: TextCond
    ) -> torch.Tensor:
        cond = cond.rows(x.shape[0])
        if cond.guidance == 1.0:
            return super().forward(x, sigma, context, cond)
        b = x.shape[0]
        two = lambda t: None if t is None else torch.cat([t, t])  # noqa: E731
        on = torch.zeros(b, dtype=torch.bool, device=x.device) if cond.drop is None else cond.drop.bool()
        drop = torch.cat(
            [on, torch.ones(b, dtype=torch.bool, device=x.device)]
        )  # null rows: both branches null
        both = TextCond(two(cond.action), two(cond.text), two(cond.mask), drop, two(cond.blank))
        d = super().forward(two(x), two(sigma), two(context), both)
        return d[b:] + cond.guidance * (d[:b] - d[b:])


# ---- the family ------------------------------------------------------------------------------------
class TextDiffusion(Diffusion):
    """The ``text-diffusion`` family: a TextDiT whose rollout memory is the prompt (``TextCond``).

    ``WorldModel.start`` gives a state without a prompt; ``with_prompt(wm, state, cond)`` (or
    ``TextWorld``) puts one in its ``cache``. Training batches carry ``text``, ``text_mask``, ``drop`` and
    ``blank`` (``cosmos_sim/train/text_wfm.py``)."""

    name, config_class, network = "text-diffusion", TextDiTConfig, TextDiT
    cell_weights, unrolls = False, False

    def dynamics_config(self, args, tokenizer, latent_size, action_dim, views):
        base = super().dynamics_config(args, tokenizer, latent_size, action_dim, views)
        return TextDiTConfig(**{**base}, text_dim=getattr(args, "text_dim", TextDiTConfig.text_dim))

    def predict(self, wm, state, action, noise, generator, waypoints):
        cond = state.cache
        if not isinstance(cond, TextCond):
            raise ConfigError(
                "a text world model's rollout needs a prompt: use TextWorld or with_prompt(state)"
            )
        cfg = wm.config
        cond = replace(cond.rows(action.shape[0]), action=action)
        steps, sampler = (
            (cfg.dynamics.first_frame_steps, "heun")
            if cond.blank is not None and bool(cond.blank.any())
            else (cfg.sampler_steps, cfg.sampler)
        )
        return wm.dynamics.sample(state.window, cond, steps=steps, sampler=sampler, noise=noise).float()

    def restart(self, wm, state, rows, context):
        return state.cache

    def train_condition(self, dynamics, batch, args):
        return TextCond(
            batch["action"], batch["text"].float(), batch["text_mask"], batch.get("drop"), batch.get("blank")
        )


register_family(TextDiffusion())


# ---- Text2World / Video2World ----------------------------------------------------------------------
class TextWorld:
    """A text world model bundle and its text encoder: ``generate(prompt, frames=None) -> video``.

    ``TextWorld.from_pretrained(DIR, text_encoder=None)`` loads a ``text-diffusion`` bundle and the encoder
    its config names (or ``text_encoder``: any local HF encoder directory of the same width)."""

    def __init__(self, wm: Any, encoder: Any):
        if wm.config.family != TextDiffusion.name:
            raise ConfigError(
                f"a {wm.config.family!r} bundle is not a text world model (need 'text-diffusion')"
            )
        if encoder.dim != wm.config.dynamics.text_dim:
            raise ConfigError(
                f"the text encoder gives {encoder.dim}-wide embeddings, this model was trained on "
                f"{wm.config.dynamics.text_dim}; use the encoder it was trained with"
            )
        self.wm, self.encoder = wm, encoder

    @classmethod
    def from_pretrained(cls, name_or_dir, text_encoder=None, device: str = "auto") -> TextWorld:
        from pathlib import Path

        from cosmos_sim.world_models.text_encoder import TextEncoder
        from cosmos_sim.world_models.wfm import WorldModel

        wm = WorldModel.from_pretrained(name_or_dir, device=device).eval()
        root = WorldModel.resolve_pretrained(name_or_dir)
        enc_dir = Path(text_encoder) if text_encoder else root / wm.config.dynamics.text_encoder
        return cls(wm, TextEncoder.from_pretrained(enc_dir, device=str(wm.device)))

    def condition(self, prompts: list[str | None], guidance: float | None = None) -> TextCond:
        """The condition of one prompt per row (None or "": the null prompt for that row)."""
        emb, mask = self.encoder.encode([p or "" for p in prompts])
        dev = self.wm.device
        drop = torch.tensor([not p for p in prompts], device=dev)
        g = self.wm.config.dynamics.guidance if guidance is None else float(guidance)
        a = torch.zeros(len(prompts), self.wm.config.dynamics.action_dim, device=dev)
        return TextCond(a, emb.to(dev), mask.to(dev), drop, None, g)

    @torch.no_grad()
    def generate(
        self,
        prompt: str | None,
        frames: np.ndarray | None = None,
        num_frames: int = 24,
        guidance: float | None = None,
        seed: int = 0,
    ) -> np.ndarray:
        """Video ``(num_frames, H, W, 3)`` uint8 after the given ``frames`` ``(T, H, W, 3)`` (Video2World: the
        last K are the context, fewer are padded with the first one), or from nothing (``frames=None``,
        Text2World: the first returned frame is generated too). ``prompt`` None/"": no prompt."""
        batch = None if frames is None or len(frames) == 0 else np.asarray(frames)[None]
        return self.generate_batch([prompt], batch, num_frames, guidance, seed)[0]

    @torch.no_grad()
    def generate_batch(
        self,
        prompts: list[str | None],
        frames: np.ndarray | None = None,
        num_frames: int = 24,
        guidance: float | None = None,
        seed: int = 0,
    ) -> np.ndarray:
        """``generate`` for several rows at once: ``(B, num_frames, H, W, 3)``; ``frames`` ``(B, T, H, W, 3)``
        or None; row i's noise comes from seed + i, so a row's video does not depend on the batch."""
        wm, k, b = self.wm, self.wm.context_frames, len(prompts)
        cond = self.condition(prompts, guidance)
        gens = [torch.Generator().manual_seed(int(seed) + i) for i in range(b)]
        zero = np.zeros((b, cond.action.shape[1]), np.float32)
        out = []
        if frames is None:
            blank = torch.zeros(b, k, *wm.dynamics.latent_shape, device=wm.device)
            rows = torch.ones(b, dtype=torch.bool, device=wm.device)
            state = replace(wm.start(blank), cache=replace(cond, blank=rows))
            _, first = wm.predict_next(state, zero, wm.noise(gens))
            ctx = first.unsqueeze(1).expand(b, k, *first.shape[1:])
            out.append(wm.decode(first))
        else:
            frames = np.asarray(frames)
            if frames.ndim != 5 or frames.shape[0] != b or frames.shape[-1] != 3:
                raise ConfigError(f"frames must be (B={b}, T, H, W, 3) uint8, got {frames.shape}")
            z = wm.encode(frames[:, -k:])
            ctx = torch.cat([z[:, :1].expand(b, k - z.shape[1], *z.shape[2:]), z], dim=1)
        state = replace(wm.start(ctx), cache=cond)
        while len(out) < num_frames:
            state, nxt = wm.predict_next(state, zero, wm.noise(gens))
            out.append(wm.decode(nxt))
        return np.stack(out[:num_frames], axis=1)


__all__ = ["CrossAttention", "TextCond", "TextDiT", "TextDiTConfig", "TextDiffusion", "TextWorld"]
