"""LoRA post-training of a world model's dynamics network through ``peft``, the way Cosmos post-trains.

A LoRA adapter adds a low-rank update ``W + (alpha / r) B A`` beside chosen linear layers of the dynamics
(by default the attention's qkv and output projections and both MLP layers: Cosmos's targets) while the
base weights stay frozen, and so does the reward head unless asked to train in full (``train_head``: a new
robot's rewards; it is ~13 % of a nano model's weights, so it is off by default). On disk an adapter is peft's own format plus what ties it to its base::

    ADAPTER/adapter_config.json        peft LoraConfig (PeftModel.from_pretrained can read it)
    ADAPTER/adapter_model.safetensors  the LoRA A/B weights of the dynamics (peft's key names)
    ADAPTER/head.safetensors           the reward head's weights, when it was trained
    ADAPTER/cosmos_adapter.json        base bundle's SHA-256 (and path when made), the LoraSpec and the env
                                       the adapter models (id, kwargs, episode length: a new robot's scene)

``WorldModel.from_pretrained(BASE, adapter=ADAPTER)`` (and ``gym.make(id, checkpoint=BASE,
adapter=ADAPTER)``) loads one on top of its base, refusing another base; ``merge_adapter`` folds it into
the weights, for a standalone bundle.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file, save_file

from cosmos_sim.errors import CheckpointError, ConfigError

if TYPE_CHECKING:
    from cosmos_sim.world_models.wfm import WorldModel

ADAPTER_META = "cosmos_adapter.json"
ADAPTED_ENV_FIELDS = ("env_id", "env_kwargs", "max_episode_steps")
"""WorldModelConfig fields an adapter replaces in its base's: the scene it was trained on."""
HEAD_WEIGHTS = "head.safetensors"


@dataclass(frozen=True)
class LoraSpec:
    """Where the LoRA adapters go and how big they are."""

    rank: int = 8
    """Rank r of each update (Cosmos uses 16 on a 2B model; 8 keeps a nano DiT's adapters under 5 %)."""
    alpha: float = 0.0
    """Scale numerator: the update is (alpha / r) B A; 0 means alpha = rank (scale 1), Cosmos's choice."""
    targets: tuple[str, ...] = ("qkv", "proj", "mlp.0", "mlp.2")
    """Names (suffixes) of the dynamics' linear layers that get an adapter: attention qkv and output,
    both MLP layers; "ada" (AdaLN), "action_emb.0"/"action_emb.2" or "patch_in" are further choices."""
    train_head: bool = False
    """Also train the reward head in full (a new robot's rewards; ~13 % of a nano model's weights)."""

    def __post_init__(self):
        object.__setattr__(self, "targets", tuple(self.targets))
        if self.rank < 1:
            raise ConfigError(f"LoRA rank must be >= 1, got {self.rank}")
        if self.alpha < 0:
            raise ConfigError(f"LoRA alpha must be >= 0 (0: alpha = rank), got {self.alpha}")
        if not self.targets:
            raise ConfigError("LoRA targets are empty: name at least one linear layer, e.g. qkv")

    def peft_config(self):
        """The matching ``peft.LoraConfig``."""
        from peft import LoraConfig

        return LoraConfig(
            r=self.rank,
            lora_alpha=self.alpha or self.rank,
            target_modules=list(self.targets),
            lora_dropout=0.0,
            bias="none",
        )


def add_lora(wm: WorldModel, spec: LoraSpec) -> WorldModel:
    """Inject fresh adapters into ``wm.dynamics`` in place (B = 0: the model's outputs are unchanged) and
    leave only them (and the reward head if ``spec.train_head``) trainable. Returns ``wm``."""
    from peft import inject_adapter_in_model

    linear = [n for n, m in wm.dynamics.named_modules() if isinstance(m, torch.nn.Linear)]
    unknown = [t for t in spec.targets if not any(f == t or f.endswith("." + t) for f in linear)]
    if unknown:
        raise ConfigError(
            f"LoRA targets {unknown} match no linear layer of the {wm.config.family} dynamics; "
            f"its linear layers end in {sorted({n.rsplit('.', 1)[-1] for n in linear})}"
        )
    wm.requires_grad_(False)
    inject_adapter_in_model(spec.peft_config(), wm.dynamics)
    for name, p in wm.dynamics.named_parameters():
        p.requires_grad_("lora_" in name)
    wm.head.requires_grad_(spec.train_head)
    wm.lora_spec = spec
    return wm


def trainable_parameters(wm: WorldModel) -> tuple[int, int]:
    """(trainable, total) parameters of the dynamics and the head (LoRA weights counted in both)."""
    params = [*wm.dynamics.parameters(), *wm.head.parameters()]
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def base_sha(base_dir: str | os.PathLike) -> str:
    """SHA-256 of a base bundle's weights: what an adapter is tied to."""
    from cosmos_sim.world_models.wfm import file_sha

    return file_sha(Path(base_dir) / "model.safetensors")


def save_adapter(
    wm: WorldModel, directory: str | os.PathLike, base_dir: str | os.PathLike, extra: dict | None = None
) -> Path:
    """Write ``wm``'s adapters (fp32, as Cosmos keeps LoRA weights) in peft's format beside a reference
    to the base bundle ``base_dir`` (SHA-256 of its weights)."""
    from peft import get_peft_model_state_dict

    spec = getattr(wm, "lora_spec", None)
    if spec is None:
        raise ConfigError("this world model has no LoRA adapters (add_lora or from_pretrained(adapter=...))")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    spec.peft_config().save_pretrained(str(out))
    state = {
        k: v.detach().float().cpu().contiguous() for k, v in get_peft_model_state_dict(wm.dynamics).items()
    }
    save_file(state, str(out / "adapter_model.safetensors"))
    if spec.train_head:
        save_file(
            {k: v.detach().float().cpu().contiguous() for k, v in wm.head.state_dict().items()},
            str(out / HEAD_WEIGHTS),
        )
    env = {k: getattr(wm.config, k) for k in ADAPTED_ENV_FIELDS}
    meta = {
        "base_sha": base_sha(base_dir),
        "base": str(base_dir),
        "spec": asdict(spec),
        "env": json.loads(json.dumps(env)),
        "extra": extra or {},
    }
    (out / ADAPTER_META).write_text(json.dumps(meta, indent=2))
    return out


def read_adapter_meta(directory: str | os.PathLike) -> dict:
    """The ``cosmos_adapter.json`` of an adapter directory (CheckpointError when it is not one)."""
    path = Path(directory) / ADAPTER_META
    if not path.is_file() or not (Path(directory) / "adapter_model.safetensors").is_file():
        raise CheckpointError(
            f"{directory} is not a cosmos-sim LoRA adapter (no {ADAPTER_META} + adapter_model.safetensors); "
            "make one with `cosmos-sim train-wfm --lora-rank R --init-from BASE`"
        )
    return json.loads(path.read_text())


def load_adapter(wm: WorldModel, directory: str | os.PathLike, base_dir: str | os.PathLike) -> WorldModel:
    """Put the adapter in ``directory`` on ``wm`` (loaded from ``base_dir``), in place; a CheckpointError
    when the adapter was trained on another base."""
    from peft import set_peft_model_state_dict

    meta = read_adapter_meta(directory)
    sha = base_sha(base_dir)
    if meta["base_sha"] != sha:
        raise CheckpointError(
            f"adapter {directory} was trained on the base bundle {meta.get('base')!r} (weights SHA "
            f"{meta['base_sha'][:12]}...), not on {base_dir} (SHA {sha[:12]}...); load it on its own base"
        )
    spec = LoraSpec(**meta["spec"])
    wm.config = dataclasses.replace(wm.config, **meta.get("env", {}))
    device = next(wm.dynamics.parameters()).device
    add_lora(wm, spec)
    state = load_file(str(Path(directory) / "adapter_model.safetensors"))
    result = set_peft_model_state_dict(wm.dynamics, state)
    missing = [k for k in getattr(result, "missing_keys", []) if "lora_" in k]
    if missing or getattr(result, "unexpected_keys", []):
        raise CheckpointError(f"{directory} does not fit {base_dir}'s dynamics: missing {missing[:3]}")
    if spec.train_head:
        wm.head.load_state_dict(load_file(str(Path(directory) / HEAD_WEIGHTS)))
    wm.to(device)
    return wm


def merge_adapter(wm: WorldModel) -> WorldModel:
    """Fold the adapters into the dynamics' weights and drop them, in place: ``wm`` is then a plain world
    model again (``save_pretrained`` gives a standalone bundle)."""
    from peft.tuners.lora import LoraLayer

    for name, module in list(wm.dynamics.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            parent = wm.dynamics.get_submodule(parent_name) if parent_name else wm.dynamics
            setattr(parent, child, module.get_base_layer())
    for attr in ("peft_config", "_hf_peft_config_loaded"):
        if hasattr(wm.dynamics, attr):
            delattr(wm.dynamics, attr)
    wm.lora_spec = None
    wm.requires_grad_(False)
    return wm


__all__ = [
    "LoraSpec",
    "add_lora",
    "base_sha",
    "load_adapter",
    "merge_adapter",
    "read_adapter_meta",
    "save_adapter",
    "trainable_parameters",
]
