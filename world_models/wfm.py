"""``WorldModel``: a tokenizer, a dynamics model (diffusion DiT, AR GPT or multi-view DiT) and a reward head in one bundle.

Granularity is one action -> one frame. The tokenizer is a causal *video* tokenizer with 4x
temporal compression, but its first latent frame always encodes one frame alone, so every frame
is encoded in its image mode (``T = 1``): each frame gets its own latent (CV: 16 x 8 x 8 floats at
64x64; DV: 8 x 8 token ids) and the dynamics model predicts the next frame's latent from the last
``K`` latents and the action. CV latents are normalised per channel with statistics of the training
data (stored in the config); DV token ids are used as they are.

Families: the dynamics config's class says which family a model is (``config.family``); the family's
adapter (``world_models/families.py``, registry ``FAMILIES``) holds all that differs between them, so
nothing here names a family. The "multiview" family (``world_models/multiview.py``) predicts the six
driving cameras at once: frames are ``(B, T, V, H, W, 3)``, latents ``(B, T, V, C, h, w)``, every
view frame encoded alone; ``predict_next`` also takes optional future ego ``waypoints``.

Rollout API (batched; what the Gymnasium envs call)::

    state = wm.start(context)                  # context latents (B, K, ...), oldest first
    state, latent = wm.predict_next(state, action, noise)   # one step, one batched forward pass
    frames = wm.decode(latent)                 # (B, H, W, 3) uint8
    reward, p_success = wm.reward(latent, action)

Checkpoint directory (``save_pretrained`` / ``from_pretrained``: a path or a name under ``assets/wfm/``)::

    config.json + model.safetensors    kind "wfm": dynamics + reward head (world_models/checkpoint.py);
                                       ``config["dynamics"]["type"]`` is the family (files written before
                                       the tag have ``config["family"]`` instead, read the same)
    tokenizer/                         the tokenizer checkpoint it was trained with (self-contained),
                                       or ``config.tokenizer_dir``: a path relative to the bundle

Finding the tokenizer on load (``WorldModel.from_config``): ``config.tokenizer_dir`` when it resolves,
else ``tokenizer/``, else the shipped tokenizer (``assets/tokenizers/*``) whose weights have the SHA
stored in the config, so a shipped bundle copied elsewhere still loads; otherwise a
``CheckpointError`` naming the SHA. ``save_pretrained(dir)`` without ``tokenizer_ref`` always writes a
self-contained bundle (the tokenizer's files copied into ``dir/tokenizer/``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.world_models.checkpoint import save_checkpoint
from cosmos_sim.world_models.families import FAMILIES, Family, family_of, get_family
from cosmos_sim.world_models.heads import RewardHead, RewardHeadConfig
from cosmos_sim.world_models.pretrained import PretrainedModel
from cosmos_sim.world_models.tokenizer import Tokenizer

CHECKPOINT_KIND = "wfm"


@dataclass(frozen=True)
class WorldModelConfig:
    """What a world-model checkpoint is: dynamics and head networks, the env it imitates, sampling defaults."""

    family: str = ""
    """The dynamics family ("diffusion", "ar", "multiview" or another registered in ``FAMILIES``); ""
    takes it from the class of ``dynamics``."""
    dynamics: Any = None
    """The dynamics network's typed config, of the family's config class (``world_models/families.py``):
    DiTConfig (diffusion), GPTConfig (ar) or MultiViewDiTConfig (multiview). A dict (the untyped form of
    the first format, or a JSON one with its ``"type"`` tag) is converted; None: the family's defaults."""
    head: RewardHeadConfig = field(default_factory=RewardHeadConfig)
    """The reward head's config (a dict is converted)."""
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
    change_gain: float = 0.0
    """Diffusion: at inference the predicted change from the last latent is multiplied by 1 + this. A
    few-step sampler returns close to the mean of what may come next, which shrinks motion (a ball slows
    down and fades over an open loop); a small gain undoes that, like guidance against "nothing moves".
    Chosen per model on validation seeds (``benchmarks/fidelity_ablation.md``); 0 = off."""
    context_sigma: float = 0.0
    """Diffusion trained with ``context_aug``: the noise std its context is announced at in inference
    (nothing is added; a higher level tells it to trust its own drifted frames less)."""
    temperature: float = 0.0
    """AR: sampling temperature of each FSQ digit (0 = most likely digit)."""
    views: tuple[str, ...] = ()
    """Multiview: the camera (observation key) of each view, in the model's view order."""
    max_episode_steps: int | None = None
    """Episode length of ``env_id`` when the training store was recorded (its time limit); None: not
    recorded (the envs then take the registered spec's)."""

    def __post_init__(self):
        dynamics = self.dynamics
        if dynamics is None or isinstance(dynamics, dict):  # untyped: the family says which config it is
            dynamics = dict(dynamics or {})
            tag = dynamics.pop("type", None)
            if tag and self.family and tag != self.family:
                raise ConfigError(f"family {self.family!r} does not match the dynamics config's type {tag!r}")
            dynamics = get_family(self.family or tag or "diffusion").config_class(**dynamics)
        family = family_of(dynamics)  # a registered family's config, or a ConfigError
        if self.family and self.family != family:
            raise ConfigError(
                f"family {self.family!r} does not match its dynamics config, a "
                f"{type(dynamics).__name__} (the {family!r} family)"
            )
        head = RewardHeadConfig(**self.head) if isinstance(self.head, dict) else self.head
        if not isinstance(head, RewardHeadConfig):
            raise ConfigError(f"head must be a RewardHeadConfig, got {type(head).__name__}")
        object.__setattr__(self, "family", family)
        object.__setattr__(self, "dynamics", dynamics)
        object.__setattr__(self, "head", head)
        for name in ("action_layout", "frame_size", "latent_mean", "latent_std", "views"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.change_gain and (self.change_gain <= -1 or not FAMILIES[family].extrapolates):
            raise ConfigError(
                f"change_gain={self.change_gain}: use 0, or a gain > -1 with a diffusion-family model "
                f"(not {family!r})"
            )
        if self.context_sigma < 0 or (self.context_sigma and not getattr(dynamics, "context_aug", 0.0)):
            raise ConfigError(
                f"context_sigma={self.context_sigma}: use 0, or a level >= 0 with a diffusion model trained "
                "with context_aug (train-wfm --context-aug)"
            )
        FAMILIES[family].check(self)

    @property
    def family_adapter(self) -> Family:
        """The family's adapter (``world_models/families.py``)."""
        return FAMILIES[self.family]

    @property
    def continuous(self) -> bool:
        """CV latents (diffusion, multiview) rather than DV token ids (ar)."""
        return self.family_adapter.continuous

    @property
    def context_frames(self) -> int:
        return self.dynamics.context_frames

    # ---- JSON (config.json) ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """JSON-able fields; the family is the dynamics config's ``"type"`` tag."""
        data = asdict(self)
        data["dynamics"] = {"type": data.pop("family"), **data["dynamics"]}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorldModelConfig:
        """Inverse of ``to_json``. Files written before the tag (``family`` beside an untagged ``dynamics``
        dict, as every shipped bundle) read the same: the constructor converts both forms."""
        return cls(**data)


@dataclass
class RolloutState:
    """Where a batch of rollouts stands: the last K latents and the family's own rollout memory."""

    window: torch.Tensor
    """(B, K, C, h, w) normalised CV latents ((B, K, V, C, h, w) multiview) or (B, K, h, w) DV token ids,
    oldest first."""
    cache: Any = None
    """The family's rollout memory (``Family.start``): the AR model's KV cache; None for the others."""


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


class WorldModel(PretrainedModel):
    """Tokenizer + dynamics + reward head; see the module docstring."""

    checkpoint_kind, shipped_folder, label = CHECKPOINT_KIND, "wfm", "world-model"

    def __init__(self, config: WorldModelConfig, tokenizer: Tokenizer):
        super().__init__()
        self.config = config
        self.family = config.family_adapter  # all that differs between families (world_models/families.py)
        self.tokenizer = tokenizer.eval().requires_grad_(False)
        if tokenizer.config.kind != self.family.tokenizer_kind:
            raise ConfigError(
                f"a {config.family} world model needs a {self.family.tokenizer_kind} tokenizer, "
                f"got {tokenizer.config.name}"
            )
        self.dynamics = self.family.network(config.dynamics)
        self.head = RewardHead(config.head)
        c = tokenizer.config.latent_channels
        mean = torch.tensor(config.latent_mean or [0.0] * c, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(config.latent_std or [1.0] * c, dtype=torch.float32).view(1, -1, 1, 1)
        self.register_buffer("latent_mean", mean, persistent=False)
        self.register_buffer("latent_std", std, persistent=False)
        self.autocast = True
        self.tokenizer_source: Path | None = None
        """The tokenizer checkpoint directory this model was loaded with (``from_pretrained``), if any."""

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
        lead = 3 if self.family.multi_view else 2  # (B, T[, V])
        layout = "(B, T, V, H, W, 3)" if lead == 3 else "(B, T, H, W, 3)"
        if x.ndim != lead + 3 or x.shape[-1] != 3 or x.dtype != torch.uint8:
            raise ConfigError(f"frames must be uint8 {layout}, got {x.dtype} {tuple(x.shape)}")
        if lead == 3 and x.shape[2] != len(self.config.views):
            raise ConfigError(
                f"frames hold {x.shape[2]} views, this model needs {len(self.config.views)} "
                f"({', '.join(self.config.views)})"
            )
        if tuple(x.shape[lead : lead + 2]) != self.config.frame_size:
            raise ConfigError(
                f"frames are {x.shape[lead]}x{x.shape[lead + 1]} (HxW) but this world model works on "
                f"{self.config.frame_size[0]}x{self.config.frame_size[1]}; resize them first"
            )
        imgs = x.flatten(0, lead - 1).permute(0, 3, 1, 2).to(self.device)  # every frame alone: image mode
        with self.amp():
            z = self.tokenizer.encode(imgs)[:, 0]
        if self.family.continuous:
            z = (z.float() - self.latent_mean) / self.latent_std
        return z.unflatten(0, tuple(x.shape[:lead]))

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> np.ndarray:
        """One latent per row (CV ``(B, C, h, w)`` normalised, DV ``(B, h, w)``; multiview ``(B, V, C, h, w)``)
        -> ``(B, H, W, 3)`` uint8 (multiview ``(B, V, H, W, 3)``)."""
        continuous = self.family.continuous
        lead = latent.shape[: latent.ndim - (3 if continuous else 2)]
        z = latent.reshape(-1, *latent.shape[len(lead) :])
        z = z * self.latent_std + self.latent_mean if continuous else z
        with self.amp():
            x = self.tokenizer.decode(z.unsqueeze(1))[:, 0]
        out = (x.float() * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        return out.reshape(*lead, *out.shape[1:])

    def head_input(self, latent: torch.Tensor) -> torch.Tensor:
        """What the reward head reads: normalised CV latents (multiview: the views on the channels), or
        the FSQ codes of DV token ids."""
        return self.family.head_input(self, latent)

    # ---- rollout -------------------------------------------------------------------------------------
    def _context(self, context: torch.Tensor) -> torch.Tensor:
        if context.shape[1] != self.context_frames:
            raise ConfigError(f"need {self.context_frames} context latents per row, got {context.shape[1]}")
        return context.to(self.device)

    @torch.no_grad()
    def start(self, context: torch.Tensor, position: int = 0) -> RolloutState:
        """A rollout state from K context latents per row (as ``encode`` returns them).

        The actions between context frames are taken as zero (the env's default context is the
        first frame repeated, which training mimics at episode starts).
        """
        context = self._context(context)
        with self.amp():
            return RolloutState(window=context, cache=self.family.start(self, context, position))

    @torch.no_grad()
    def predict_next(
        self,
        state: RolloutState,
        action: torch.Tensor | np.ndarray,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        waypoints: torch.Tensor | np.ndarray | None = None,
    ) -> tuple[RolloutState, torch.Tensor]:
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
        with self.amp():
            nxt = self.family.predict(self, state, a, noise, generator, waypoints)
        if self.config.change_gain:  # undo the shrinkage of the predicted change (see the field)
            last = state.window[:, -1].to(nxt.dtype)
            nxt = last + (1 + self.config.change_gain) * (nxt - last)
        window = torch.cat([state.window[:, 1:], nxt.unsqueeze(1)], dim=1)
        return RolloutState(window=window, cache=state.cache), nxt

    def noise(self, generators: list[torch.Generator]) -> torch.Tensor | None:
        """Per-row sampler noise from per-row generators (reproducible whatever the batch)."""
        return self.family.noise(self, generators)

    @torch.no_grad()
    def restart_rows(self, state: RolloutState, rows: torch.Tensor, context: torch.Tensor) -> RolloutState:
        """``state`` with the rows where ``rows`` (bool (B,)) is set restarted from ``context`` latents."""
        rows, context = rows.to(self.device), self._context(context)
        shape = (-1,) + (1,) * (state.window.ndim - 1)
        window = torch.where(rows.view(shape), context, state.window)
        with self.amp():
            return RolloutState(window=window, cache=self.family.restart(self, state, rows, context))

    @torch.no_grad()
    def reward(
        self, latent: torch.Tensor, action: torch.Tensor | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predicted reward ``(B,)`` and success probability ``(B,)`` of reaching ``latent`` by ``action``."""
        a = torch.as_tensor(np.asarray(action, dtype=np.float32)).to(self.device)
        r, logit = self.head(self.head_input(latent), a)
        return r.float().cpu().numpy(), torch.sigmoid(logit.float()).cpu().numpy()

    # ---- checkpoints (PretrainedModel) -----------------------------------------------------------------
    def config_to_json(self) -> dict[str, Any]:
        return self.config.to_json()

    @classmethod
    def config_from_json(cls, data: dict[str, Any]) -> WorldModelConfig:
        return WorldModelConfig.from_json(data)

    def checkpoint_state(self) -> dict[str, torch.Tensor]:
        """Dynamics and head: the tokenizer is its own checkpoint."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("tokenizer.")}

    @classmethod
    def from_pretrained(
        cls,
        name_or_dir: str | os.PathLike,
        device: str | torch.device = "auto",
        adapter: str | os.PathLike | None = None,
    ) -> WorldModel:
        """Load a bundle (see ``PretrainedModel.from_pretrained``); ``adapter``: a LoRA adapter directory
        trained on this bundle (``world_models/lora.py``), put on top (a CheckpointError for another base)."""
        model = super().from_pretrained(name_or_dir, device)
        if adapter is not None:
            from cosmos_sim.world_models.lora import load_adapter

            load_adapter(model, adapter, cls.resolve_pretrained(name_or_dir)).eval()
        return model

    @classmethod
    def from_config(cls, config: WorldModelConfig, directory: Path) -> WorldModel:
        """The bundle's networks around its tokenizer (``find_tokenizer``: the bundle's own or a shipped one,
        SHA checked). A family whose bundles are laid out otherwise loads them with its own class
        (``Family.bundle_class``: e.g. a diffusers checkpoint's VAE as tokenizer)."""
        own = config.family_adapter.bundle_class()
        if own is not None and not issubclass(cls, own):
            return own.from_config(config, directory)
        tok_dir = find_tokenizer(config, directory)
        model = cls(config, Tokenizer.from_pretrained(tok_dir, device="cpu"))
        model.tokenizer_source = tok_dir
        return model

    def save_pretrained(
        self,
        directory: str | os.PathLike,
        dtype: torch.dtype | None = torch.bfloat16,
        extra: dict | None = None,
        *,
        tokenizer_dir: str | os.PathLike | None = None,
        tokenizer_ref: str | None = None,
    ) -> Path:
        """Write the bundle (weights in bf16 by default) with the tokenizer beside it in ``tokenizer/``.

        ``tokenizer_dir``: copy that checkpoint directory; otherwise the files the tokenizer was loaded
        from (a bundle loaded with ``from_pretrained``, shipped ones included: the copy is byte for byte,
        so its SHA stays the one in the config), or else the in-memory tokenizer, are written: the
        bundle is self-contained and can be copied anywhere. ``tokenizer_ref``: store no copy, only this
        path relative to the bundle (it must hold the same tokenizer: its SHA is checked on load; a
        copy of the bundle elsewhere then finds it among the shipped tokenizers by that SHA).
        """
        out = Path(directory)
        config = self.config_to_json() | {"tokenizer_dir": ""}
        if tokenizer_ref is not None:
            target = Path(os.path.normpath(out / tokenizer_ref)) / "model.safetensors"
            if not target.is_file() or (
                self.config.tokenizer_sha and file_sha(target) != self.config.tokenizer_sha
            ):
                raise ConfigError(
                    f"tokenizer_ref {tokenizer_ref!r} does not lead to this model's tokenizer ({target})"
                )
            config["tokenizer_dir"] = str(tokenizer_ref)
        save_checkpoint(out, CHECKPOINT_KIND, config, self.checkpoint_state(), dtype=dtype, extra=extra)
        if tokenizer_ref is not None:
            return out
        tok_out = out / "tokenizer"
        source = self.tokenizer_source
        if tokenizer_dir is None and source is not None and (source / "model.safetensors").is_file():
            sha = self.config.tokenizer_sha
            if not sha or file_sha(source / "model.safetensors") == sha:
                tokenizer_dir = source  # byte for byte: the SHA in the config stays true
        if tokenizer_dir is not None and Path(tokenizer_dir).resolve() != tok_out.resolve():
            tok_out.mkdir(parents=True, exist_ok=True)
            for name in ("config.json", "model.safetensors"):
                shutil.copyfile(Path(tokenizer_dir) / name, tok_out / name)
        elif tokenizer_dir is None:
            self.tokenizer.save_pretrained(tok_out, dtype=dtype)
        return out


@cache
def _sha_of(path: Path, size: int, mtime_ns: int) -> str:
    return file_sha(path)


def shipped_tokenizer_by_sha(sha: str) -> Path | None:
    """The shipped tokenizer directory (``assets/tokenizers/<name>``) whose weights have this SHA, or None."""
    from cosmos_sim.assets import ASSETS_DIR

    root = ASSETS_DIR / "tokenizers"
    for weights in sorted(root.glob("*/model.safetensors")) if root.is_dir() else []:
        st = weights.stat()
        if _sha_of(weights, st.st_size, st.st_mtime_ns) == sha:
            return weights.parent
    return None


def find_tokenizer(config: WorldModelConfig, directory: str | os.PathLike) -> Path:
    """The tokenizer checkpoint directory of the bundle at ``directory``.

    In order: ``config.tokenizer_dir`` (relative to the bundle) when it holds a tokenizer, the bundle's
    own ``tokenizer/``, then the shipped tokenizer with ``config.tokenizer_sha`` (a shipped bundle
    copied elsewhere loses its relative path). A tokenizer found at the bundle's own path must have that
    SHA; no tokenizer anywhere is a ``CheckpointError`` naming the SHA and the fix.
    """
    directory = Path(directory)
    sha = config.tokenizer_sha
    candidates = [directory / "tokenizer"]
    if config.tokenizer_dir:  # shipped bundles point at a shared tokenizer instead of carrying a copy
        candidates.insert(0, Path(os.path.normpath(directory / config.tokenizer_dir)))
    for tok_dir in candidates:
        if (tok_dir / "model.safetensors").is_file():
            if sha and file_sha(tok_dir / "model.safetensors") != sha:
                raise CheckpointError(
                    f"{tok_dir / 'model.safetensors'} is not the tokenizer {directory} was trained with "
                    f"(sha {sha} expected); copy the right tokenizer there"
                )
            return tok_dir
    shipped = shipped_tokenizer_by_sha(sha) if sha else None
    if shipped is not None:
        return shipped
    tried = " nor ".join(str(c) for c in candidates)
    raise CheckpointError(
        f"world-model bundle {directory} needs the tokenizer {config.tokenizer_name or ''} with sha "
        f"{sha or '(none recorded)'}: it is not at {tried}, nor among the shipped tokenizers (assets/tokenizers/); "
        f"copy that tokenizer's directory (config.json + model.safetensors) to {directory / 'tokenizer'}, or "
        "save bundles with WorldModel.save_pretrained(dir) (no tokenizer_ref) so they carry their tokenizer"
    )


def set_torch_threads(threads: int, processes: int = 1, what: str = "") -> None:
    """``torch.set_num_threads(threads)`` (0: leave torch's setting), with a warning when ``threads x
    processes`` would oversubscribe this machine's cores (the threads then spin against each other: on
    a busy 2-core machine 2 threads ran the WFM env 3-9x slower than 1, README "Bring your own environment")."""
    import warnings

    if threads < 0:
        raise ConfigError(f"{what or 'threads'}: threads must be >= 0 (0: torch's default), got {threads}")
    if threads:
        torch.set_num_threads(threads)
    n, cores = torch.get_num_threads(), os.cpu_count() or 1
    if n * processes > cores:
        warnings.warn(
            f"{what + ': ' if what else ''}{n} torch threads x {processes} process(es) > {cores} CPU cores; "
            "the threads will spin against each other. Pass threads=1 (--threads 1) or fewer processes",
            RuntimeWarning,
            stacklevel=2,
        )


def tiny_world_model(
    family: str = "diffusion",
    context_frames: int = 2,
    seed: int = 0,
    frame_size: tuple[int, int] = (64, 64),
    env: dict | None = None,
) -> WorldModel:
    """A tiny randomly initialised world model (and tokenizer): tests, smoke runs.

    Single-view families imitate the manipulation env; multi-view ones the six cameras of the driving
    env (with two-waypoint trajectory conditioning). ``env``: ``WorldModelConfig`` fields that say which
    env it imitates instead (``env_id``, ``env_kwargs``, ``action_layout``, ``max_episode_steps``).
    """
    from types import SimpleNamespace

    from cosmos_sim.world_models.tokenizer import TokenizerConfig

    fam = get_family(family)
    torch.manual_seed(seed)
    tok = Tokenizer(
        TokenizerConfig(
            kind=fam.tokenizer_kind,
            latent_channels=4,
            frame_channels=8,
            channels=16,
            res_blocks=1,
            attention=False,
            norm_groups=4,
        )
    )
    tc = tok.config
    hw = (frame_size[0] // tc.spatial_compression, frame_size[1] // tc.spatial_compression)
    imitates: dict = {"env_kwargs": {"width": frame_size[1], "height": frame_size[0]}}
    if fam.multi_view:
        imitates |= dict(
            env_id="cosmos_sim/Driving-GT-v0",
            action_layout=("steering", "acceleration"),
            views=("front", "front_left", "front_right", "rear", "rear_left", "rear_right"),
        )
    env = imitates | dict(env or {})
    action_dim = len(env.get("action_layout", WorldModelConfig.action_layout))
    hparams = SimpleNamespace(
        context_frames=context_frames,
        dim=32,
        depth=2,
        heads=2,
        mlp_ratio=3.0,
        context_mode="concat",
        patch=1,
        waypoints=2,
    )  # the trainer's Args fields a family reads
    dyn = fam.dynamics_config(hparams, tc, hw, action_dim, len(env.get("views", ())))
    cfg = WorldModelConfig(
        dynamics=dyn,
        head=RewardHeadConfig(
            latent_channels=fam.head_channels(dyn),
            latent_size=hw,
            channels=8,
            hidden=16,
            action_dim=action_dim,
        ),
        frame_size=frame_size,
        tokenizer_name=tc.name,
        sampler_steps=2,
        **env,
    )
    return WorldModel(cfg, tok).eval()


__all__ = [
    "CHECKPOINT_KIND",
    "RolloutState",
    "WorldModel",
    "WorldModelConfig",
    "cpu_has_fast_bf16",
    "file_sha",
    "find_tokenizer",
    "set_torch_threads",
    "shipped_tokenizer_by_sha",
    "tiny_world_model",
]
