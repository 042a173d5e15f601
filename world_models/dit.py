"""Diffusion transformer (DiT) that denoises the next frame's latent, conditioned on past latents and an action.

The denoiser follows the Cosmos recipe at nano scale, in EDM form (Karras et al. 2022)::

    noisy next latent (B, C, h, w)  +  K context latents (B, K, C, h, w)
      -> 3D patchify (pt=1 frame, ph x pw cells) -> tokens
      -> N transformer blocks: self-attention with 3D RoPE over (t, h, w), MLP, both AdaLN-Zero
         modulated by  emb = MLP(Fourier(c_noise)) + MLP(action)   (Cosmos adds the action
         embedding to the timestep embedding)
      -> final AdaLN + linear -> unpatchify -> F(x), with EDM preconditioning
         D(x, sigma) = c_skip * x + c_out * F(c_in * x, c_noise)

Two ways to show the model its K context frames (``context_mode``):
    "concat"  (DIAMOND) the context latents are stacked on the channels of the noisy latent, so the
              transformer sees h*w tokens; cheapest, and what the shipped CPU model uses.
    "tokens"  (Cosmos) every context frame is patchified into its own tokens at time t = 0..K-1 and
              the noisy frame at t = K; attention runs over (K+1)*h*w tokens and the output is read
              from the last frame's tokens. About (K+1)^2 x the attention cost and (K+1) x the rest.

Latents are expected normalised (zero mean, unit variance per channel; ``sigma_data`` = 1). With
``residual`` the model diffuses the change from the last context latent instead (``sigma_data`` then about
the change's RMS, 0.5 in the manipulation scene): what stays put costs the network nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models import body_maps, state_maps
from cosmos_sim.world_models.configs import FieldsMapping


@dataclass(frozen=True)
class DiTConfig(FieldsMapping):
    """Architecture and EDM settings of the diffusion dynamics model."""

    latent_channels: int = 16
    """Channels of one frame's latent (16 for a CV tokenizer)."""
    latent_size: tuple[int, int] = (8, 8)
    """Latent height and width (64x64 frames with 8x spatial compression -> 8x8)."""
    context_frames: int = 4
    """Past latents the prediction is conditioned on (K)."""
    action_dim: int = 7
    """Action vector size."""
    context_mode: str = "concat"
    """"concat" (context on channels, DIAMOND) or "tokens" (context frames as tokens, Cosmos)."""
    patch: tuple[int, int] = (1, 1)
    """Spatial patch size (ph, pw) of the 3D patchify; the temporal patch is one frame."""
    dim: int = 160
    """Transformer width."""
    depth: int = 5
    """Transformer blocks."""
    heads: int = 5
    """Attention heads (dim / heads must be even: rotary pairs are split over t, h, w)."""
    mlp_ratio: float = 3.0
    """MLP hidden width / dim."""
    sigma_data: float = 1.0
    """EDM: standard deviation of what is diffused (the normalised latent: 1; its change with ``residual``:
    about 0.5 in the manipulation scene)."""
    residual: bool = False
    """Diffuse the change from the last context latent (next - last) instead of the next latent: what stays
    put is zero, so the network spends itself on what moves. Measured on the manipulation scene: see
    ``benchmarks/fidelity_ablation.md``."""
    context_aug: float = 0.0
    """Noise augmentation of the context (GameNGen): in training the context latents get Gaussian noise of a
    std drawn from U(0, this) per sample and the network is told that std (an embedding added to its
    conditioning, zero-initialised), so it learns to repair a context it cannot trust: at inference, its own
    drifted frames. 0: off. Plain ``DiT`` only."""
    state_maps: bool = False
    """A renderer of state (``world_models/state_maps.py``): the last ``len(state_maps.TAIL)`` action entries
    are a state, drawn as maps added to the input tokens through a zero-initialised projection. Concat mode."""
    state_bodies: tuple[int, ...] = ()
    """A renderer of a MuJoCo env's state (``world_models/body_maps.py``): per drawn body, the index of its
    drawn parent (-1: none); the last 2 x len action entries are the bodies' latent-cell u, v, drawn as one map
    per body and one per link and added to the input tokens through a zero-initialised projection. Concat mode;
    empty: off."""
    p_mean: float = -0.4
    """EDM training: mean of log sigma."""
    p_std: float = 1.2
    """EDM training: std of log sigma."""
    sigma_min: float = 0.25
    """Sampler: the last nonzero noise level. With 2-3 steps a final call at a tiny sigma (EDM's 0.002)
    changes nothing; measured: 2 calls ending at 0.25-0.3 match 3 calls ending at 0.002."""
    sigma_max: float = 5.0
    """Sampler: largest noise level (the start of sampling)."""
    rho: float = 7.0
    """Sampler: Karras schedule exponent."""

    def __post_init__(self):
        object.__setattr__(self, "latent_size", tuple(int(v) for v in self.latent_size))
        object.__setattr__(self, "patch", tuple(int(v) for v in self.patch))
        if self.context_mode not in ("concat", "tokens"):
            raise ConfigError(f"context_mode must be 'concat' or 'tokens', got {self.context_mode!r}")
        if self.context_frames < 1:
            raise ConfigError(f"context_frames must be >= 1, got {self.context_frames}")
        h, w = self.latent_size
        if h % self.patch[0] or w % self.patch[1]:
            raise ConfigError(f"latent_size {self.latent_size} is not divisible by patch {self.patch}")
        if not self.sigma_data > 0:
            raise ConfigError(f"sigma_data must be > 0, got {self.sigma_data}")
        if not self.context_aug >= 0:
            raise ConfigError(f"context_aug must be >= 0 (0 = off), got {self.context_aug}")
        if self.state_maps and (self.context_mode != "concat" or self.action_dim <= len(state_maps.TAIL)):
            raise ConfigError(
                f"state_maps needs context_mode 'concat' and action_dim > {len(state_maps.TAIL)} (the env's "
                f"actions, then the state), got {self.context_mode!r} and {self.action_dim}"
            )
        object.__setattr__(self, "state_bodies", tuple(int(p) for p in self.state_bodies))
        if self.state_bodies:
            body_maps.check_parents(self.state_bodies)
            if (
                self.state_maps
                or self.context_mode != "concat"
                or self.action_dim <= 2 * len(self.state_bodies)
            ):
                raise ConfigError(
                    f"state_bodies needs context_mode 'concat', no state_maps and action_dim > "
                    f"{2 * len(self.state_bodies)} (the env's actions, then 2 per body), got {self.context_mode!r}, "
                    f"state_maps={self.state_maps} and {self.action_dim}"
                )
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise ConfigError(f"dim={self.dim} must split into {self.heads} heads of an even size")

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def rope_split(self) -> tuple[int, int, int]:
        """Rotary frequency pairs per axis (t, h, w): a quarter for time, the rest shared by h and w."""
        pairs = self.head_dim // 2
        t = pairs // 4
        h = (pairs - t) // 2
        return t, h, pairs - t - h


# ---- 3D rotary position embedding --------------------------------------------------------------------
def rope_3d(
    positions: torch.Tensor, split: tuple[int, int, int], base: float = 100.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables ``(N, head_dim/2)`` for integer positions ``(N, 3)`` = (t, h, w), axis by axis."""
    angles = []
    for axis, pairs in enumerate(split):
        if pairs == 0:
            continue
        freqs = base ** (-torch.arange(pairs, dtype=torch.float32) / pairs)
        angles.append(positions[:, axis : axis + 1].float() * freqs)
    a = torch.cat(angles, dim=1)
    return a.cos(), a.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive pairs of the last axis of ``x`` (..., N, D) by the angles of (N, D/2) tables, in fp32,
    returned in ``x``'s dtype. One complex product: 4x faster than rotating strided halves on CPUs."""
    pairs = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)).contiguous())
    return torch.view_as_real(pairs * torch.complex(cos.float(), sin.float())).flatten(-2).to(x.dtype)


# ---- blocks ------------------------------------------------------------------------------------------
def per_row(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-row ``(B,)`` value shaped to broadcast over ``like`` ``(B, ...)``."""
    return v.view(-1, *(1,) * (like.ndim - 1))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Attention(nn.Module):
    """Multi-head self-attention with rotary positions (shared by the DiT and the GPT)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        return q, k, v  # each (B, heads, N, head_dim)

    def merge(self, y: torch.Tensor) -> torch.Tensor:
        return self.proj(y.transpose(1, 2).flatten(2))

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split(x)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        return self.merge(F.scaled_dot_product_attention(q, k, v))


class DiTBlock(nn.Module):
    """Pre-norm transformer block with AdaLN-Zero modulation (shift, scale, gate for both halves)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.ada = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.ada.weight)  # every block starts as the identity (DiT's adaLN-Zero)
        nn.init.zeros_(self.ada.bias)

    def forward(
        self, x: torch.Tensor, emb: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> torch.Tensor:
        s1, c1, g1, s2, c2, g2 = self.ada(emb).chunk(6, dim=1)
        x = x + g1.unsqueeze(1) * self.attn(modulate(self.norm1(x), s1, c1), cos, sin)
        return x + g2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), s2, c2))


class FourierEmbedding(nn.Module):
    """Scalar (the EDM noise input c_noise) -> sin/cos features at fixed log-spaced frequencies."""

    def __init__(self, dim: int):
        super().__init__()
        half = dim // 2
        self.register_buffer(
            "freqs", torch.exp(-math.log(1000.0) * torch.arange(half) / half), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x.float().unsqueeze(1) * self.freqs * 100.0
        return torch.cat([a.cos(), a.sin()], dim=1)


# ---- the model ---------------------------------------------------------------------------------------
class DiT(nn.Module):
    """EDM-preconditioned denoiser ``D(x_noisy, sigma, context, action) -> x_clean`` (see module doc)."""

    def __init__(self, config: DiTConfig | None = None):
        super().__init__()
        cfg = config or DiTConfig()
        self.config = cfg
        c, (ph, pw), k = cfg.latent_channels, cfg.patch, cfg.context_frames
        in_ch = c * (k + 1) if cfg.context_mode == "concat" else c
        self.patch_in = nn.Linear(in_ch * ph * pw, cfg.dim)
        self.noise_emb = nn.Sequential(
            FourierEmbedding(cfg.dim), nn.Linear(cfg.dim, cfg.dim), nn.SiLU(), nn.Linear(cfg.dim, cfg.dim)
        )
        self.action_emb = nn.Sequential(
            nn.Linear(cfg.action_dim, cfg.dim), nn.SiLU(), nn.Linear(cfg.dim, cfg.dim)
        )
        self.context_sigma_emb = None
        if cfg.context_aug > 0:
            if type(self).raw is not DiT.raw:
                raise ConfigError(f"context_aug is implemented for the plain DiT, not {type(self).__name__}")
            self.context_sigma_emb = nn.Sequential(FourierEmbedding(cfg.dim), nn.Linear(cfg.dim, cfg.dim))
            # zero-initialised: a base model fine-tuned with it starts unchanged
            nn.init.zeros_(self.context_sigma_emb[1].weight)
            nn.init.zeros_(self.context_sigma_emb[1].bias)
        self.map_in = None
        if cfg.state_maps or cfg.state_bodies:
            n = state_maps.N_MAPS if cfg.state_maps else body_maps.n_maps(cfg.state_bodies)
            self.map_in = nn.Linear(n * ph * pw, cfg.dim)
            nn.init.zeros_(self.map_in.weight)  # zero: a base model extended with it starts unchanged
            nn.init.zeros_(self.map_in.bias)
        # Tokens mode: tell clean context tokens from the noisy ones (they share the patch projection).
        self.frame_type = nn.Parameter(torch.zeros(2, cfg.dim)) if cfg.context_mode == "tokens" else None
        self.blocks = nn.ModuleList(DiTBlock(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.final_norm = nn.LayerNorm(cfg.dim, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Linear(cfg.dim, 2 * cfg.dim)
        self.patch_out = nn.Linear(cfg.dim, c * ph * pw)
        for layer in (self.final_ada, self.patch_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        h, w = cfg.latent_size
        frames = 1 if cfg.context_mode == "concat" else k + 1
        t_idx = torch.full((frames,), k) if cfg.context_mode == "concat" else torch.arange(frames)
        grid = torch.stack(
            torch.meshgrid(t_idx, torch.arange(h // ph), torch.arange(w // pw), indexing="ij"), -1
        )
        cos, sin = rope_3d(grid.reshape(-1, 3), cfg.rope_split)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    # ---- patchify ------------------------------------------------------------------------------------
    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, h, w)`` -> tokens ``(B, T * h/ph * w/pw, C * ph * pw)`` in (t, h, w) order."""
        b, t, c, h, w = x.shape
        ph, pw = self.config.patch
        x = x.reshape(b, t, c, h // ph, ph, w // pw, pw).permute(0, 1, 3, 5, 2, 4, 6)
        return x.reshape(b, t * (h // ph) * (w // pw), c * ph * pw)

    def unpatchify(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens of one frame ``(B, h/ph * w/pw, C * ph * pw)`` -> ``(B, C, h, w)``."""
        cfg = self.config
        (h, w), (ph, pw), c = cfg.latent_size, cfg.patch, cfg.latent_channels
        x = tokens.reshape(-1, h // ph, w // pw, c, ph, pw).permute(0, 3, 1, 4, 2, 5)
        return x.reshape(-1, c, h, w)

    # ---- network -------------------------------------------------------------------------------------
    def raw(
        self,
        x_in: torch.Tensor,
        c_noise: torch.Tensor,
        context: torch.Tensor,
        action: torch.Tensor,
        context_sigma: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The network F: preconditioned noisy latent ``(B, C, h, w)`` -> ``(B, C, h, w)`` (``context_sigma``
        (B,): the context's announced noise std, with ``context_aug``)."""
        cfg = self.config
        if cfg.context_mode == "concat":
            tokens = self.patch_in(
                self.patchify(torch.cat([context.flatten(1, 2), x_in], dim=1).unsqueeze(1))
            )
            if cfg.state_maps:  # the state's maps; the action embedding never sees their coordinates
                first = cfg.action_dim - len(state_maps.TAIL)
                maps = state_maps.draw(action[:, first:], cfg.latent_size).to(x_in.dtype)
                tokens = tokens + self.map_in(self.patchify(maps.unsqueeze(1)))
                action = action.clone()
                action[:, first : first + state_maps.N_COORD] = 0.0
            elif cfg.state_bodies:  # the bodies' maps; the action embedding sees the env's actions only
                first = cfg.action_dim - 2 * len(cfg.state_bodies)
                maps = body_maps.draw(action[:, first:], cfg.state_bodies, cfg.latent_size).to(x_in.dtype)
                tokens = tokens + self.map_in(self.patchify(maps.unsqueeze(1)))
                action = action.clone()
                action[:, first:] = 0.0
        else:
            ctx = self.patch_in(self.patchify(context)) + self.frame_type[0]
            tgt = self.patch_in(self.patchify(x_in.unsqueeze(1))) + self.frame_type[1]
            tokens = torch.cat([ctx, tgt], dim=1)
        emb = self.noise_emb(c_noise) + self.action_emb(action)
        if context_sigma is not None:
            emb = emb + self.context_sigma_emb(context_sigma)
        emb = F.silu(emb)
        n = (cfg.latent_size[0] // cfg.patch[0]) * (cfg.latent_size[1] // cfg.patch[1])
        return self.unpatchify(self.trunk(tokens, emb, n))

    def trunk(self, tokens: torch.Tensor, emb: torch.Tensor, n_out: int) -> torch.Tensor:
        """The transformer blocks and the AdaLN output layer: tokens ``(B, N, dim)`` -> the last ``n_out``
        tokens' patches ``(B, n_out, C * ph * pw)``."""
        for blk in self.blocks:
            tokens = blk(tokens, emb, self.rope_cos, self.rope_sin)
        shift, scale = self.final_ada(emb).chunk(2, dim=1)
        return self.patch_out(modulate(self.final_norm(tokens[:, -n_out:]), shift, scale))

    def _announced(self, context_sigma: torch.Tensor | None) -> dict[str, torch.Tensor | None]:
        """``forward``'s context_sigma argument where the network reads it (subclasses' forward take 4 inputs)."""
        return {} if self.context_sigma_emb is None else {"context_sigma": context_sigma}

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one predicted latent without the batch axis: ``(C, h, w)``."""
        return (self.config.latent_channels, *self.config.latent_size)

    def forward(
        self,
        x: torch.Tensor,
        sigma: torch.Tensor,
        context: torch.Tensor,
        action: torch.Tensor,
        context_sigma: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """EDM denoiser D: noisy next latent ``x`` at noise ``sigma`` (B,) -> estimate of the clean latent.

        Args:
            x: ``(B, *latent_shape)`` noisy latent.
            sigma: ``(B,)`` noise standard deviations.
            context: ``(B, K, C, h, w)`` past latents, oldest first.
            action: ``(B, action_dim)`` the action taken from the last context frame.
            context_sigma: ``(B,)`` with ``context_aug``: the noise std the context carries (None: 0).
        """
        sd = self.config.sigma_data
        s = per_row(sigma.float(), x)
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (s**2 + sd**2).sqrt()
        aug = {}
        if self.context_sigma_emb is not None:
            aug["context_sigma"] = sigma.new_zeros(x.shape[0]) if context_sigma is None else context_sigma
        f = self.raw(c_in * x, sigma.float().log() / 4, context, action, **aug)
        return c_skip * x + c_out * f.float()

    def loss(
        self,
        target: torch.Tensor,
        context: torch.Tensor,
        action: torch.Tensor,
        generator: torch.Generator | None = None,
        cell_weight: torch.Tensor | None = None,
        context_sigma: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """EDM training loss (weighted so every noise level contributes about equally); ``cell_weight``
        (B, [V,] h, w) weighs latent cells (e.g. those that hold objects) and keeps the loss's scale.
        ``target`` is the next latent (with ``residual`` the loss is on its change from ``context[:, -1]``);
        ``context_sigma`` (B,): the noise std the caller put on the context (``context_aug``)."""
        cfg = self.config
        b = target.shape[0]
        if cfg.residual:
            target = target - context[:, -1].to(target.dtype)
        log_sigma = cfg.p_mean + cfg.p_std * torch.randn(b, generator=generator, device=target.device)
        sigma = log_sigma.exp()
        noise = torch.randn(target.shape, generator=generator, device=target.device)
        denoised = self(
            target + per_row(sigma, target) * noise, sigma, context, action, **self._announced(context_sigma)
        )
        weight = (sigma**2 + cfg.sigma_data**2) / (sigma * cfg.sigma_data) ** 2
        err = per_row(weight, target) * (denoised - target) ** 2
        if cell_weight is None:
            return err.mean()
        w = cell_weight.to(err.dtype).unsqueeze(-3)  # broadcast over the latent channels
        return (err * w).mean() / w.mean()

    # ---- sampling ------------------------------------------------------------------------------------
    def sigmas(self, steps: int, device: torch.device | None = None) -> torch.Tensor:
        """Karras noise levels for ``steps`` denoiser calls, from sigma_max down to sigma_min, then 0."""
        cfg = self.config
        if steps < 1:
            raise ConfigError(f"sampler steps must be >= 1, got {steps}")
        ramp = torch.linspace(0, 1, steps) if steps > 1 else torch.zeros(1)
        lo, hi = cfg.sigma_min ** (1 / cfg.rho), cfg.sigma_max ** (1 / cfg.rho)
        s = (hi + ramp * (lo - hi)) ** cfg.rho
        return torch.cat([s, torch.zeros(1)]).to(device)

    @torch.no_grad()
    def sample(
        self,
        context: torch.Tensor,
        action: torch.Tensor,
        steps: int = 3,
        sampler: str = "euler",
        noise: torch.Tensor | None = None,
        context_sigma: float = 0.0,
    ) -> torch.Tensor:
        """Next latent ``(B, *latent_shape)`` from ``steps`` Euler (or Heun) steps of the probability-flow ODE.

        ``noise`` (standard normal, the latent's shape) makes sampling reproducible; the env draws
        it from a per-env seeded generator. ``context_sigma``: with ``context_aug``, the noise std the
        context is announced at (no noise is added).
        """
        if sampler not in ("euler", "heun"):
            raise ConfigError(f"sampler must be 'euler' or 'heun', got {sampler!r}")
        b = context.shape[0]
        shape = (b, *self.latent_shape)
        if noise is None:
            noise = torch.randn(shape, device=context.device)
        sig = self.sigmas(steps, context.device)
        aug = self._announced(torch.full((b,), float(context_sigma), device=context.device))
        x = noise.to(context.device).float() * sig[0]
        for i in range(steps):
            s, s_next = sig[i], sig[i + 1]
            d = (x - self(x, s.expand(b), context, action, **aug)) / s
            x_next = x + (s_next - s) * d
            if sampler == "heun" and s_next > 0:
                d2 = (x_next - self(x_next, s_next.expand(b), context, action, **aug)) / s_next
                x_next = x + (s_next - s) * 0.5 * (d + d2)
            x = x_next
        return x + context[:, -1].float() if self.config.residual else x


__all__ = ["DiT", "DiTConfig", "apply_rope", "rope_3d", "Attention"]
