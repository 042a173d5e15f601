"""World-model families: one adapter class per dynamics network, in one registry (``FAMILIES``).

A family says everything ``WorldModel`` (world_models/wfm.py), the trainer (cosmos_sim/train/wfm.py) and
the envs need to know about its dynamics network, so none of them tells families apart by name:

    config_class     the typed dynamics config (a frozen dataclass with ``context_frames`` and
                     ``action_dim``), the family's own: ``config.json`` tags it with the family's name
    network          built from that config
    tokenizer_kind   "CV": normalised float latents (B, [V,] C, h, w); "DV": token ids (B, h, w)
    multi_view       frames and latents carry a view axis after time: (B, T, V, ...)
    dynamics_config  the config the trainer builds from its ``Args`` (dim, depth, heads, ...)
    head_channels    what the reward head reads, ``head_input`` how it reads a latent
    start / restart / predict / noise    one rollout step (and the family's own rollout memory)
    loss             the training loss of one batch
    bundle_class     the WorldModel subclass of a family whose bundles are laid out otherwise (None: WorldModel)

Adding a family = one ``Family`` subclass + one line in ``FAMILIES`` (or ``register_family``); a family
with heavy optional dependencies lives in its own module, named in ``LAZY_FAMILIES`` and imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.dit import DiT, DiTConfig, per_row
from cosmos_sim.world_models.gpt import GPT, GPTConfig
from cosmos_sim.world_models.multiview import MultiViewDiT, MultiViewDiTConfig

if TYPE_CHECKING:
    from cosmos_sim.world_models.tokenizer import TokenizerConfig
    from cosmos_sim.world_models.wfm import RolloutState, WorldModel, WorldModelConfig


class Family:
    """A dynamics family; the defaults are those of a single-view CV family with no rollout memory."""

    name: ClassVar[str]
    config_class: ClassVar[type]
    network: ClassVar[type[nn.Module]]
    tokenizer_kind: ClassVar[str] = "CV"
    multi_view: ClassVar[bool] = False
    cell_weights: ClassVar[bool] = False
    """The loss takes per-cell weights (``train-wfm --object-weight``)."""
    unrolls: ClassVar[bool] = False
    """The loss can train on the model's own predictions as context (``train-wfm --unroll``)."""
    extrapolates: ClassVar[bool] = False
    """The window holds float latents whose change ``WorldModelConfig.change_gain`` may scale."""

    @property
    def continuous(self) -> bool:
        """Float latents, normalised per channel (CV), rather than token ids (DV)."""
        return self.tokenizer_kind == "CV"

    # ---- configs -----------------------------------------------------------------------------------
    def dynamics_config(
        self, args: Any, tokenizer: TokenizerConfig, latent_size: tuple[int, int], action_dim: int, views: int
    ) -> Any:
        """The dynamics config from the trainer's ``Args`` (``args`` needs only the fields it reads)."""
        raise NotImplementedError

    def head_channels(self, dynamics: Any) -> int:
        """Input channels of the reward head (what ``head_input`` gives it)."""
        return dynamics.latent_channels

    def check(self, config: WorldModelConfig) -> None:
        """Refuse a world-model config this family cannot run (ConfigError)."""

    def bundle_class(self) -> type | None:
        """The ``WorldModel`` subclass that loads and saves this family's bundles when they are laid out
        otherwise (a diffusers checkpoint beside the bundle: ``cosmos_diffusers.CosmosWorldModel``); None:
        ``WorldModel`` itself."""
        return None

    # ---- rollout -----------------------------------------------------------------------------------
    def head_input(self, wm: WorldModel, latent: torch.Tensor) -> torch.Tensor:
        """What the reward head reads from one latent per row."""
        return latent

    def start(self, wm: WorldModel, context: torch.Tensor, position: int) -> Any:
        """The family's rollout memory for fresh rows (e.g. a KV cache); None when it keeps none."""
        return None

    def restart(self, wm: WorldModel, state: RolloutState, rows: torch.Tensor, context: torch.Tensor) -> Any:
        """``state``'s rollout memory with the rows ``rows`` (bool (B,)) restarted from ``context``."""
        return None

    def condition(self, wm: WorldModel, action: torch.Tensor, waypoints: Any) -> torch.Tensor:
        """What the network is conditioned on; only families that take waypoints accept them."""
        if waypoints is not None:
            raise ConfigError(f"waypoints condition multiview models only, not a {self.name} model")
        return action

    def predict(
        self,
        wm: WorldModel,
        state: RolloutState,
        action: torch.Tensor,
        noise: torch.Tensor | None,
        generator: torch.Generator | None,
        waypoints: Any,
    ) -> torch.Tensor:
        """The next latent of every row (runs under ``wm.amp()``); may update ``state.cache`` in place."""
        raise NotImplementedError

    def noise(self, wm: WorldModel, generators: list[torch.Generator]) -> torch.Tensor | None:
        """Per-row sampler noise for ``predict`` (None: the family draws none)."""
        return None

    # ---- training ----------------------------------------------------------------------------------
    def loss(
        self, wm: WorldModel, dynamics: nn.Module, batch: dict[str, torch.Tensor], args: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The dynamics loss of a batch of ``cosmos_sim.train.latents.sample_batch`` and the reward head's input
        for its targets; ``dynamics`` is ``wm.dynamics`` (the module the optimizer and DDP see)."""
        raise NotImplementedError


def _common(args: Any, latent_size: tuple[int, int], action_dim: int) -> dict[str, Any]:
    """The transformer fields every family's config takes from the trainer's Args."""
    return dict(
        latent_size=latent_size,
        context_frames=args.context_frames,
        action_dim=action_dim,
        dim=args.dim,
        depth=args.depth,
        heads=args.heads,
        mlp_ratio=args.mlp_ratio,
    )


def _edm(args: Any) -> dict[str, Any]:
    """What a diffusion family diffuses: the next latent or its change (``--residual``), and its scale."""
    return dict(
        residual=getattr(args, "residual", False),
        sigma_data=getattr(args, "sigma_data", 1.0),
        context_aug=getattr(args, "context_aug", 0.0),
    )


class Diffusion(Family):
    """EDM DiT (dit.py) over the next normalised CV latent."""

    name, config_class, network, cell_weights, unrolls = "diffusion", DiTConfig, DiT, True, True
    extrapolates = True

    def dynamics_config(self, args, tokenizer, latent_size, action_dim, views):
        return DiTConfig(
            **_common(args, latent_size, action_dim),
            latent_channels=tokenizer.latent_channels,
            context_mode=args.context_mode,
            patch=(args.patch, args.patch),
            **_edm(args),
        )

    def predict(self, wm, state, action, noise, generator, waypoints):
        cfg = wm.config
        cond = self.condition(wm, action, waypoints)
        nxt = wm.dynamics.sample(
            state.window,
            cond,
            steps=cfg.sampler_steps,
            sampler=cfg.sampler,
            noise=noise,
            context_sigma=cfg.context_sigma,
        )
        return nxt.float()

    def noise(self, wm, generators):
        return torch.stack([torch.randn(*wm.dynamics.latent_shape, generator=g) for g in generators])

    def train_condition(self, dynamics: nn.Module, batch: dict[str, torch.Tensor], args: Any) -> torch.Tensor:
        return batch["action"]

    @torch.no_grad()
    def unrolled_context(self, wm, dynamics, batch) -> torch.Tensor:
        """The last K frames of ``batch["history"]`` (normalised) after the model predicted its last m frames
        itself, one after another from the first K (sample_batch's ``unroll_history``; GT where the
        transition is not real)."""
        mean, std = wm.latent_mean.unsqueeze(1), wm.latent_std.unsqueeze(1)
        frames = list(((batch["history"].float() - mean) / std).unbind(1))
        k, m = wm.config.dynamics.context_frames, batch["history_actions"].shape[1]
        for j in range(m):
            pred = dynamics.sample(
                torch.stack(frames[j : j + k], 1),
                batch["history_actions"][:, j],
                steps=wm.config.sampler_steps,
            )
            real = per_row(batch["history_real"][:, j], pred)
            frames[j + k] = torch.where(real, pred, frames[j + k])
        return torch.stack(frames[m:], 1)

    def loss(self, wm, dynamics, batch, args):
        mean, std = wm.latent_mean, wm.latent_std
        if "history" in batch:  # --unroll: the model's own predictions as the latest context frames
            ctx = self.unrolled_context(wm, dynamics, batch)
        else:
            ctx = (batch["context"].float() - mean.unsqueeze(1)) / std.unsqueeze(1)
        aug = getattr(wm.config.dynamics, "context_aug", 0.0)  # noise whose level the network is told
        level = None
        if (
            aug or args.context_noise > 0
        ):  # robust open loop: the context is the model's own output at inference
            level = torch.rand(ctx.shape[0], device=ctx.device) * (aug or args.context_noise)
            ctx = ctx + per_row(level, ctx) * torch.randn_like(ctx)
        target = (batch["target"].float() - mean) / std
        cond = self.train_condition(dynamics, batch, args)
        extra = {"context_sigma": level} if aug else {}
        dyn = dynamics.loss(target, ctx, cond, cell_weight=batch.get("cell_weight"), **extra)
        return dyn, self.head_input(wm, target)


class MultiView(Diffusion):
    """One DiT over all cameras (multiview.py), conditioned on the action and optional future ego waypoints."""

    name, config_class, network, multi_view = "multiview", MultiViewDiTConfig, MultiViewDiT, True
    unrolls = False  # the unrolled frames would need their own waypoints

    def dynamics_config(self, args, tokenizer, latent_size, action_dim, views):
        return MultiViewDiTConfig(
            **_common(args, latent_size, action_dim),
            latent_channels=tokenizer.latent_channels,
            patch=(args.patch, args.patch),
            views=views,
            waypoints=args.waypoints,
            **_edm(args),
        )

    def head_channels(self, dynamics):
        return dynamics.latent_channels * dynamics.views  # the views stacked on the channels

    def check(self, config):
        if len(config.views) != config.dynamics.views:
            raise ConfigError(
                f"multiview: {len(config.views)} view names {config.views} for {config.dynamics.views} views"
            )

    def head_input(self, wm, latent):
        return latent.flatten(1, 2)

    def condition(self, wm, action, waypoints):
        return wm.dynamics.condition(action, waypoints)

    def train_condition(self, dynamics, batch, args):
        cond = batch["action"]
        wp = batch.get("waypoints") if dynamics.config.waypoints else None
        drop = None if wp is None else torch.rand(len(cond), device=cond.device) < args.waypoint_dropout
        return dynamics.condition(cond, wp, drop)


class Autoregressive(Family):
    """GPT (gpt.py) over DV token ids, with a rolling KV cache as its rollout memory."""

    name, config_class, network, tokenizer_kind = "ar", GPTConfig, GPT, "DV"

    def dynamics_config(self, args, tokenizer, latent_size, action_dim, views):
        return GPTConfig(**_common(args, latent_size, action_dim), fsq_levels=tuple(tokenizer.fsq_levels))

    def head_channels(self, dynamics):
        return len(dynamics.fsq_levels)

    def head_input(self, wm, latent):
        return wm.tokenizer.fsq.indices_to_codes(latent)

    def start(self, wm, context, position):
        # the actions between context frames are taken as zero, as training pads episode starts
        zeros = torch.zeros(
            context.shape[0], wm.context_frames - 1, wm.dynamics.config.action_dim, device=wm.device
        )
        return wm.dynamics.start(context, zeros, position=position)

    def restart(self, wm, state, rows, context):
        fresh = self.start(wm, context, position=state.cache.position - wm.dynamics.cache_length())
        return wm.dynamics.select(state.cache, rows, fresh)

    def predict(self, wm, state, action, noise, generator, waypoints):
        action = self.condition(wm, action, waypoints)
        return wm.dynamics.step(state.cache, action, temperature=wm.config.temperature, generator=generator)

    def loss(self, wm, dynamics, batch, args):
        frames = torch.cat([batch["context"], batch["target"].unsqueeze(1)], dim=1).long()
        actions = torch.cat([batch["context_actions"], batch["action"].unsqueeze(1)], dim=1)
        return dynamics.loss(frames, actions), self.head_input(wm, batch["target"].long())


#: Every family by name (the ``--family`` of train-wfm): adding one is a line here.
FAMILIES: dict[str, Family] = {f.name: f for f in (Diffusion(), Autoregressive(), MultiView())}
#: Families in modules of their own with heavy optional dependencies (diffusers), imported on first use:
#: the module calls ``register_family``. Adding one is a line here.
LAZY_FAMILIES: dict[str, str] = {
    "cosmos-diffusers": "cosmos_sim.world_models.cosmos_diffusers",
    "text-diffusion": "cosmos_sim.world_models.text_dit",
}


def register_family(family: Family) -> Family:
    """Add a family (e.g. from a plugin or a test); its config class must be its own, as it tags the JSON."""
    taken = {f.config_class: n for n, f in FAMILIES.items() if n != family.name}
    if family.config_class in taken:
        raise ConfigError(
            f"{family.config_class.__name__} is already the config of the "
            f"{taken[family.config_class]!r} family; give the new family a config class of its own"
        )
    FAMILIES[family.name] = family
    return family


def family_of(dynamics: Any) -> str:
    """The name of the family whose config ``dynamics`` is (its exact class: the tag in ``config.json``)."""
    for name, family in FAMILIES.items():
        if type(dynamics) is family.config_class:
            return name
    known = ", ".join(f"{f.config_class.__name__} ({n})" for n, f in FAMILIES.items())
    raise ConfigError(
        f"dynamics must be the config of a registered family: {known}; got {type(dynamics).__name__}"
    )


def get_family(name: str) -> Family:
    """The family called ``name`` (a ConfigError listing the registered ones otherwise)."""
    if name not in FAMILIES and name in LAZY_FAMILIES:
        import importlib

        importlib.import_module(LAZY_FAMILIES[name])  # registers it
    if name not in FAMILIES:
        known = ", ".join(dict.fromkeys([*FAMILIES, *LAZY_FAMILIES]))
        raise ConfigError(f"unknown world-model family {name!r}; registered: {known}")
    return FAMILIES[name]


def family_choices(names: list[str] | None = None) -> str:
    """``'diffusion', 'ar' or 'multiview'``: the family names for messages."""
    quoted = [repr(n) for n in (FAMILIES if names is None else names)]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


__all__ = [
    "FAMILIES",
    "LAZY_FAMILIES",
    "Autoregressive",
    "Diffusion",
    "Family",
    "MultiView",
    "family_choices",
    "family_of",
    "get_family",
    "register_family",
]
