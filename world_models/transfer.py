"""Transfer: control maps (depth, segmentation, edges, a blurred video) -> video in another appearance domain.

Cosmos-Transfer1's shape at nano scale, over the latents of a CV tokenizer (every frame in image mode)::

    noisy next latent + previous output latent (channels, no flicker)          -> base DiT (world_models/dit.py)
    appearance = one-hot domain id + a "first frame" flag -> MLP, added to the noise embedding (AdaLN-Zero)
    per control c in (depth, seg, edge, vis): its map as a 3-channel image -> the same tokenizer -> latent
        -> tokens + the noisy tokens -> copies of the base's first ``control_blocks`` blocks
        -> zero-initialised linear projections, scaled by the weight w_c (per latent cell), added to the
           base's hidden state after the same blocks (ControlNet / Transfer1)
    weights: scalars or spatio-temporal masks, clamped >= 0 and scaled to sum to at most 1 per cell
    the seed draws the diffusion noise: another seed, another rendering of the same structure

Control dropout in training (a random subset of controls per batch) lets any subset drive it.
A ``Transfer`` bundle is a directory: ``config.json`` + ``model.safetensors`` (the networks) and
``tokenizer/`` (the tokenizer it was trained with, its SHA checked on load).
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.world_models.dit import DiT, DiTConfig, modulate
from cosmos_sim.world_models.pretrained import PretrainedModel
from cosmos_sim.world_models.tokenizer import Tokenizer
from cosmos_sim.world_models.wfm import cpu_has_fast_bf16, file_sha

CONTROLS: tuple[str, ...] = ("depth", "seg", "edge", "vis")
"""Cosmos-Transfer1's control names, in the order the model lists them."""
STORE_MAPS: dict[str, str] = {"depth": "depth", "seg": "seg", "edge": "edges", "vis": "blur"}
"""The trajectory-store / env map name of each control (``envs/control_maps.py``)."""
DEPTH_NEAR = 0.7
"""Depth (m) drawn white: a depth map becomes the disparity ``DEPTH_NEAR / depth`` (the sky -> black)."""
SEG_PALETTE = np.array(
    [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128]],
    dtype=np.uint8,
)  # fmt: skip
"""Colour of segmentation id i (i modulo its length); id 0 (background) is black."""


# ---- control maps as images -----------------------------------------------------------------------------
def control_image(name: str, value: np.ndarray) -> np.ndarray:
    """A control map ``(T, H, W)`` (``vis``: ``(T, H, W, 3)``) -> the 3-channel uint8 image the tokenizer reads.

    depth: z-depth in metres -> grey disparity; seg: integer ids -> ``SEG_PALETTE`` colours; edge: {0, 255}
    (or any 0-255 map) -> grey; vis: a (blurred) RGB video, unchanged.
    """
    v = np.asarray(value)
    if name not in CONTROLS:
        raise ConfigError(f"unknown control {name!r}; choose from {list(CONTROLS)}")
    if name == "vis":
        if v.ndim != 4 or v.shape[-1] != 3:
            raise ConfigError(f"the vis control must be (T, H, W, 3) RGB, got shape {v.shape}")
        return v.astype(np.uint8)
    if v.ndim == 4 and v.shape[-1] == 3 and name == "edge":
        v = v[..., 0]
    if v.ndim != 3:
        raise ConfigError(f"the {name} control must be (T, H, W), got shape {v.shape}")
    if name == "depth":
        g = np.clip(DEPTH_NEAR / np.clip(v.astype(np.float32), 1e-3, None), 0, 1) * 255 + 0.5
        g = g.astype(np.uint8)
    elif name == "seg":
        return SEG_PALETTE[v.astype(np.int64) % len(SEG_PALETTE)]
    else:
        g = v.astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)


def normalize_weights(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cosmos's rule: every weight clamped >= 0, then where they sum to more than 1 (per cell) all are
    divided by the sum, so the controls together never weigh more than 1."""
    if not weights:
        return {}
    w = {k: v.float().clamp(min=0) for k, v in weights.items()}
    total = torch.stack(list(w.values())).sum(0)
    scale = torch.where(total > 1, 1 / total.clamp(min=1e-8), torch.ones_like(total))
    return {k: v * scale for k, v in w.items()}


# ---- config ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TransferConfig:
    """Architecture, conditioning and latent normalisation of a Transfer model."""

    domains: tuple[str, ...] = ("default", "brick", "grass", "marble", "night", "sunset")
    """Appearance domains it renders (``envs/appearance.py`` names); the domain id is the index."""
    controls: tuple[str, ...] = CONTROLS
    """Controls it has a branch for (a subset of depth, seg, edge, vis)."""
    latent_channels: int = 16
    """Channels of one frame's latent (the tokenizer's)."""
    latent_size: tuple[int, int] = (8, 8)
    """Latent height and width of a 64x64 frame."""
    patch: tuple[int, int] = (1, 1)
    """Spatial patch of the DiT (64 tokens a frame at 8x8 latents)."""
    context_frames: int = 1
    """Previous output latents the next one is conditioned on (against flicker)."""
    dim: int = 128
    """Transformer width."""
    depth: int = 5
    """Blocks of the base DiT."""
    heads: int = 4
    """Attention heads."""
    mlp_ratio: float = 3.0
    """MLP width / dim."""
    control_blocks: int = 2
    """First base blocks each control branch copies (and adds into)."""
    frame_size: tuple[int, int] = (64, 64)
    """Frame height and width."""
    latent_mean: tuple[float, ...] = ()
    """Per-channel mean of RGB latents (normalisation; empty: 0)."""
    latent_std: tuple[float, ...] = ()
    """Per-channel std of RGB latents (empty: 1)."""
    control_stats: dict = field(default_factory=dict)
    """Per control: {"mean": [...], "std": [...]} of its latents (normalisation; missing: 0 / 1)."""
    weight_inputs: bool = False
    """Each branch also reads its own weight and the sum of all weights, per token (zero-initialised): a
    branch can tell driving alone from sharing, so several controls need not average their branches."""
    tokenizer_sha: str = ""
    """SHA-256 (16 hex digits) of ``tokenizer/model.safetensors``: checked on load."""

    def __post_init__(self):
        for name in (
            "domains",
            "controls",
            "latent_size",
            "patch",
            "frame_size",
            "latent_mean",
            "latent_std",
        ):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.domains or len(set(self.domains)) != len(self.domains):
            raise ConfigError(f"domains must be distinct names, at least one; got {self.domains}")
        bad = [c for c in self.controls if c not in CONTROLS]
        if bad or not self.controls:
            raise ConfigError(
                f"controls {list(self.controls)} must be a non-empty subset of {list(CONTROLS)}"
            )
        if not 0 <= self.control_blocks <= self.depth:
            raise ConfigError(
                f"control_blocks={self.control_blocks} must lie in [0, depth={self.depth}]: a branch copies "
                "some of the base's first blocks"
            )
        for name in ("latent_mean", "latent_std"):
            n = len(getattr(self, name))
            if n not in (0, self.latent_channels):
                raise ConfigError(
                    f"{name} has {n} values; give latent_channels={self.latent_channels} or none"
                )
        self.dit_config()  # the DiT's own checks (heads, patch)

    def dit_config(self) -> DiTConfig:
        """The base DiT: its "action" input is the appearance vector (domain one-hot + first-frame flag)."""
        return DiTConfig(
            latent_channels=self.latent_channels,
            latent_size=self.latent_size,
            context_frames=self.context_frames,
            action_dim=len(self.domains) + 1,
            patch=self.patch,
            dim=self.dim,
            depth=self.depth,
            heads=self.heads,
            mlp_ratio=self.mlp_ratio,
        )

    def domain_id(self, domain: str) -> int:
        if domain not in self.domains:
            raise ConfigError(
                f"domain {domain!r} is not one this model renders; choose one of {list(self.domains)}"
            )
        return self.domains.index(domain)


@dataclass
class Conditioning:
    """What the denoiser is conditioned on besides its context (passed where the DiT takes its action)."""

    appearance: torch.Tensor
    """(B, domains + 1): domain one-hot, then 1 for a first frame (no previous output)."""
    controls: dict[str, torch.Tensor]
    """Normalised control latents (B, C, h, w) of the controls in use."""
    weights: dict[str, torch.Tensor]
    """Their weights (B, h, w), already normalised (``normalize_weights``)."""


# ---- the network -----------------------------------------------------------------------------------------
class TransferDiT(DiT):
    """The base DiT plus one ControlNet branch per control; ``action`` is a ``Conditioning``, so the DiT's
    EDM preconditioning, loss and sampler work unchanged."""

    def __init__(self, config: TransferConfig):
        super().__init__(config.dit_config())
        self.transfer_config = config
        c, (ph, pw), d = config.latent_channels, config.patch, config.dim
        n = config.control_blocks
        self.control_in = nn.ModuleDict({k: nn.Linear(c * ph * pw, d) for k in config.controls})
        # Branches start as copies of the base's first blocks (Transfer1 initialises them from the base).
        self.control_branch = nn.ModuleDict(
            {k: nn.ModuleList(copy.deepcopy(self.blocks[i]) for i in range(n)) for k in config.controls}
        )
        self.control_out = nn.ModuleDict(
            {k: nn.ModuleList(nn.Linear(d, d) for _ in range(n)) for k in config.controls}
        )
        # Own weight and the weights' sum per token -> each branch's input (zero: a model without them).
        self.weight_in = (
            nn.ModuleDict({k: nn.Linear(2, d) for k in config.controls}) if config.weight_inputs else None
        )
        zeroed = [layer for outs in self.control_out.values() for layer in outs]
        for layer in zeroed + list(self.weight_in.values() if self.weight_in else []):
            nn.init.zeros_(layer.weight)  # zero projections: an untrained branch leaves the base unchanged
            nn.init.zeros_(layer.bias)

    def token_weights(self, w: torch.Tensor) -> torch.Tensor:
        """(B, h, w) cell weights -> (B, tokens, 1): the mean over each patch."""
        return self.patchify(w[:, None, None]).mean(-1, keepdim=True)

    def raw(self, x_in: torch.Tensor, c_noise: torch.Tensor, context: torch.Tensor, cond: Conditioning):
        tokens = self.patch_in(self.patchify(torch.cat([context.flatten(1, 2), x_in], dim=1).unsqueeze(1)))
        emb = torch.nn.functional.silu(self.noise_emb(c_noise) + self.action_emb(cond.appearance))
        cos, sin = self.rope_cos, self.rope_sin
        residual: list[torch.Tensor | float] = [0.0] * self.transfer_config.control_blocks
        weights = {k: self.token_weights(cond.weights[k]).to(tokens.dtype) for k in cond.controls}
        total = sum(weights.values())
        for name, latent in cond.controls.items():
            w = weights[name]
            h = tokens + self.control_in[name](self.patchify(latent.unsqueeze(1)))
            if self.weight_in is not None:
                h = h + self.weight_in[name](torch.cat([w, total], -1))
            for i, (blk, out) in enumerate(
                zip(self.control_branch[name], self.control_out[name], strict=True)
            ):
                h = blk(h, emb, cos, sin)
                residual[i] = residual[i] + w * out(h)
        for i, blk in enumerate(self.blocks):
            tokens = blk(tokens, emb, cos, sin)
            if i < len(residual):
                tokens = tokens + residual[i]
        shift, scale = self.final_ada(emb).chunk(2, dim=1)
        return self.unpatchify(self.patch_out(modulate(self.final_norm(tokens), shift, scale)))


# ---- the bundle ------------------------------------------------------------------------------------------
class Transfer(PretrainedModel):
    """Tokenizer + TransferDiT: ``Transfer.from_pretrained(dir).transfer(controls, spec, seed, domain=...)``."""

    checkpoint_kind, shipped_folder, label = "transfer", "transfer", "transfer"
    config_class = TransferConfig

    def __init__(self, config: TransferConfig, tokenizer: Tokenizer):
        super().__init__()
        self.config = config
        self.net = TransferDiT(config)
        self.tokenizer = tokenizer.eval().requires_grad_(False)
        self.tokenizer_source: Path | None = None
        c = config.latent_channels

        def stat(values, default):
            return torch.tensor(values or [default] * c, dtype=torch.float32).view(c, 1, 1)

        self.register_buffer("latent_mean", stat(config.latent_mean, 0.0), persistent=False)
        self.register_buffer("latent_std", stat(config.latent_std, 1.0), persistent=False)
        for k in config.controls:
            s = config.control_stats.get(k, {})
            self.register_buffer(f"{k}_mean", stat(s.get("mean"), 0.0), persistent=False)
            self.register_buffer(f"{k}_std", stat(s.get("std"), 1.0), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.latent_mean.device

    def amp(self):
        """bf16 autocast where it is fast (CUDA, AMX/AVX512-BF16 CPUs), else a no-op."""
        on = self.device.type == "cuda" or cpu_has_fast_bf16()
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=on)

    # ---- checkpoint ------------------------------------------------------------------------------------

    def checkpoint_state(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if not k.startswith("tokenizer.")}

    @classmethod
    def from_config(cls, config: TransferConfig, directory: Path) -> Transfer:
        tok_dir = Path(directory) / "tokenizer"
        weights = tok_dir / "model.safetensors"
        if not weights.is_file():
            raise CheckpointError(
                f"transfer bundle {directory} has no tokenizer ({weights} missing); save bundles with "
                "Transfer.save_pretrained, which copies the tokenizer into tokenizer/"
            )
        if config.tokenizer_sha and file_sha(weights) != config.tokenizer_sha:
            raise CheckpointError(
                f"{weights} is not the tokenizer this transfer model was trained with "
                f"(sha {config.tokenizer_sha} expected); copy the right tokenizer there"
            )
        model = cls(config, Tokenizer.from_pretrained(tok_dir, device="cpu"))
        model.tokenizer_source = tok_dir
        return model

    def save_pretrained(self, directory, dtype=torch.bfloat16, extra=None, tokenizer_dir=None) -> Path:
        """The networks (bf16 by default) and the tokenizer's files in ``directory/tokenizer/`` (copied byte
        for byte from where it was loaded, or ``tokenizer_dir``, so its SHA stays true)."""
        out = Path(directory)
        source = Path(tokenizer_dir) if tokenizer_dir else self.tokenizer_source
        tok_out = out / "tokenizer"
        if source is not None and (source / "model.safetensors").is_file():
            if source.resolve() != tok_out.resolve():
                tok_out.mkdir(parents=True, exist_ok=True)
                for name in ("config.json", "model.safetensors"):
                    shutil.copyfile(source / name, tok_out / name)
        else:
            self.tokenizer.save_pretrained(tok_out)
        sha = file_sha(tok_out / "model.safetensors")
        if sha != self.config.tokenizer_sha:
            self.config = TransferConfig(**{**asdict(self.config), "tokenizer_sha": sha})
        return super().save_pretrained(out, dtype=dtype, extra=extra)

    # ---- latents ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_images(self, images: np.ndarray | torch.Tensor, batch: int = 256) -> torch.Tensor:
        """(N, H, W, 3) uint8 -> raw latents (N, C, h, w) float32, every frame alone (image mode)."""
        x = torch.as_tensor(np.asarray(images))
        if tuple(x.shape[1:3]) != tuple(self.config.frame_size):
            raise ConfigError(
                f"frames are {x.shape[1]}x{x.shape[2]} (HxW); this model works on "
                f"{self.config.frame_size[0]}x{self.config.frame_size[1]}: resize them first"
            )
        out = []
        for i in range(0, len(x), batch):
            chunk = x[i : i + batch].permute(0, 3, 1, 2).unsqueeze(1).to(self.device)
            with self.amp():
                out.append(self.tokenizer.encode(chunk)[:, 0].float())
        return torch.cat(out)

    def normalize(self, z: torch.Tensor, name: str = "rgb") -> torch.Tensor:
        """Raw latents -> the model's normalised ones (``name``: "rgb" or a control)."""
        if name == "rgb":
            return (z - self.latent_mean) / self.latent_std
        return (z - getattr(self, f"{name}_mean")) / getattr(self, f"{name}_std")

    @torch.no_grad()
    def decode(self, z: torch.Tensor, batch: int = 256) -> np.ndarray:
        """Normalised RGB latents (N, C, h, w) -> frames (N, H, W, 3) uint8."""
        frames = []
        for i in range(0, len(z), batch):
            raw = z[i : i + batch] * self.latent_std + self.latent_mean
            with self.amp():
                x = self.tokenizer.decode(raw.unsqueeze(1))[:, 0]
            frames.append((x.float() * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu())
        return torch.cat(frames).numpy()

    def appearance(self, domain: str | list[str], first: torch.Tensor) -> torch.Tensor:
        """(B, domains + 1) appearance vectors: the domain one-hot and the first-frame flag ``first`` (B,)."""
        names = [domain] * len(first) if isinstance(domain, str) else list(domain)
        a = torch.zeros(len(first), len(self.config.domains) + 1, device=self.device)
        a[torch.arange(len(first)), [self.config.domain_id(n) for n in names]] = 1
        a[:, -1] = first.float()
        return a

    def cell_weights(self, weight: float | np.ndarray, frames: int) -> torch.Tensor:
        """A control weight (a scalar, an (H, W) mask or a (T, H, W) mask) -> (T, h, w) per latent cell
        (area average), not yet normalised."""
        h, w = self.config.latent_size
        m = torch.as_tensor(np.asarray(weight, dtype=np.float32))
        if m.ndim == 0:
            return m.expand(frames, h, w).clone()
        if m.ndim == 2:
            m = m.expand(frames, *m.shape)
        if m.ndim != 3 or len(m) != frames:
            raise ConfigError(
                f"a control mask must be a scalar, (H, W) or (T={frames}, H, W); got shape {tuple(m.shape)}"
            )
        return torch.nn.functional.adaptive_avg_pool2d(m[:, None], (h, w))[:, 0]

    # ---- generation ------------------------------------------------------------------------------------
    @torch.no_grad()
    def transfer(
        self,
        controls: dict[str, np.ndarray],
        spec: dict[str, dict] | None = None,
        seed: int = 0,
        domain: str | None = None,
        steps: int = 3,
        progress=None,
    ) -> np.ndarray:
        """Render the structure in ``controls`` in ``domain``: frames (T, H, W, 3) uint8.

        Args:
            controls: control maps by name (``CONTROLS``): depth (T, H, W) metres, seg (T, H, W) ids,
                edge (T, H, W) {0, 255}, vis (T, H, W, 3) uint8 (a blurred video).
            spec: Cosmos-Transfer1's spec without paths: ``{name: {"control_weight": w, "mask": m}}``
                (w a scalar, m an optional (H, W) or (T, H, W) array multiplying it). None: every given
                control at weight 1 (normalised: equal shares). A control in the spec must be in ``controls``.
            seed: the diffusion noise (the variation: another seed, another rendering).
            domain: appearance domain (``config.domains``); None: the first non-default one.
            steps: sampler steps (denoiser calls) per frame.
            progress: optional callable(frames_done) after each frame.
        """
        cfg = self.config
        domain = domain or next((d for d in cfg.domains if d != "default"), cfg.domains[0])
        spec = {k: {"control_weight": 1.0} for k in controls} if spec is None else spec
        missing = [k for k in spec if k not in controls]
        unknown = [k for k in spec if k not in cfg.controls]
        if unknown:
            raise ConfigError(f"this model has no {unknown} control(s); it takes {list(cfg.controls)}")
        if missing:
            raise ConfigError(f"the spec names control(s) {missing} but no map was given for them")
        lengths = {k: len(controls[k]) for k in spec}
        if not spec or len(set(lengths.values())) != 1:
            raise ConfigError(f"give at least one control, all of one length; got lengths {lengths}")
        frames = next(iter(lengths.values()))
        lat, weights = {}, {}
        for k, entry in spec.items():
            w = float(entry.get("control_weight", 1.0))
            mask = entry.get("mask")
            weights[k] = self.cell_weights(w if mask is None else w * np.asarray(mask, np.float32), frames)
            lat[k] = self.normalize(self.encode_images(control_image(k, controls[k])), k)
        weights = {k: v.to(self.device) for k, v in normalize_weights(weights).items()}
        gen = torch.Generator().manual_seed(int(seed))
        noise = torch.randn((frames, *self.net.latent_shape), generator=gen).to(self.device)
        k_ctx = cfg.context_frames
        context = torch.zeros(1, k_ctx, *self.net.latent_shape, device=self.device)
        out = []
        for t in range(frames):
            first = torch.tensor([t == 0], device=self.device)
            cond = Conditioning(
                self.appearance(domain, first),
                {k: v[t : t + 1] for k, v in lat.items()},
                {k: v[t : t + 1] for k, v in weights.items()},
            )
            with self.amp():
                z = self.net.sample(context, cond, steps=steps, noise=noise[t : t + 1]).float()
            out.append(z)
            context = torch.cat([context[:, 1:], z[:, None]], dim=1)
            if progress is not None:
                progress(t + 1)
        return self.decode(torch.cat(out))


__all__ = [
    "CONTROLS",
    "Conditioning",
    "STORE_MAPS",
    "Transfer",
    "TransferConfig",
    "TransferDiT",
    "control_image",
    "normalize_weights",
]
