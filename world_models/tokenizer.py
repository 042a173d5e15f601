"""Causal video tokenizer in the style of the Cosmos Tokenizer: continuous (CV) and discrete (DV).

Pipeline (``T = 1 + k * tc`` frames of ``H x W``, ``tc`` the temporal and ``s`` the spatial compression)::

    video (B, T, 3, H, W) in [0, 1]  ->  [-1, 1]
      -> 2-level Haar wavelet patcher, per frame       (B, T, 48, H/4, W/4)     lossless, invertible
      -> per-frame stem (3x3 conv + residual blocks)   (B, T, Cf, H/4, W/4)
      -> causal time fold: frame 0 alone, then groups of tc frames stacked on channels
                                                       (B, 1+k, tc*Cf, H/4, W/4)
      -> trunk: stride-2 downsampling to H/s, factorised residual blocks (3x3 spatial conv +
         causal temporal conv over latent frames), per-frame spatial attention at the bottom
      -> latents (B, 1+k, C, H/s, W/s): C=16 floats (CV) or FSQ codes -> token ids (B, 1+k, H/s, W/s) (DV)

The decoder mirrors it. Every operation is per frame except the temporal convolutions, which
only look back (the first latent frame is padded by repeating itself), so the latents and the
decoded frames of a prefix do not change when frames are appended: images (``T = 1``) and
videos share one model.

Input convention of ``encode``: ``(B, T, 3, H, W)`` (or ``(B, 3, H, W)`` images, as ``T = 1``),
torch tensor or numpy array, uint8 in 0..255 or float in [0, 1]; ``H`` and ``W`` multiples of the
spatial compression; ``T = 1 + k * tc`` (``pad=True`` repeats the last frame up to the next valid
length, and ``decode(..., num_frames=T)`` trims it again). ``decode`` returns float32
``(B, T, 3, H, W)`` in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.fsq import FSQ
from cosmos_sim.world_models.pretrained import PretrainedModel, resolve_device

CHECKPOINT_KIND = "tokenizer"


@dataclass(frozen=True)
class TokenizerConfig:
    """Architecture of a causal video tokenizer."""

    kind: str = "CV"
    """"CV" (continuous latents) or "DV" (discrete FSQ token ids)."""
    temporal_compression: int = 4
    """Frames per latent frame after the first (1 = image tokenizer, 4 or 8 for video)."""
    spatial_compression: int = 8
    """Pixels per latent cell along each axis: 8 or 16 (Haar gives 4, each trunk stage 2 more)."""
    latent_channels: int = 16
    """Channels of a CV latent (DV uses len(fsq_levels))."""
    fsq_levels: tuple[int, ...] = (8, 8, 8, 5, 5, 5)
    """FSQ levels per channel for DV (product = codebook size, 64,000 by default)."""
    frame_channels: int = 64
    """Width of the per-frame stem at H/4 x W/4."""
    channels: int = 128
    """Width of the latent-rate trunk."""
    frame_blocks: int = 1
    """Per-frame residual blocks in the stem (encoder) and the head (decoder)."""
    res_blocks: int = 2
    """Factorised space/time residual blocks at the bottom of the trunk (each side)."""
    attention: bool = True
    """Per-frame spatial self-attention at the bottom of the trunk."""
    norm_groups: int = 8
    """GroupNorm groups (normalised per frame, which keeps the model causal)."""
    decoder_channels: int = 0
    """Width of the decoder's trunk; 0 = ``channels``. A narrower decoder over the same encoder keeps the latents
    (and every world model over them) and decodes faster."""
    decoder_frame_channels: int = 0
    """Width of the decoder's per-frame head; 0 = ``frame_channels``."""

    def __post_init__(self):
        if self.kind not in ("CV", "DV"):
            raise ConfigError(f"kind must be 'CV' or 'DV', got {self.kind!r}")
        if self.temporal_compression not in (1, 2, 4, 8):
            raise ConfigError(f"temporal_compression must be 1, 2, 4 or 8, got {self.temporal_compression}")
        if self.spatial_compression not in (4, 8, 16):
            raise ConfigError(f"spatial_compression must be 4, 8 or 16, got {self.spatial_compression}")
        object.__setattr__(self, "fsq_levels", tuple(int(v) for v in self.fsq_levels))
        for name in ("frame_channels", "channels", "decoder_channels", "decoder_frame_channels"):
            if getattr(self, name) < 0 or getattr(self, name) % self.norm_groups:
                raise ConfigError(
                    f"{name}={getattr(self, name)} must be a multiple of norm_groups={self.norm_groups}"
                )

    @property
    def name(self) -> str:
        """Cosmos-style name, e.g. ``CV4x8x8``."""
        s = self.spatial_compression
        return f"{self.kind}{self.temporal_compression}x{s}x{s}"

    @property
    def decoder_widths(self) -> tuple[int, int]:
        """(frame channels, trunk channels) of the decoder."""
        return self.decoder_frame_channels or self.frame_channels, self.decoder_channels or self.channels

    @property
    def code_channels(self) -> int:
        """Channels at the bottleneck: latent_channels (CV) or the number of FSQ levels (DV)."""
        return self.latent_channels if self.kind == "CV" else len(self.fsq_levels)


# ---- Haar wavelet patcher ------------------------------------------------------------------------
def haar_patch(x: torch.Tensor, levels: int = 2) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, C * 4**levels, H / 2**levels, W / 2**levels)`` Haar sub-bands.

    Each level maps 2x2 pixels (a b / c d) to (a+b+c+d, a-b+c-d, a+b-c-d, a-b-c+d) / 4: the
    low band is the local mean, so values stay in the input's range; ``haar_unpatch`` inverts it.
    """
    for _ in range(levels):
        a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
        c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
        x = torch.cat([a + b + c + d, a - b + c - d, a + b - c - d, a - b - c + d], dim=1) * 0.25
    return x


def haar_unpatch(x: torch.Tensor, levels: int = 2) -> torch.Tensor:
    """Inverse of ``haar_patch``."""
    for _ in range(levels):
        ll, lh, hl, hh = x.chunk(4, dim=1)
        a, b = ll + lh + hl + hh, ll - lh + hl - hh
        c, d = ll + lh - hl - hh, ll - lh - hl + hh
        n, ch, h, w = a.shape
        out = x.new_empty(n, ch, 2 * h, 2 * w)
        out[..., 0::2, 0::2], out[..., 0::2, 1::2] = a, b
        out[..., 1::2, 0::2], out[..., 1::2, 1::2] = c, d
        x = out
    return x


# ---- building blocks (tensors are (B, L, C, h, w): frames first, so spatial ops see B*L images) --------
def _frames(fn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a 2D module to every frame of ``(B, L, C, h, w)``."""
    b, t = x.shape[:2]
    y = fn(x.flatten(0, 1))
    return y.unflatten(0, (b, t))


class CausalTimeConv(nn.Module):
    """Temporal convolution over frames that only looks back (kernel k: frames t-k+1 .. t).

    The sequence is padded in front by repeating its first frame, so frame 0 depends on itself
    alone. Implemented as a 1x1 convolution over the k shifted copies stacked on channels.
    """

    def __init__(self, channels: int, kernel: int = 3):
        super().__init__()
        self.kernel = kernel
        self.proj = nn.Conv2d(channels * kernel, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        padded = torch.cat([x[:, :1].expand(-1, self.kernel - 1, -1, -1, -1), x], dim=1)
        stacked = torch.cat([padded[:, i : i + t] for i in range(self.kernel)], dim=2)
        return _frames(self.proj, stacked)


class ResBlock2d(nn.Module):
    """Per-frame residual block: (norm, SiLU, 3x3 conv) twice."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.GroupNorm(groups, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.GroupNorm(groups, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        nn.init.zeros_(self.body[-1].weight)  # starts as identity: stable from step 0
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + _frames(self.body, x)


class FactorizedResBlock(nn.Module):
    """Space/time factorised residual block: a 3x3 spatial conv then a causal temporal conv, twice."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(groups, channels), nn.GroupNorm(groups, channels)
        self.space1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.space2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.time1, self.time2 = CausalTimeConv(channels), CausalTimeConv(channels)
        nn.init.zeros_(self.time2.proj.weight)
        nn.init.zeros_(self.time2.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.time1(_frames(nn.Sequential(self.norm1, nn.SiLU(), self.space1), x))
        h = self.time2(_frames(nn.Sequential(self.norm2, nn.SiLU(), self.space2), h))
        return x + h


class SpatialAttention(nn.Module):
    """Single-head self-attention over the h*w cells of each frame (global context, causal in time)."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        qkv = self.qkv(self.norm(x.flatten(0, 1))).flatten(2).transpose(1, 2).contiguous()[:, None]
        # one head axis and contiguous channels: otherwise CPUs take the unfused kernel, ~7x slower in bf16
        y = F.scaled_dot_product_attention(*qkv.chunk(3, dim=-1))[:, 0]  # (B*T, h*w, C)
        y = self.out(y.transpose(1, 2).reshape(b * t, c, h, w))
        return x + y.unflatten(0, (b, t))


def _head(channels: int, out: int, groups: int, kernel: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.GroupNorm(groups, channels), nn.SiLU(), nn.Conv2d(channels, out, kernel, padding=kernel // 2)
    )


# ---- encoder / decoder ---------------------------------------------------------------------------
class Encoder(nn.Module):
    """Video ``(B, T, 3, H, W)`` in [-1, 1] -> pre-quantisation latents ``(B, 1 + (T-1)/tc, C, H/s, W/s)``."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        self.cfg = cfg
        g, cf, c, tc = cfg.norm_groups, cfg.frame_channels, cfg.channels, cfg.temporal_compression
        self.stem = nn.Conv2d(48, cf, 3, padding=1)
        self.frame_blocks = nn.ModuleList(ResBlock2d(cf, g) for _ in range(cfg.frame_blocks))
        self.fold = nn.Conv2d(tc * cf, c, 1)
        stages = int(math.log2(cfg.spatial_compression // 4))
        self.down = nn.ModuleList(nn.Conv2d(c, c, 3, stride=2, padding=1) for _ in range(stages))
        self.down_blocks = nn.ModuleList(FactorizedResBlock(c, g) for _ in range(stages))
        mid: list[nn.Module] = [FactorizedResBlock(c, g) for _ in range(cfg.res_blocks)]
        if cfg.attention:
            mid.insert(min(1, len(mid)), SpatialAttention(c, g))
        self.mid = nn.ModuleList(mid)
        self.out = _head(c, cfg.code_channels, g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tc = self.cfg.temporal_compression
        h = _frames(self.stem, _frames(haar_patch, x))
        for blk in self.frame_blocks:
            h = blk(h)
        # Causal fold: frame 0 repeated tc times forms latent frame 0, then non-overlapping groups of tc.
        h = torch.cat([h[:, :1].expand(-1, tc - 1, -1, -1, -1), h], dim=1)
        b, t, cf, hh, ww = h.shape
        h = _frames(self.fold, h.reshape(b, t // tc, tc * cf, hh, ww))
        for down, blk in zip(self.down, self.down_blocks, strict=True):
            h = blk(_frames(down, h))
        for blk in self.mid:
            h = blk(h)
        return _frames(self.out, h)


class Decoder(nn.Module):
    """Latents ``(B, L, C, H/s, W/s)`` -> video ``(B, 1 + (L-1)*tc, 3, H, W)`` in about [-1, 1]."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        self.cfg = cfg
        (cf, c), g, tc = cfg.decoder_widths, cfg.norm_groups, cfg.temporal_compression
        self.inp = nn.Conv2d(cfg.code_channels, c, 3, padding=1)
        mid: list[nn.Module] = [FactorizedResBlock(c, g) for _ in range(cfg.res_blocks)]
        if cfg.attention:
            mid.insert(min(1, len(mid)), SpatialAttention(c, g))
        self.mid = nn.ModuleList(mid)
        stages = int(math.log2(cfg.spatial_compression // 4))
        self.up = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1) for _ in range(stages))
        self.up_blocks = nn.ModuleList(FactorizedResBlock(c, g) for _ in range(stages))
        self.unfold = _head(c, tc * cf, g)
        self.frame_blocks = nn.ModuleList(ResBlock2d(cf, g) for _ in range(cfg.frame_blocks))
        self.out = _head(cf, 48, g, kernel=3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        tc = self.cfg.temporal_compression
        h = _frames(self.inp, z)
        for blk in self.mid:
            h = blk(h)
        for up, blk in zip(self.up, self.up_blocks, strict=True):
            h = blk(_frames(lambda y, up=up: up(F.interpolate(y, scale_factor=2.0, mode="nearest")), h))
        h = _frames(self.unfold, h)
        b, n, ch, hh, ww = h.shape
        h = h.reshape(b, n * tc, ch // tc, hh, ww)[:, tc - 1 :]  # drop the copies of frame 0
        for blk in self.frame_blocks:
            h = blk(h)
        return _frames(lambda y: haar_unpatch(self.out(y)), h)


# ---- the tokenizer -------------------------------------------------------------------------------
class Tokenizer(PretrainedModel):
    """Causal video tokenizer: ``encode(video) -> latents | token ids``, ``decode(...) -> video``.

    See the module docstring for the input convention. ``forward`` is the training path
    (normalised video in, reconstruction out, quantised with a straight-through gradient for DV).
    ``save_pretrained`` / ``from_pretrained`` (a directory or a name under ``assets/tokenizers/``)
    come from ``PretrainedModel``.
    """

    checkpoint_kind, shipped_folder, label = CHECKPOINT_KIND, "tokenizers", "tokenizer"
    config_class = TokenizerConfig

    def __init__(self, config: TokenizerConfig | None = None, **overrides):
        super().__init__()
        cfg = config or TokenizerConfig()
        if overrides:
            cfg = TokenizerConfig(**{**asdict(cfg), **overrides})
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.fsq = FSQ(cfg.fsq_levels) if cfg.kind == "DV" else None

    # ---- shapes and checks ----------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple[int, ...]:
        """Shape of one video's latents (CV: (L, C, h, w)) or token ids (DV: (L, h, w))."""
        cfg = self.config
        if (num_frames - 1) % cfg.temporal_compression:
            raise ConfigError(f"{num_frames} frames is not 1 + k * {cfg.temporal_compression}")
        n = 1 + (num_frames - 1) // cfg.temporal_compression
        hw = (height // cfg.spatial_compression, width // cfg.spatial_compression)
        return (n, cfg.code_channels, *hw) if cfg.kind == "CV" else (n, *hw)

    def compression_ratio(self) -> float:
        """Input values per latent value, for long videos (e.g. 4*8*8*3/16 = 48 for CV4x8x8)."""
        c = self.config
        return c.temporal_compression * c.spatial_compression**2 * 3 / c.code_channels

    def bits_per_frame(self, height: int = 64, width: int = 64) -> float:
        """DV: bits of token ids per video frame, for long videos (log2(codebook) per token)."""
        if self.fsq is None:
            raise ConfigError("bits_per_frame is defined for DV (discrete) tokenizers only")
        c = self.config
        tokens = (height // c.spatial_compression) * (width // c.spatial_compression)
        return tokens * math.log2(self.fsq.codebook_size) / c.temporal_compression

    def valid_num_frames(self, num_frames: int) -> int:
        """The smallest valid frame count 1 + k * tc that is >= ``num_frames``."""
        tc = self.config.temporal_compression
        return 1 + math.ceil(max(num_frames - 1, 0) / tc) * tc

    def prepare(self, video: torch.Tensor | np.ndarray, pad: bool = False) -> torch.Tensor:
        """Check and convert user input to float ``(B, T, 3, H, W)`` in [-1, 1] on this model's device."""
        if isinstance(video, np.ndarray):
            video = torch.from_numpy(np.ascontiguousarray(video))
        if not isinstance(video, torch.Tensor):
            raise ConfigError(f"video must be a torch tensor or numpy array, got {type(video).__name__}")
        if video.ndim == 4:
            video = video.unsqueeze(1)  # (B, 3, H, W) images
        if video.ndim != 5:
            raise ConfigError(
                f"video must be (B, T, 3, H, W) or images (B, 3, H, W), got shape {tuple(video.shape)}"
            )
        if video.shape[2] != 3:
            hint = (
                " It looks channels-last (..., H, W, 3): use video.permute(0, 1, 4, 2, 3)."
                if video.shape[-1] == 3
                else ""
            )
            raise ConfigError(
                f"video must have 3 (RGB) channels at dim 2, got shape {tuple(video.shape)}.{hint}"
            )
        s = self.config.spatial_compression
        h, w = video.shape[-2:]
        if h % s or w % s:
            raise ConfigError(
                f"height and width must be multiples of {s} for {self.config.name}, got {h}x{w}; "
                "resize or crop the frames"
            )
        t = video.shape[1]
        if (t - 1) % self.config.temporal_compression:
            if not pad:
                raise ConfigError(
                    f"{self.config.name} needs 1 + k*{self.config.temporal_compression} frames, got {t}; "
                    f"pass pad=True to repeat the last frame up to {self.valid_num_frames(t)} "
                    "(and decode(..., num_frames=T) to trim)"
                )
            extra = self.valid_num_frames(t) - t
            video = torch.cat([video, video[:, -1:].expand(-1, extra, -1, -1, -1)], dim=1)
        if video.dtype == torch.uint8:
            x = video.to(self.device).float() / 255.0
        elif video.dtype.is_floating_point:
            x = video.to(self.device).float()
            lo, hi = float(x.min()), float(x.max())
            if lo < -1e-3 or hi > 1 + 1e-3:
                raise ConfigError(
                    f"float video must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}]; "
                    "divide uint8 frames by 255 or pass them as uint8"
                )
        else:
            raise ConfigError(f"video must be uint8 (0..255) or float in [0, 1], got dtype {video.dtype}")
        return x * 2 - 1

    # ---- encode / decode ------------------------------------------------------------------------
    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Identity for CV; FSQ codes in [-1, 1] (straight-through) for DV."""
        if self.fsq is None:
            return z
        b, t = z.shape[:2]
        return self.fsq(z.flatten(0, 1)).unflatten(0, (b, t))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training path: normalised video ``(B, T, 3, H, W)`` in [-1, 1] -> reconstruction, same shape."""
        return self.decoder(self.quantize(self.encoder(x)))

    @torch.no_grad()
    def encode(self, video: torch.Tensor | np.ndarray, pad: bool = False) -> torch.Tensor:
        """Video -> CV latents ``(B, L, C, h, w)`` float32, or DV token ids ``(B, L, h, w)`` int64."""
        z = self.quantize(self.encoder(self.prepare(video, pad=pad)))
        if self.fsq is None:
            return z
        b, t = z.shape[:2]
        return self.fsq.codes_to_indices(z.flatten(0, 1)).unflatten(0, (b, t))

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """CV latents or DV token ids (as returned by ``encode``) -> video ``(B, T, 3, H, W)`` in [0, 1].

        ``num_frames`` trims the output to the first ``num_frames`` frames (undo ``pad=True``).
        """
        latents = latents.to(self.device)
        if self.fsq is None:
            if (
                latents.ndim != 5
                or latents.shape[2] != self.config.latent_channels
                or not latents.is_floating_point()
            ):
                raise ConfigError(
                    f"CV latents must be float (B, L, {self.config.latent_channels}, h, w), "
                    f"got {latents.dtype} {tuple(latents.shape)}"
                )
            z = latents.float()
        else:
            if latents.ndim != 4:
                raise ConfigError(
                    f"DV token ids must be (B, L, h, w) integers, got shape {tuple(latents.shape)}"
                )
            b, t = latents.shape[:2]
            z = self.fsq.indices_to_codes(latents.flatten(0, 1)).unflatten(0, (b, t))
        video = ((self.decoder(z) + 1) * 0.5).clamp_(0, 1)
        return video if num_frames is None else video[:, :num_frames]

    @torch.no_grad()
    def reconstruct(self, video: torch.Tensor | np.ndarray, pad: bool = False) -> torch.Tensor:
        """``decode(encode(video))`` trimmed to the input length, float in [0, 1], shaped like the input."""
        if video.ndim == 4:  # images (B, 3, H, W) come back as images
            return self.decode(self.encode(video))[:, 0]
        return self.decode(self.encode(video, pad=pad), num_frames=video.shape[1])


__all__ = ["Tokenizer", "TokenizerConfig", "haar_patch", "haar_unpatch", "resolve_device"]
