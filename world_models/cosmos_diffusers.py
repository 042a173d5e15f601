"""The ``cosmos-diffusers`` family: NVIDIA's Cosmos-Predict2 Video2World transformer (through diffusers) as the
dynamics of a ``WorldModel``, conditioned on actions the way Cosmos-Predict2's action post-training does it.

The checkpoint stays where the user put it, in diffusers' layout (``transformer/`` holding a
``CosmosTransformer3DModel``, ``vae/`` an ``AutoencoderKLWan``, e.g. ``nvidia/Cosmos-Predict2-2B-Video2World``
downloaded by the user); it is only ever read with ``local_files_only``. A bundle is small::

    BUNDLE/config.json         kind "wfm"; dynamics {"type": "cosmos-diffusers", "checkpoint": DIR, ...}
    BUNDLE/model.safetensors   what post-training adds: the action MLPs, the LoRA A/B weights (when
                               ``lora_rank`` > 0), the prompt embedding and the reward head
    BUNDLE/transformer/        only after a full fine-tune: the whole transformer in diffusers' format

so ``gym.make("cosmos_sim/WFM-v0", checkpoint=BUNDLE)`` and ``gym.make_vec`` run it like any bundle.

One step (``CosmosActionDynamics``), per env row::

    K context latents (VAE, image mode, normalised)  +  the noisy next latent
      -> video (B, C, K+1, h, w); the context frames are clean and marked by the condition-mask channel,
         their timestep is ``sigma_conditional`` (Video2World's frame-replace conditioning)
      -> CosmosTransformer3DModel, text cross-attention on a stored prompt embedding (zeros by default),
         time embedding + action embedding:
             adaln_lora (B*T, 3D) += MLP_3D(action),  t_embedding (B*T, D) = RMSNorm(sinusoid + MLP_D(action))
         (NVIDIA's ``ActionConditionedMinimalV1LVGDiT``, added by a forward hook on ``time_embed``)
      -> the last frame's output F; denoised = (1 - t) x - t F with t = sigma / (1 + sigma): the
         rectified-flow preconditioning of ``Cosmos2VideoToWorldPipeline``
      sampler: Euler over Karras sigmas (80 -> 0.002 -> 0), ``sampler_steps`` transformer calls per frame.

The action MLPs' last layers start at zero (NVIDIA's start random), so a fresh bundle predicts exactly what
the base model predicts until post-training moves them (tested). Differences from NVIDIA's action model:
one action -> one frame (each frame its own image-mode latent, as every cosmos-sim world model), where
NVIDIA conditions a 12-action chunk -> 12 frames (3 latent frames of the 4x temporal VAE); no classifier-free
guidance in the env.

The VAE is the world model's tokenizer through ``VAETokenizer`` (world_models/diffusers_vae.py), and
``CosmosWorldModel`` is the ``WorldModel`` subclass that loads and saves this layout: ``WorldModel.from_pretrained``
hands such a bundle to it (``Family.bundle_class``), so nothing else in the package tells it apart.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.world_models.checkpoint import save_checkpoint
from cosmos_sim.world_models.configs import FieldsMapping
from cosmos_sim.world_models.diffusers_compat import WEIGHT_FILES, import_diffusers, load_local
from cosmos_sim.world_models.diffusers_vae import VAETokenizer, vae_latent_stats
from cosmos_sim.world_models.dit import per_row
from cosmos_sim.world_models.families import Family, register_family
from cosmos_sim.world_models.heads import RewardHeadConfig
from cosmos_sim.world_models.wfm import CHECKPOINT_KIND, WorldModel, WorldModelConfig, file_sha

FAMILY = "cosmos-diffusers"
#: The transformer's linear layers NVIDIA's Predict2 LoRA recipe adapts (q/k/v/output of self- and
#: cross-attention, both MLP layers), in diffusers' names.
LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2")


@dataclass(frozen=True)
class CosmosDiffusersConfig(FieldsMapping):
    """The dynamics of a ``cosmos-diffusers`` world model: a local diffusers Cosmos checkpoint plus actions."""

    checkpoint: str = ""
    """Diffusers checkpoint directory with transformer/ and vae/ (absolute, or relative to the bundle)."""
    transformer: str = ""
    """A fully fine-tuned transformer folder used instead of the checkpoint's transformer/ (relative to the
    bundle, or absolute); "": the checkpoint's own."""
    context_frames: int = 1
    """Past frames (K) the prediction is conditioned on (NVIDIA's action model uses 1)."""
    action_dim: int = 7
    """Action vector size."""
    action_hidden: int = 0
    """Hidden width of the action MLPs; 0: 4 x the transformer width (NVIDIA's)."""
    latent_channels: int = 16
    """Channels of one VAE latent frame."""
    latent_size: tuple[int, int] = (8, 8)
    """(h, w) of one latent frame (the VAE's input size / its spatial compression)."""
    resolution: tuple[int, int] | None = None
    """(H, W) frames are resized to for the VAE (the checkpoint's training resolution); None: the env's."""
    prompt_tokens: int = 512
    """Length of the stored prompt embedding (the T5 sequence length of the Predict2 pipelines)."""
    fps: float = 16.0
    """Frame rate given to the transformer's rotary time embedding."""
    sigma_conditional: float = 1e-4
    """Noise level the clean context frames are marked with (the pipelines' ``sigma_conditioning``)."""
    sigma_min: float = 0.002
    """Sampler: the last nonzero noise level."""
    sigma_max: float = 80.0
    """Sampler: the first noise level."""
    rho: float = 7.0
    """Sampler: Karras schedule exponent."""
    p_mean: float = 0.0
    """Training: mean of log sigma."""
    p_std: float = 1.0
    """Training: std of log sigma."""
    lora_rank: int = 0
    """Rank of the LoRA adapters on the transformer (0: none; its weights are then the checkpoint's or
    ``transformer``'s)."""
    lora_alpha: float = 0.0
    """LoRA scale numerator (the update is alpha / rank x B A); 0: alpha = rank."""
    lora_targets: tuple[str, ...] = LORA_TARGETS
    """Transformer linear layers (name suffixes) that get LoRA adapters."""
    dtype: str = "float32"
    """Dtype the transformer is loaded in: "float32", or "bfloat16" (half the memory, for CUDA inference)."""

    def __post_init__(self):
        object.__setattr__(self, "latent_size", tuple(int(v) for v in self.latent_size))
        object.__setattr__(self, "lora_targets", tuple(self.lora_targets))
        if self.resolution is not None:
            object.__setattr__(self, "resolution", tuple(int(v) for v in self.resolution))
        if self.context_frames < 1:
            raise ConfigError(f"context_frames must be >= 1, got {self.context_frames}")
        if self.action_dim < 1:
            raise ConfigError(f"action_dim must be >= 1, got {self.action_dim}")
        if self.lora_rank < 0:
            raise ConfigError(f"lora_rank must be >= 0 (0: no LoRA), got {self.lora_rank}")
        if self.dtype not in ("float32", "bfloat16"):
            raise ConfigError(f"dtype must be 'float32' or 'bfloat16', got {self.dtype!r}")

    @property
    def transformer_dir(self) -> Path:
        """Where the transformer's diffusers folder is."""
        return Path(self.transformer) if self.transformer else Path(self.checkpoint) / "transformer"


class ActionMLP(nn.Sequential):
    """NVIDIA's action embedder (Linear -> GELU(tanh) -> Linear), its last layer zero-initialised."""

    def __init__(self, action_dim: int, hidden: int, out: int):
        super().__init__(nn.Linear(action_dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, out))
        nn.init.zeros_(self[2].weight)
        nn.init.zeros_(self[2].bias)


def inject_lora(transformer: nn.Module, rank: int, alpha: float, targets: tuple[str, ...]) -> None:
    """Put fresh peft LoRA adapters (B = 0: the output is unchanged) on ``transformer``'s ``targets``."""
    from peft import LoraConfig, inject_adapter_in_model

    linear = [n for n, m in transformer.named_modules() if isinstance(m, nn.Linear)]
    unknown = [t for t in targets if not any(n == t or n.endswith("." + t) for n in linear)]
    if unknown:
        ends = sorted({n.rsplit(".", 1)[-1] for n in linear})
        raise ConfigError(
            f"LoRA targets {unknown} match no linear layer of the transformer; its layers end in {ends}"
        )
    config = LoraConfig(
        r=rank, lora_alpha=alpha or rank, target_modules=list(targets), lora_dropout=0.0, bias="none"
    )
    inject_adapter_in_model(config, transformer)


class CosmosActionDynamics(nn.Module):
    """``CosmosTransformer3DModel`` + action MLPs: the EDM denoiser of the next latent (module docstring)."""

    def __init__(self, config: CosmosDiffusersConfig):
        super().__init__()
        diffusers = import_diffusers()
        self.config = config
        dtype = torch.bfloat16 if config.dtype == "bfloat16" else torch.float32
        self.transformer = load_local(diffusers.CosmosTransformer3DModel, config.transformer_dir, dtype=dtype)
        tc = self.transformer.config
        c, (h, w) = config.latent_channels, config.latent_size
        if tc.out_channels != c or tc.in_channels not in (c, c + 1):
            raise CheckpointError(
                f"{config.transformer_dir} predicts {tc.out_channels} channels from {tc.in_channels}, but the VAE's "
                f"latents have {c}: the transformer and the VAE are not from one checkpoint"
            )
        if h % tc.patch_size[1] or w % tc.patch_size[2]:
            raise ConfigError(
                f"latents of {h}x{w} do not split into the transformer's {tc.patch_size[1]}x{tc.patch_size[2]} "
                "patches; pick a resolution whose latent size is a multiple of them"
            )
        #: Video2World checkpoints take a condition-mask channel beside the latents (in_channels = C + 1).
        self.takes_condition_mask = tc.in_channels == c + 1
        width = tc.num_attention_heads * tc.attention_head_dim
        hidden = config.action_hidden or 4 * width
        self.action_embedder_D = ActionMLP(config.action_dim, hidden, width)
        self.action_embedder_3D = ActionMLP(config.action_dim, hidden, 3 * width)
        text_dim = tc.crossattn_proj_in_channels if tc.use_crossattn_projection else tc.text_embed_dim
        self.register_buffer("prompt_embeds", torch.zeros(1, config.prompt_tokens, text_dim))
        if config.lora_rank:
            inject_lora(self.transformer, config.lora_rank, config.lora_alpha, config.lora_targets)
        self._action_emb: tuple[torch.Tensor, torch.Tensor] | None = None
        self.transformer.time_embed.register_forward_hook(self._add_action)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one predicted latent without the batch axis: ``(C, h, w)``."""
        return (self.config.latent_channels, *self.config.latent_size)

    def _add_action(self, module: nn.Module, args: tuple, output: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward hook of ``transformer.time_embed`` (``CosmosEmbedding``): add the action embedding to the
        AdaLN-LoRA embedding and to the sinusoid before its RMSNorm, as NVIDIA's action model does."""
        if self._action_emb is None:
            return output
        hidden, timestep = args[0], args[1]
        temb, _ = output
        emb_d, emb_3d = self._action_emb
        rows = temb.shape[0] // emb_d.shape[0]  # per-frame timesteps: B*T rows, frames of a row adjacent
        sinusoid = module.time_proj(timestep).type_as(hidden)
        emb_d, emb_3d = (e.repeat_interleave(rows, 0) for e in (emb_d, emb_3d))
        return temb + emb_3d.to(temb.dtype), module.norm(sinusoid + emb_d.to(sinusoid.dtype))

    def forward(
        self, x: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor, action: torch.Tensor | None
    ) -> torch.Tensor:
        """EDM denoiser: the clean-latent estimate ``(B, C, h, w)`` of ``x = latent + sigma * noise``.

        Args:
            x: ``(B, C, h, w)`` noisy next latent (normalised).
            sigma: ``(B,)`` noise levels.
            context: ``(B, K, C, h, w)`` past latents (normalised), oldest first.
            action: ``(B, action_dim)`` the action taken from the last context frame; None: no action
                embedding at all (the checkpoint's own model).
        """
        b, k = context.shape[:2]
        dtype = self.transformer.dtype
        t = per_row(sigma.float() / (sigma.float() + 1), x)  # rectified-flow time of sigma
        frames = torch.cat([context.float(), ((1 - t) * x.float()).unsqueeze(1)], 1).transpose(1, 2)
        marks = torch.zeros(1, 1, k + 1, 1, 1, device=x.device)
        marks[:, :, :k] = 1.0  # the clean context frames
        sc = self.config.sigma_conditional
        timestep = marks * (sc / (sc + 1)) + (1 - marks) * t.view(b, 1, 1, 1, 1)
        mask = marks.expand(b, 1, k + 1, *x.shape[-2:]).to(dtype) if self.takes_condition_mask else None
        if action is not None:
            self._action_emb = (
                self.action_embedder_D(action.float()),
                self.action_embedder_3D(action.float()),
            )
        try:
            out = self.transformer(
                hidden_states=frames.to(dtype),
                timestep=timestep.to(dtype),
                encoder_hidden_states=self.prompt_embeds.expand(b, -1, -1).to(dtype),
                fps=self.config.fps,
                condition_mask=mask,
                padding_mask=x.new_zeros(1, 1, *x.shape[-2:], dtype=dtype),  # batch 1: diffusers repeats it
                return_dict=False,
            )[0]
        finally:
            self._action_emb = None
        return (1 - t) * x.float() - t * out[:, :, -1].float()

    def loss(
        self,
        target: torch.Tensor,
        context: torch.Tensor,
        action: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """EDM training loss of the next latent (log-normal sigma, weight (sigma^2 + 1) / sigma^2)."""
        cfg = self.config
        b = target.shape[0]
        sigma = (cfg.p_mean + cfg.p_std * torch.randn(b, generator=generator, device=target.device)).exp()
        noise = torch.randn(target.shape, generator=generator, device=target.device)
        denoised = self(target + per_row(sigma, target) * noise, sigma, context, action)
        weight = (sigma**2 + 1) / sigma**2
        return (per_row(weight, target) * (denoised - target.float()) ** 2).mean()

    def sigmas(self, steps: int, device: torch.device | None = None) -> torch.Tensor:
        """Karras noise levels for ``steps`` calls, sigma_max down to sigma_min, then 0."""
        cfg = self.config
        if steps < 1:
            raise ConfigError(f"sampler steps must be >= 1, got {steps}")
        ramp = torch.linspace(0, 1, steps) if steps > 1 else torch.zeros(1)
        lo, hi = cfg.sigma_min ** (1 / cfg.rho), cfg.sigma_max ** (1 / cfg.rho)
        return torch.cat([(hi + ramp * (lo - hi)) ** cfg.rho, torch.zeros(1)]).to(device)

    @torch.no_grad()
    def sample(
        self, context: torch.Tensor, action: torch.Tensor, steps: int = 35, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Next latent ``(B, C, h, w)`` from ``steps`` Euler steps; ``noise`` (standard normal) makes it reproducible."""
        b = context.shape[0]
        if noise is None:
            noise = torch.randn((b, *self.latent_shape), device=context.device)
        sig = self.sigmas(steps, context.device)
        x = noise.to(context.device).float() * sig[0]
        for i in range(steps):
            d = (x - self(x, sig[i].expand(b), context, action)) / sig[i]
            x = x + (sig[i + 1] - sig[i]) * d
        return x


class CosmosWorldModel(WorldModel):
    """A ``cosmos-diffusers`` world model: the checkpoint's VAE as tokenizer, a bundle of what post-training adds."""

    @classmethod
    def from_config(cls, config: WorldModelConfig, directory: Path) -> CosmosWorldModel:
        """The networks of the bundle at ``directory``: paths resolved against it, the VAE checked against the
        SHA the bundle was made with."""
        config = resolve_paths(config, directory)
        dyn = config.dynamics
        vae_dir = Path(dyn.checkpoint) / "vae"
        sha = vae_sha(dyn.checkpoint)
        if config.tokenizer_sha and sha != config.tokenizer_sha:
            raise CheckpointError(
                f"{vae_dir} is not the VAE {directory} was made with (weights SHA {sha}, expected "
                f"{config.tokenizer_sha}); point the bundle's dynamics.checkpoint at the right checkpoint"
            )
        tok = VAETokenizer.from_pretrained(dyn.checkpoint, config.frame_size, dyn.resolution)
        model = cls(config, tok)
        model.tokenizer_source = vae_dir
        return model

    def checkpoint_state(self) -> dict[str, torch.Tensor]:
        """The action MLPs, LoRA weights, prompt embedding and head: not the VAE, not the base transformer."""
        return {
            k: v
            for k, v in super().checkpoint_state().items()
            if not k.startswith("dynamics.transformer.") or "lora_" in k
        }

    def save_pretrained(
        self,
        directory: str | os.PathLike,
        dtype: torch.dtype | None = torch.bfloat16,
        extra: dict | None = None,
        *,
        transformer: bool = False,
        tokenizer_dir: str | os.PathLike | None = None,
        tokenizer_ref: str | None = None,
    ) -> Path:
        """Write the bundle (module docstring); ``transformer``: also the whole transformer (after a full
        fine-tune) into ``directory/transformer/``, which the bundle then uses."""
        if tokenizer_dir is not None or tokenizer_ref is not None:
            raise ConfigError(
                "a cosmos-diffusers bundle carries no tokenizer: its VAE stays in the diffusers checkpoint"
            )
        out = Path(directory)
        dyn = self.config.dynamics
        if transformer:
            if dyn.lora_rank:
                raise ConfigError(
                    "this model has LoRA adapters: save it without transformer=True (the adapters are in "
                    "model.safetensors), or train without --lora-rank to fine-tune the transformer in full"
                )
            self.dynamics.transformer.save_pretrained(out / "transformer", safe_serialization=True)
            dyn = dataclasses.replace(dyn, transformer="transformer")
        config = dataclasses.replace(self.config, dynamics=dyn).to_json() | {"tokenizer_dir": ""}
        save_checkpoint(out, CHECKPOINT_KIND, config, self.checkpoint_state(), dtype=dtype, extra=extra)
        return out


def resolve_paths(config: WorldModelConfig, directory: str | os.PathLike) -> WorldModelConfig:
    """``config`` with its checkpoint and transformer paths absolute: relative ones are taken relative to the
    bundle ``directory`` (where they exist there), else to the working directory."""
    dyn = config.dynamics

    def absolute(p: str) -> str:
        if not p or os.path.isabs(p):
            return p
        beside = Path(directory) / p
        return str((beside if beside.exists() else Path(p)).resolve())

    dyn = dataclasses.replace(dyn, checkpoint=absolute(dyn.checkpoint), transformer=absolute(dyn.transformer))
    return dataclasses.replace(config, dynamics=dyn)


def vae_sha(checkpoint: str | os.PathLike) -> str:
    """SHA-256 (16 hex digits) of the checkpoint's VAE weights (its index for sharded weights)."""
    vae_dir = Path(checkpoint) / "vae"
    for name in WEIGHT_FILES:
        if (vae_dir / name).is_file():
            return file_sha(vae_dir / name)
    raise CheckpointError(
        f"{vae_dir} holds no VAE weights (expected {WEIGHT_FILES[0]}); pass a diffusers checkpoint directory "
        "with transformer/ and vae/ folders"
    )


class CosmosDiffusers(Family):
    """Adapter of the ``cosmos-diffusers`` family (``world_models/families.py``)."""

    name, config_class, network = FAMILY, CosmosDiffusersConfig, CosmosActionDynamics

    def dynamics_config(self, args, tokenizer, latent_size, action_dim, views):
        raise ConfigError(
            f"train-wfm builds cosmos-sim's own networks; a {FAMILY} model starts from a diffusers checkpoint: "
            "cosmos_sim.world_models.cosmos_diffusers.new_world_model(CHECKPOINT, ...) or "
            "`python -m cosmos_sim.cli.cosmos post-train --checkpoint CHECKPOINT --data STORE`"
        )

    def check(self, config: WorldModelConfig) -> None:
        if config.views:
            raise ConfigError(f"a {FAMILY} world model is single-view, got views {config.views}")

    def bundle_class(self) -> type:
        return CosmosWorldModel

    def predict(self, wm, state, action, noise, generator, waypoints):
        action = self.condition(wm, action, waypoints)
        return wm.dynamics.sample(state.window, action, steps=wm.config.sampler_steps, noise=noise).float()

    def noise(self, wm, generators):
        return torch.stack([torch.randn(*wm.dynamics.latent_shape, generator=g) for g in generators])

    def loss(self, wm, dynamics, batch, args):
        mean, std = wm.latent_mean, wm.latent_std
        ctx = (batch["context"].float() - mean.unsqueeze(1)) / std.unsqueeze(1)
        level = float(getattr(args, "context_noise", 0.0))
        if level > 0:  # robust open loop: the context is the model's own output at inference
            ctx = ctx + torch.rand(ctx.shape[0], 1, 1, 1, 1, device=ctx.device) * level * torch.randn_like(
                ctx
            )
        target = (batch["target"].float() - mean) / std
        return dynamics.loss(target, ctx, batch["action"].float()), self.head_input(wm, target)


register_family(CosmosDiffusers())


def new_world_model(
    checkpoint: str | os.PathLike,
    *,
    action_layout: tuple[str, ...] | list[str],
    frame_size: tuple[int, int],
    env_id: str = "cosmos_sim/Manipulation-GT-v0",
    env_kwargs: dict | None = None,
    max_episode_steps: int | None = None,
    context_frames: int = 1,
    resolution: tuple[int, int] | None = None,
    sampler_steps: int = 35,
    prompt_embeds: torch.Tensor | np.ndarray | None = None,
    prompt_tokens: int | None = None,
    lora_rank: int = 0,
    lora_alpha: float = 0.0,
    lora_targets: tuple[str, ...] = LORA_TARGETS,
    action_hidden: int = 0,
    dtype: str = "float32",
    seed: int = 0,
) -> CosmosWorldModel:
    """A fresh world model over a local diffusers Cosmos checkpoint (``transformer/`` + ``vae/``): action MLPs at
    zero (the base model's predictions, unchanged), a new reward head, for the env ``env_id`` whose frames
    are ``frame_size`` (H, W) and whose actions are ``action_layout``; ``wm.save_pretrained(DIR)`` makes it a
    bundle. ``prompt_embeds``: ``(L, D)`` text embedding every step is conditioned on (default zeros; make one
    with the checkpoint's text encoder, e.g. ``Cosmos2VideoToWorldPipeline.encode_prompt``)."""
    torch.manual_seed(seed)
    checkpoint = Path(checkpoint).resolve()
    tok = VAETokenizer.from_pretrained(checkpoint, tuple(frame_size), resolution)
    mean, std = vae_latent_stats(tok.vae)
    tokens = prompt_tokens or (512 if prompt_embeds is None else int(np.asarray(prompt_embeds).shape[-2]))
    dyn = CosmosDiffusersConfig(
        checkpoint=str(checkpoint),
        context_frames=context_frames,
        action_dim=len(action_layout),
        action_hidden=action_hidden,
        latent_channels=tok.config.latent_channels,
        latent_size=tok.config.latent_size,
        resolution=resolution,
        prompt_tokens=tokens,
        lora_rank=lora_rank,
        lora_alpha=lora_alpha,
        lora_targets=tuple(lora_targets),
        dtype=dtype,
    )
    cfg = WorldModelConfig(
        dynamics=dyn,
        head=RewardHeadConfig(
            latent_channels=dyn.latent_channels, latent_size=dyn.latent_size, action_dim=len(action_layout)
        ),
        env_id=env_id,
        env_kwargs=dict(env_kwargs or {}),
        action_layout=tuple(action_layout),
        frame_size=tuple(frame_size),
        tokenizer_name=tok.config.name,
        tokenizer_sha=vae_sha(checkpoint),
        latent_mean=mean,
        latent_std=std,
        sampler_steps=sampler_steps,
        max_episode_steps=max_episode_steps,
    )
    wm = CosmosWorldModel(cfg, tok)
    wm.tokenizer_source = checkpoint / "vae"
    if prompt_embeds is not None:
        set_prompt_embeds(wm, prompt_embeds)
    return wm.eval()


def set_prompt_embeds(wm: WorldModel, embeds: torch.Tensor | np.ndarray) -> None:
    """Condition every step of ``wm`` on this text embedding ``([1,] L, D)``: cut or zero-padded to the
    model's ``prompt_tokens`` (the T5 pipelines zero the positions after the prompt, too)."""
    e = torch.as_tensor(np.asarray(embeds) if isinstance(embeds, np.ndarray) else embeds).float()
    e = e[0] if e.ndim == 3 and e.shape[0] == 1 else e
    buf: torch.Tensor = wm.dynamics.prompt_embeds
    if e.ndim != 2 or e.shape[1] != buf.shape[2]:
        raise ConfigError(
            f"prompt embedding must be (L, {buf.shape[2]}) for this transformer's text cross-attention, got "
            f"{tuple(e.shape)}; encode the prompt with the checkpoint's own text encoder"
        )
    n = min(len(e), buf.shape[1])
    with torch.no_grad():
        buf.zero_()
        buf[0, :n] = e[:n].to(buf.device)


def load_prompt_embeds(path: str | os.PathLike) -> torch.Tensor:
    """A prompt embedding from a file: ``.safetensors`` (key ``prompt_embeds``), ``.pt`` or ``.npy``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"prompt embedding file {p} does not exist")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        data = load_file(str(p))
        if "prompt_embeds" not in data:
            raise ConfigError(f"{p} has no 'prompt_embeds' tensor (it has {sorted(data)})")
        return data["prompt_embeds"]
    if p.suffix == ".npy":
        return torch.from_numpy(np.load(p))
    if p.suffix == ".pt":
        return torch.as_tensor(torch.load(p, weights_only=True))
    raise ConfigError(f"prompt embedding file {p}: use .safetensors (key prompt_embeds), .pt or .npy")


def trainable(wm: WorldModel, full: bool) -> list[nn.Parameter]:
    """Make what post-training trains trainable and return it: the action MLPs, the head, and the LoRA weights
    (``full=False``) or the whole transformer (``full=True``); the VAE and the prompt embedding stay frozen."""
    wm.requires_grad_(False)
    dyn: CosmosActionDynamics = wm.dynamics
    for module in (dyn.action_embedder_D, dyn.action_embedder_3D, wm.head):
        module.requires_grad_(True)
    for name, p in dyn.transformer.named_parameters():
        p.requires_grad_(full or "lora_" in name)
    return [p for p in wm.parameters() if p.requires_grad]


def describe(wm: WorldModel) -> dict[str, Any]:
    """Parameter counts: the transformer's, what the bundle stores, what trains."""
    dyn = wm.dynamics
    count = lambda ps: sum(p.numel() for p in ps)  # noqa: E731
    return {
        "transformer_params": count(p for n, p in dyn.transformer.named_parameters() if "lora_" not in n),
        "lora_params": count(p for n, p in dyn.transformer.named_parameters() if "lora_" in n),
        "action_params": count([*dyn.action_embedder_D.parameters(), *dyn.action_embedder_3D.parameters()]),
        "head_params": count(wm.head.parameters()),
        "trainable_params": count(p for p in wm.parameters() if p.requires_grad),
    }


__all__ = [
    "FAMILY",
    "LORA_TARGETS",
    "ActionMLP",
    "CosmosActionDynamics",
    "CosmosDiffusers",
    "CosmosDiffusersConfig",
    "CosmosWorldModel",
    "describe",
    "inject_lora",
    "load_prompt_embeds",
    "new_world_model",
    "resolve_paths",
    "set_prompt_embeds",
    "trainable",
    "vae_sha",
]
