"""``WorldModel``: a tokenizer, a dynamics model (diffusion DiT, AR GPT or multi-view DiT) and a reward head in one bundle.

Granularity is one action -> one frame. The tokenizer is a causal *video* tokenizer with 4x
temporal compression, but its first latent frame always encodes one frame alone, so every frame
is encoded in its image mode (``T = 1``): each frame gets its own latent (CV: 16 x 8 x 8 floats at
64x64; DV: 8 x 8 token ids) and the dynamics model predicts the next frame's latent from the last
``K`` latents and the action. CV latents are normalised per channel with statistics of the training
data (stored in the config); DV token ids are used as they are.

The "multiview" family (``world_models/multiview.py``) predicts the six driving cameras at once:
frames are ``(B, T, V, H, W, 3)``, latents ``(B, T, V, C, h, w)``, every view frame encoded alone;
``predict_next`` also takes optional future ego ``waypoints``.

Rollout API (batched; what the Gymnasium envs call)::

    state = wm.start(context)                  # context latents (B, K, ...), oldest first
    state, latent = wm.predict_next(state, action, noise)   # one step, one batched forward pass
    frames = wm.decode(latent)                 # (B, H, W, 3) uint8
    reward, p_success = wm.reward(latent, action)

Checkpoint directory (``save_pretrained`` / ``from_pretrained``)::

    config.json + model.safetensors    kind "wfm": dynamics + reward head (world_models/checkpoint.py)
    tokenizer/                         the tokenizer checkpoint it was trained with (self-contained),
                                       or ``config.tokenizer_dir``: a path relative to the bundle
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cosmos_sim.world_models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from cosmos_sim.world_models.dit import DiT, DiTConfig
from cosmos_sim.world_models.gpt import GPT, GPTConfig, GPTState
from cosmos_sim.world_models.heads import RewardHead, RewardHeadConfig
from cosmos_sim.world_models.multiview import MultiViewDiT, MultiViewDiTConfig
from cosmos_sim.world_models.tokenizer import Tokenizer, resolve_device

CHECKPOINT_KIND = "wfm"
FAMILIES = ("diffusion", "ar", "multiview")
#: family -> (dynamics config, dynamics network, tokenizer kind)
_DYNAMICS = {"diffusion": (DiTConfig, DiT, "CV"), "ar": (GPTConfig, GPT, "DV"),
             "multiview": (MultiViewDiTConfig, MultiViewDiT, "CV")}


@dataclass(frozen=True)
class WorldModelConfig:
    """What a world-model checkpoint is: family, networks, the env it imitates, sampling defaults."""

    family: str = "diffusion"
    """"diffusion" (DiT over CV latents), "ar" (GPT over DV token ids) or "multiview" (one DiT over
    the CV latents of several cameras)."""
    dynamics: dict = field(default_factory=dict)
    """DiTConfig (diffusion), GPTConfig (ar) or MultiViewDiTConfig (multiview) fields."""
    head: dict = field(default_factory=dict)
    """RewardHeadConfig fields."""
    env_id: str = "cosmos_sim/Manipulation-GT-v0"
    """The GT env whose frames and actions the model learned."""
    env_kwargs: dict = field(default_factory=dict)
    """Constructor kwargs of that GT env (e.g. width/height)."""
    action_layout: tuple[str, ...] = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")
    """Name of each action dimension; the env refuses a GT env with another layout."""
    frame_size: tuple[int, int] = (64, 64)
    """Frame height and width in pixels."""
    tokenizer_name: str = ""
    """Cosmos-style name of the tokenizer (CV4x8x8 ...)."""
    tokenizer_sha: str = ""
    """SHA-256 (first 16 hex digits) of the tokenizer's weights file."""
    tokenizer_dir: str = ""
    """Where the tokenizer checkpoint is, relative to the bundle, when it is not in ``tokenizer/``
    (shipped bundles point at ``assets/tokenizers/<name>`` instead of carrying a copy)."""
    latent_mean: tuple[float, ...] = ()
    """CV: per-channel mean of the training latents (subtracted before the DiT)."""
    latent_std: tuple[float, ...] = ()
    """CV: per-channel std of the training latents."""
    sampler_steps: int = 2
    """Diffusion: denoiser calls per frame at inference."""
    sampler: str = "euler"
    """Diffusion: "euler" or "heun"."""
    temperature: float = 0.0
    """AR: sampling temperature of each FSQ digit (0 = most likely digit)."""
    views: tuple[str, ...] = ()
    """Multiview: the camera (observation key) of each view, in the model's view order."""

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        for name in ("action_layout", "frame_size", "latent_mean", "latent_std", "views"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        # Complete and normalise the sub-configs (defaults filled in, JSON lists back to tuples).
        object.__setattr__(self, "dynamics", asdict(self.dynamics_config()))
        object.__setattr__(self, "head", asdict(RewardHeadConfig(**self.head)))

        if self.family == "multiview" and len(self.views) != self.dynamics_config().views:
            raise ValueError(f"multiview: {len(self.views)} view names {self.views} for "
                             f"{self.dynamics_config().views} views")

    def dynamics_config(self) -> DiTConfig | GPTConfig | MultiViewDiTConfig:
        return _DYNAMICS[self.family][0](**self.dynamics)

    @property
    def continuous(self) -> bool:
        """CV latents (diffusion, multiview) rather than DV token ids (ar)."""
        return self.family != "ar"

    @property
    def context_frames(self) -> int:
        return self.dynamics_config().context_frames


@dataclass
class RolloutState:
    """Where a batch of rollouts stands: the last K latents (and the AR model's KV cache)."""

    window: torch.Tensor
    """(B, K, C, h, w) normalised CV latents ((B, K, V, C, h, w) multiview) or (B, K, h, w) DV token ids,
    oldest first."""
    gpt: GPTState | None = None
    """AR only: the KV cache."""


def file_sha(path: str | os.PathLike) -> str:
    """First 16 hex digits of a file's SHA-256."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


@cache
def cpu_has_fast_bf16() -> bool:
    """AMX or AVX512-BF16 on this CPU: bf16 autocast is then 2-3x faster than fp32 here."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


class WorldModel(nn.Module):
    """Tokenizer + dynamics + reward head; see the module docstring."""

    def __init__(self, config: WorldModelConfig, tokenizer: Tokenizer):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer.eval().requires_grad_(False)
        _, network, expected = _DYNAMICS[config.family]
        if tokenizer.config.kind != expected:
            raise ValueError(f"a {config.family} world model needs a {expected} tokenizer, got {tokenizer.config.name}")
        self.dynamics = network(config.dynamics_config())
        self.head = RewardHead(RewardHeadConfig(**config.head))
        c = tokenizer.config.latent_channels
        mean = torch.tensor(config.latent_mean or [0.0] * c, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(config.latent_std or [1.0] * c, dtype=torch.float32).view(1, -1, 1, 1)
        self.register_buffer("latent_mean", mean, persistent=False)
        self.register_buffer("latent_std", std, persistent=False)
        self.autocast = True

    @property
    def device(self) -> torch.device:
        return self.latent_mean.device

    @property
    def context_frames(self) -> int:
        return self.config.context_frames

    def amp(self):
        """bf16 autocast where it is fast (CUDA, or CPUs with AMX/AVX512-BF16); otherwise a no-op."""
        on = self.autocast and (self.device.type == "cuda" or cpu_has_fast_bf16())
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=on)

    # ---- frames <-> latents --------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Frames ``(B, T, H, W, 3)`` uint8 (channels-last, as envs return them; multiview
        ``(B, T, V, H, W, 3)``) -> latents, one per frame (and view).

        CV: normalised ``(B, T[, V], C, h, w)`` float32; DV: token ids ``(B, T, h, w)`` int64.
        """
        x = torch.as_tensor(np.asarray(frames)) if isinstance(frames, np.ndarray) else frames
        lead = 3 if self.config.family == "multiview" else 2  # (B, T[, V])
        layout = "(B, T, V, H, W, 3)" if lead == 3 else "(B, T, H, W, 3)"
        if x.ndim != lead + 3 or x.shape[-1] != 3 or x.dtype != torch.uint8:
            raise ValueError(f"frames must be uint8 {layout}, got {x.dtype} {tuple(x.shape)}")
        if lead == 3 and x.shape[2] != len(self.config.views):
            raise ValueError(f"frames hold {x.shape[2]} views, this model needs {len(self.config.views)} "
                             f"({', '.join(self.config.views)})")
        if tuple(x.shape[lead : lead + 2]) != self.config.frame_size:
            raise ValueError(f"frames are {x.shape[lead]}x{x.shape[lead + 1]} (HxW) but this world model works on "
                             f"{self.config.frame_size[0]}x{self.config.frame_size[1]}; resize them first")
        imgs = x.flatten(0, lead - 1).permute(0, 3, 1, 2).to(self.device)  # every frame alone: image mode
        with self.amp():
            z = self.tokenizer.encode(imgs)[:, 0]
        if self.config.continuous:
            z = (z.float() - self.latent_mean) / self.latent_std
        return z.unflatten(0, tuple(x.shape[:lead]))

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> np.ndarray:
        """One latent per row (CV ``(B, C, h, w)`` normalised, DV ``(B, h, w)``; multiview ``(B, V, C, h, w)``)
        -> ``(B, H, W, 3)`` uint8 (multiview ``(B, V, H, W, 3)``)."""
        lead = latent.shape[: latent.ndim - (3 if self.config.continuous else 2)]
        z = latent.reshape(-1, *latent.shape[len(lead):])
        z = z * self.latent_std + self.latent_mean if self.config.continuous else z
        with self.amp():
            x = self.tokenizer.decode(z.unsqueeze(1))[:, 0]
        out = (x.float() * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        return out.reshape(*lead, *out.shape[1:])

    def head_input(self, latent: torch.Tensor) -> torch.Tensor:
        """What the reward head reads: normalised CV latents (multiview: the views on the channels), or
        the FSQ codes of DV token ids."""
        if self.config.family == "diffusion":
            return latent
        if self.config.family == "multiview":
            return latent.flatten(1, 2)
        return self.tokenizer.fsq.indices_to_codes(latent)

    # ---- rollout -------------------------------------------------------------------------------------
    @torch.no_grad()
    def start(self, context: torch.Tensor, position: int = 0) -> RolloutState:
        """A rollout state from K context latents per row (as ``encode`` returns them).

        The actions between context frames are taken as zero (the env's default context is the
        first frame repeated, which training mimics at episode starts).
        """
        k = self.context_frames
        if context.shape[1] != k:
            raise ValueError(f"need {k} context latents per row, got {context.shape[1]}")
        context = context.to(self.device)
        if self.config.continuous:
            return RolloutState(window=context)
        zeros = torch.zeros(context.shape[0], k - 1, self.dynamics.config.action_dim, device=self.device)
        with self.amp():
            return RolloutState(window=context, gpt=self.dynamics.start(context, zeros, position=position))

    @torch.no_grad()
    def predict_next(self, state: RolloutState, action: torch.Tensor | np.ndarray,
                     noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                     waypoints: torch.Tensor | np.ndarray | None = None) -> tuple[RolloutState, torch.Tensor]:
        """One batched step: the next latent of every row after ``action`` (B, A), and the new state.

        Args:
            state: from ``start`` or a previous ``predict_next``.
            action: ``(B, action_dim)``.
            noise: diffusion: the sampler's starting noise ``(B, *latent_shape)`` (standard normal);
                drawn from torch's global generator when None.
            generator: AR with temperature > 0: the digit sampler's generator.
            waypoints: multiview models trained with waypoints: ``(B, W, 2)`` future ego positions
                (metres, x forward, y left, in the current ego frame); None: action only.
        """
        a = torch.as_tensor(np.asarray(action, dtype=np.float32)).to(self.device)
        cfg = self.config
        if waypoints is not None and cfg.family != "multiview":
            raise ValueError(f"waypoints condition multiview models only, not a {cfg.family} model")
        with self.amp():
            if cfg.continuous:
                cond = self.dynamics.condition(a, waypoints) if cfg.family == "multiview" else a
                nxt = self.dynamics.sample(state.window, cond, steps=cfg.sampler_steps, sampler=cfg.sampler,
                                           noise=noise)
                nxt = nxt.float()
                gpt = None
            else:
                nxt = self.dynamics.step(state.gpt, a, temperature=cfg.temperature, generator=generator)
                gpt = state.gpt
        window = torch.cat([state.window[:, 1:], nxt.unsqueeze(1)], dim=1)
        return RolloutState(window=window, gpt=gpt), nxt

    def noise(self, generators: list[torch.Generator]) -> torch.Tensor | None:
        """Per-row sampler noise from per-row generators (reproducible whatever the batch)."""
        if not self.config.continuous:
            return None
        return torch.stack([torch.randn(*self.dynamics.latent_shape, generator=g) for g in generators])

    def restart_rows(self, state: RolloutState, rows: torch.Tensor, context: torch.Tensor) -> RolloutState:
        """``state`` with the rows where ``rows`` (bool (B,)) is set restarted from ``context`` latents."""
        rows = rows.to(self.device)
        fresh = self.start(context, position=0 if state.gpt is None else state.gpt.position - self.dynamics.cache_length())
        shape = (-1,) + (1,) * (state.window.ndim - 1)
        window = torch.where(rows.view(shape), fresh.window, state.window)
        gpt = None if state.gpt is None else self.dynamics.select(state.gpt, rows, fresh.gpt)
        return RolloutState(window=window, gpt=gpt)

    @torch.no_grad()
    def reward(self, latent: torch.Tensor, action: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted reward ``(B,)`` and success probability ``(B,)`` of reaching ``latent`` by ``action``."""
        a = torch.as_tensor(np.asarray(action, dtype=np.float32)).to(self.device)
        r, logit = self.head(self.head_input(latent), a)
        return r.float().cpu().numpy(), torch.sigmoid(logit.float()).cpu().numpy()

    # ---- checkpoints ---------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike, tokenizer_dir: str | os.PathLike | None = None,
                        dtype: torch.dtype | None = torch.bfloat16, extra: dict | None = None,
                        tokenizer_ref: str | None = None) -> Path:
        """Write the bundle (weights in bf16 by default) with the tokenizer beside it in ``tokenizer/``.

        ``tokenizer_dir``: copy that checkpoint directory; otherwise the in-memory tokenizer is
        saved. ``tokenizer_ref``: store no copy, only this path relative to the bundle (it must hold
        the same tokenizer: its SHA is checked on load).
        """
        out = Path(directory)
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("tokenizer.")}
        config = asdict(self.config)
        if tokenizer_ref is not None:
            target = Path(os.path.normpath(out / tokenizer_ref)) / "model.safetensors"
            if not target.is_file() or (self.config.tokenizer_sha and file_sha(target) != self.config.tokenizer_sha):
                raise ValueError(f"tokenizer_ref {tokenizer_ref!r} does not lead to this model's tokenizer ({target})")
            config["tokenizer_dir"] = str(tokenizer_ref)
            save_checkpoint(out, CHECKPOINT_KIND, config, state, dtype=dtype, extra=extra)
            return out
        config["tokenizer_dir"] = ""
        save_checkpoint(out, CHECKPOINT_KIND, config, state, dtype=dtype, extra=extra)
        tok_out = out / "tokenizer"
        if tokenizer_dir is not None and Path(tokenizer_dir).resolve() != tok_out.resolve():
            tok_out.mkdir(parents=True, exist_ok=True)
            for name in ("config.json", "model.safetensors"):
                shutil.copyfile(Path(tokenizer_dir) / name, tok_out / name)
        elif tokenizer_dir is None:
            self.tokenizer.save_pretrained(tok_out, dtype=dtype)
        return out

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: str | torch.device = "auto") -> WorldModel:
        """Load a bundle written by ``save_pretrained`` (eval mode) onto ``device`` ("auto": CUDA if present)."""
        d = Path(directory)
        config, state, _ = load_checkpoint(d, CHECKPOINT_KIND)
        try:
            cfg = WorldModelConfig(**config)
            cfg.dynamics_config()
        except TypeError as e:
            raise CheckpointError(f"{d / 'config.json'} has an unknown world-model config: {e}") from None
        tok_dir = Path(os.path.normpath(d / cfg.tokenizer_dir)) if cfg.tokenizer_dir else d / "tokenizer"
        tokenizer = Tokenizer.from_pretrained(tok_dir, device="cpu")
        if cfg.tokenizer_sha and file_sha(tok_dir / "model.safetensors") != cfg.tokenizer_sha:
            raise CheckpointError(f"{tok_dir / 'model.safetensors'} is not the tokenizer {d} was trained with "
                                  f"(sha {cfg.tokenizer_sha} expected); copy the right tokenizer there")
        model = cls(cfg, tokenizer)
        own = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        missing, unexpected = model.load_state_dict(own, strict=False)
        missing = [k for k in missing if not k.startswith("tokenizer.")]
        if missing or unexpected:
            raise CheckpointError(f"{d / 'model.safetensors'} does not match its config: "
                                  f"missing {missing[:3]}, unexpected {unexpected[:3]}")
        return model.to(resolve_device(device)).eval()


def tiny_world_model(family: str = "diffusion", context_frames: int = 2, seed: int = 0,
                     frame_size: tuple[int, int] = (64, 64)) -> WorldModel:
    """A tiny randomly initialised world model (and tokenizer): tests, smoke runs.

    diffusion/ar imitate the manipulation env; multiview the six cameras of the driving env (with
    two-waypoint trajectory conditioning).
    """
    from cosmos_sim.world_models.tokenizer import TokenizerConfig

    torch.manual_seed(seed)
    kind = _DYNAMICS[family][2]
    tok = Tokenizer(TokenizerConfig(kind=kind, latent_channels=4, frame_channels=8, channels=16, res_blocks=1,
                                    attention=False, norm_groups=4))
    tc = tok.config
    hw = (frame_size[0] // tc.spatial_compression, frame_size[1] // tc.spatial_compression)
    common = dict(latent_size=hw, context_frames=context_frames, dim=32, depth=2, heads=2)
    env: dict = {}
    if family == "diffusion":
        dyn, head_ch = dict(common, latent_channels=tc.latent_channels), tc.latent_channels
    elif family == "multiview":
        views = ("front", "front_left", "front_right", "rear", "rear_left", "rear_right")
        dyn = dict(common, latent_channels=tc.latent_channels, views=len(views), waypoints=2)
        head_ch = tc.latent_channels * len(views)
        env = dict(env_id="cosmos_sim/Driving-GT-v0", action_layout=("steering", "acceleration"), views=views)
    else:
        dyn, head_ch = dict(common, fsq_levels=tc.fsq_levels), len(tc.fsq_levels)
    action_dim = len(env.get("action_layout", WorldModelConfig.action_layout))
    cfg = WorldModelConfig(family=family, dynamics=dict(dyn, action_dim=action_dim),
                           head=dict(latent_channels=head_ch, latent_size=hw, channels=8, hidden=16,
                                     action_dim=action_dim),
                           env_kwargs={"width": frame_size[1], "height": frame_size[0]}, frame_size=frame_size,
                           tokenizer_name=tc.name, sampler_steps=2, **env)
    return WorldModel(cfg, tok).eval()


__all__ = ["CHECKPOINT_KIND", "RolloutState", "WorldModel", "WorldModelConfig", "cpu_has_fast_bf16", "file_sha", "tiny_world_model"]
