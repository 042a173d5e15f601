r"""Train an action-conditioned world model (diffusion DiT, AR GPT or multi-view DiT) on trajectory stores, CleanRL style.

    cosmos-sim train-wfm --data data/wfm/train_noisy.zarr data/tok/train_manip_expert.zarr \
        --val-data data/tok/heldout_manip_expert.zarr --tokenizer assets/tokenizers/cv4x8x8 \
        --family diffusion --out runs/wfm/dit

1. Every frame of every store is encoded once by the tokenizer in image mode (one latent per
   frame, see ``world_models/wfm.py``) and cached under ``--cache-dir``; training never runs the
   tokenizer encoder again.
2. A training sample is frame ``t`` of an episode with its ``K`` context latents (rows before the
   episode start repeat the first frame, with zero actions: exactly how the env starts from one
   frame), the action ``a_t``, the next latent, ``reward[t]`` and ``is_success[t+1]``.
3. Loss: EDM denoising loss (diffusion) or the factorised cross-entropy over FSQ digits (AR), plus
   the reward/termination head's loss. AdamW, warm-up + cosine, gradient clipping, an EMA of the
   weights (what is evaluated and shipped).
4. Every ``eval_every`` steps: open-loop rollouts of ``rollout_steps`` frames from the first frame
   of held-out episodes (seeds never used in training) with the recorded actions, PSNR/SSIM per
   step against the recorded frames, beside the copy-last-frame baseline.
5. ``OUT/last/`` (fp32 + optimizer, EMA, step) makes runs resumable with the same command;
   ``OUT/best/`` is the bf16 bundle with the best held-out PSNR, ready for ``WorldModel.from_pretrained``.

``--family multiview`` trains the multi-view DiT on stores of a multi-camera env (the driving
stores of ``cosmos-sim generate --env cosmos_sim/Driving-GT-v0``): the views are the store's
``image_keys``, every view frame is encoded alone, and where the store records ``ego``
(x, y, yaw, ...) each sample carries the next ``--waypoints`` ego positions in the current ego
frame (dropped for ``--waypoint-dropout`` of the samples, so they stay optional). The reward
head's termination target is ``is_success`` or, in stores without it, ``terminated`` (driving:
collision or off-road).

Multi-GPU: run the same command under ``torchrun --nproc_per_node N -m cosmos_sim.cli train-wfm ...``;
each rank draws its own batches, DDP averages the gradients and rank 0 evaluates and writes.
Training uses bf16 autocast and ``--compile`` on CUDA only; inference (evaluation, the env) uses
bf16 autocast on CUDA and on CPUs with AMX/AVX512-BF16, where it is 2-3x faster at batch 32.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from cosmos_sim.data.object_masks import STATIC_LABELS
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError, StoreError
from cosmos_sim.eval.rollouts import evaluate, held_out_episodes
from cosmos_sim.train import body_render
from cosmos_sim.train.common import (
    cosine_lr,
    lock_out_dir,
    read_train_state,
    releases_out_dir_locks,
    write_train_state,
)
from cosmos_sim.train.latents import concat_data, encode_store, latent_stats, sample_batch
from cosmos_sim.world_models.families import FAMILIES, family_choices, get_family
from cosmos_sim.world_models.heads import RewardHeadConfig
from cosmos_sim.world_models.lora import LoraSpec, add_lora, load_adapter, save_adapter, trainable_parameters
from cosmos_sim.world_models.pretrained import resolve_device
from cosmos_sim.world_models.tokenizer import Tokenizer
from cosmos_sim.world_models.wfm import WorldModel, WorldModelConfig, file_sha, set_torch_threads


@dataclass
class Args:
    """Command-line arguments of ``cosmos-sim train-wfm``."""

    data: tuple[str, ...] = ()
    """Training trajectory stores (rgb, action, reward, is_success)."""
    val_data: tuple[str, ...] = ()
    """Held-out stores for the open-loop rollout metrics (seeds disjoint from the training stores)."""
    tokenizer: str = ""
    """Tokenizer checkpoint directory: CV for diffusion and multiview, DV for ar."""
    family: str = "diffusion"
    """"diffusion" (DiT over CV latents), "ar" (GPT over DV token ids) or "multiview" (one DiT over all
    cameras of a multi-camera store)."""
    out: str = "runs/wfm"
    """Run directory: last/ (resumable), best/ (bf16 bundle), metrics.jsonl."""
    cache_dir: str = ""
    """Where the encoded latents are cached (default OUT/cache)."""
    init_from: str = ""
    """Start a new run from the dynamics + head weights of this bundle (e.g. one trained on an earlier
    checkpoint of the same tokenizer run, or a shipped model as a prior for your own env): its architecture
    and latent normalisation, whatever the shape flags say; a bundle of another action size gives every
    weight but its action layers, which start fresh; ignored when resuming."""
    lora_rank: int = 0
    """Post-train with LoRA adapters of this rank (peft) on the --init-from bundle's dynamics, the base frozen:
    OUT/best and OUT/last are then adapter directories (``world_models/lora.py``); 0 = train all weights."""
    lora_alpha: float = 0.0
    """LoRA scale numerator (the update is alpha / rank x B A); 0 = the rank (scale 1)."""
    lora_targets: tuple[str, ...] = LoraSpec.targets
    """Linear layers of the dynamics that get adapters (name suffixes: qkv, proj, mlp.0, mlp.2, ada, ...)."""
    lora_head: bool = False
    """With --lora-rank: also train the reward head in full (a new robot's rewards; ~13 % of the weights)."""
    context_frames: int = 4
    """Past frames the model conditions on (K)."""
    dim: int = 128
    """Transformer width."""
    depth: int = 5
    """Transformer blocks."""
    heads: int = 4
    """Attention heads."""
    mlp_ratio: float = 3.0
    """MLP width / transformer width."""
    context_mode: str = "concat"
    """Diffusion: "concat" (context on channels) or "tokens" (context frames as tokens)."""
    patch: int = 1
    """Diffusion: spatial patch size over the latent grid."""
    sampler_steps: int = 2
    """Diffusion: denoiser calls per frame at inference (stored in the checkpoint)."""
    residual: bool = False
    """Diffusion: diffuse the change from the last context latent instead of the next latent (what stays
    put is free; the network spends itself on what moves)."""
    sigma_data: float = 1.0
    """Diffusion: EDM's scale of what is diffused: 1 for the (normalised) latent; about 0.5 for its change
    (``--residual``) in the manipulation scene (the RMS change of a frame)."""
    context_noise: float = 0.1
    """Diffusion: context latents get Gaussian noise of std U(0, this) in training (robust open loop)."""
    context_aug: float = 0.0
    """Diffusion: noise augmentation of the context with its level as an input (GameNGen): context noise std
    ~ U(0, this), told to the network (``DiTConfig.context_aug``); replaces --context-noise. 0: off."""
    context_sigma: float = 0.0
    """Diffusion with --context-aug: the noise std the context is announced at in inference (stored in the
    bundle; ``WorldModelConfig.context_sigma``)."""
    unroll: int = 0
    """Diffusion: train on open-loop inputs too: each batch replaces its last m ~ U{0..unroll} context frames
    by the model's own predictions (m sampler runs without gradients, so about 1 + 2m/3 x the cost of a
    step); 0 = teacher forcing only (the recorded frames as context)."""
    render_from_state: bool = False
    """Diffusion: train a renderer of state of a Gymnasium MuJoCo env (stores with ``qpos``/``qvel``, as
    ``generate`` records them): each frame is drawn from the episode's first frame and the bodies' positions
    (``world_models/body_maps.py``), which a state model fitted beside it steps with the actions in the env, so
    open loop cannot drift. No --val-data (score it through the env: ``cosmos-sim bench byo-env``)."""
    state_steps: int = 20000
    """With --render-from-state: optimizer steps of the state model (batch 256; about 2 ms each on a CPU)."""
    waypoints: int = 4
    """Multiview: future ego waypoints the model can be conditioned on (0 = none)."""
    waypoint_dropout: float = 0.5
    """Multiview: fraction of training samples shown without their waypoints."""
    batch_size: int = 32
    """Samples per optimizer step (per rank)."""
    steps: int = 6000
    """Optimizer steps in total (a resumed run continues up to this)."""
    lr: float = 5e-4
    """Peak learning rate (AdamW), linear warm-up, cosine decay to lr/20."""
    warmup: int = 200
    """Warm-up steps."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    ema: float = 0.998
    """EMA decay of the evaluated/shipped weights (0 = no EMA)."""
    head_weight: float = 1.0
    """Weight of the reward/termination loss."""
    object_weight: float = 1.0
    """Diffusion/multiview: loss weight of the latent cells that hold an object (seg labels not in
    --static-labels) in the target or the last context frame, against 1 elsewhere; 1 = plain loss. Needs
    stores recorded with --maps seg."""
    static_labels: tuple[str, ...] = STATIC_LABELS
    """Segmentation labels that are scenery, not objects, for --object-weight."""
    eval_every: int = 500
    """Steps between held-out evaluations (and checkpoints)."""
    eval_episodes: int = 8
    """Held-out episodes per evaluation, spread over the --val-data stores."""
    rollout_steps: int = 16
    """Open-loop steps per held-out rollout."""
    amp: bool = True
    """bf16 autocast on CUDA (on a CPU this nano model trains no faster in bf16, so it stays fp32)."""
    compile: bool = False
    """torch.compile the dynamics model (CUDA only)."""
    time_limit_min: float = 0.0
    """Stop (after saving) once this many minutes have passed in this process; 0 = no limit."""
    threads: int = 1
    """torch CPU threads of this process (0: torch's default). One by default: on a busy 2-core machine more
    threads spin against each other; a warning says when threads x processes exceed the cores."""
    seed: int = 0
    """Seed of the initialisation and the batch sampling."""
    device: str = "auto"
    """"auto" (CUDA if available), "cpu" or "cuda"."""
    progress: bool = True
    """Show a progress bar."""
    extra: dict = field(default_factory=dict)
    """Metadata stored with the checkpoints (e.g. the command that made it)."""


# ---- model ------------------------------------------------------------------------------------------------
class Learner(nn.Module):
    """Dynamics + reward head with one forward that returns the training losses (what DDP wraps)."""

    def __init__(self, wm: WorldModel, args: Args):
        super().__init__()
        self.dynamics, self.head = wm.dynamics, wm.head
        self.args = args
        self.wm = [wm]  # not a submodule: the tokenizer is frozen and not DDP's business

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        wm = self.wm[0]
        dyn, head_in = wm.family.loss(wm, self.dynamics, batch, self.args)
        head = self.head.loss(head_in, batch["action"], batch["reward"], batch["success"])
        return {"loss": dyn + self.args.head_weight * head, "dynamics": dyn.detach(), "head": head.detach()}


def load_matching(wm: WorldModel, init: WorldModel, part: str) -> list[str]:
    """Copy ``init``'s ``part`` ("dynamics" or "head") weights into ``wm``'s where the shapes agree (all of
    them for a bundle of the same env); returns the names left at their fresh initialisation (the action
    layers of a bundle made for another action size)."""
    mine, theirs = getattr(wm, part).state_dict(), getattr(init, part).state_dict()
    fits = {k: v for k, v in theirs.items() if k in mine and mine[k].shape == v.shape}
    getattr(wm, part).load_state_dict({**mine, **fits})
    return [k for k in mine if k not in fits]


def build_model(
    args: Args, tokenizer: Tokenizer, tokenizer_dir: str, data_stats: tuple | None, env_info: dict
) -> WorldModel:
    """The untrained world model of ``args.family`` for the env a store records (``store_env_info``);
    ``data_stats``: the CV latents' per-channel mean and std (None: identity normalisation)."""
    family = get_family(args.family)
    tc = tokenizer.config
    latent_size = (env_info["height"] // tc.spatial_compression, env_info["width"] // tc.spatial_compression)
    action_dim = len(env_info["action_layout"])
    views = tuple(env_info.get("views", ()))
    dyn = family.dynamics_config(args, tc, latent_size, action_dim, len(views))
    if env_info.get("state_bodies"):  # a renderer of state (--render-from-state): the bodies it draws
        dyn = dataclasses.replace(dyn, state_bodies=tuple(env_info["state_bodies"]))
    mean, std = data_stats or ((), ())
    cfg = WorldModelConfig(
        dynamics=dyn,
        head=RewardHeadConfig(
            latent_channels=family.head_channels(dyn),
            latent_size=latent_size,
            action_dim=action_dim,
            action_path=action_dim - 2 * len(env_info.get("state_bodies", ())),  # the env's own actions
        ),
        env_id=env_info["env_id"],
        env_kwargs=dict(
            env_info.get("env_kwargs", {"width": env_info["width"], "height": env_info["height"]})
        ),
        action_layout=tuple(env_info["action_layout"]),
        frame_size=(env_info["height"], env_info["width"]),
        tokenizer_name=tc.name,
        tokenizer_sha=file_sha(Path(tokenizer_dir) / "model.safetensors"),
        latent_mean=tuple(mean),
        latent_std=tuple(std),
        sampler_steps=args.sampler_steps,
        context_sigma=args.context_sigma,
        views=views,
        max_episode_steps=env_info.get("max_episode_steps"),
    )
    return WorldModel(cfg, tokenizer)


#: Env kwargs of a store that never change its frames: left out of a bundle (control maps are extra
#: outputs the model does not predict, and would only slow the env's GT scene).
FRAME_NEUTRAL_KWARGS = ("maps",)


def store_env_info(path: str, multiview: bool = False) -> dict:
    """What the world model imitates, from a store's attrs: the full env id, the kwargs the env was made
    with (camera settings, resolution, render mode; ``FRAME_NEUTRAL_KWARGS`` left out), its episode length,
    action layout and frame size; ``multiview``: also the camera keys (the store's ``image_keys``).

    A store without ``env_kwargs`` (made by hand) gives the frame size as ``width``/``height``."""
    store = TrajectoryStore.open(path)
    attrs = store.attrs
    views = list(attrs.get("image_keys", [])) if multiview else ["rgb"]
    if multiview and len(views) < 2:
        raise StoreError(
            f"trajectory store {path} has {len(views)} image keys {views}; --family multiview needs a "
            "multi-camera store (e.g. `cosmos-sim generate --env cosmos_sim/Driving-GT-v0`)"
        )
    if views[0] not in store.keys():
        raise StoreError(
            f"trajectory store {path} has no {views[0]!r} key; record it with `cosmos-sim generate`"
        )
    h, w = store.key_info()[views[0]][0][:2]
    if "action_layout" not in attrs:
        raise StoreError(f"trajectory store {path} does not record the env's action_layout attribute")
    env_kwargs = attrs.get("env_kwargs")
    if env_kwargs is None:
        env_kwargs = {"width": int(w), "height": int(h)}
    elif not isinstance(env_kwargs, dict):
        raise StoreError(f"trajectory store {path} has env_kwargs {env_kwargs!r}; expected a JSON object")
    steps = attrs.get("max_episode_steps")
    return {
        "env_id": attrs.get("env_id", "cosmos_sim/Manipulation-GT-v0"),
        "env_kwargs": {k: v for k, v in env_kwargs.items() if k not in FRAME_NEUTRAL_KWARGS},
        "max_episode_steps": int(steps) if steps else None,
        "action_layout": list(attrs["action_layout"]),
        "height": int(h),
        "width": int(w),
    } | ({"views": views} if multiview else {})


def _weight_shaping(config: WorldModelConfig) -> dict:
    """The parts of a bundle's config that shape its weights: a resumed run must match them. The rest (env
    kwargs, episode length, sampler steps) is metadata the current command may update."""
    data = json.loads(json.dumps(config.to_json()))  # tuples vs lists
    keys = ("dynamics", "head", "action_layout", "frame_size", "tokenizer_sha", "latent_mean", "latent_std")
    return {k: data.get(k) for k in keys}


@torch.no_grad()
def ema_update(ema: WorldModel, model: WorldModel, decay: float) -> None:
    """EMA of the trained parts (dynamics and head; the tokenizer is frozen)."""
    for part in ("dynamics", "head"):
        for e, p in zip(getattr(ema, part).parameters(), getattr(model, part).parameters(), strict=True):
            e.lerp_(p.detach(), 1 - decay)


# ---- the loop ---------------------------------------------------------------------------------------------
@releases_out_dir_locks
def train(args: Args) -> dict[str, float]:
    """Run (or resume) training; returns the last held-out figures."""
    if args.family not in FAMILIES:
        raise ConfigError(f"--family must be {family_choices()}, got {args.family!r}")
    family = FAMILIES[args.family]
    if not args.data:
        raise ConfigError("no stores given: pass at least one trajectory store with --data")
    if not args.tokenizer:
        raise ConfigError(
            "pass the tokenizer checkpoint directory with --tokenizer (CV for diffusion, DV for ar)"
        )
    if args.object_weight <= 0 or (args.object_weight != 1.0 and not family.cell_weights):
        weighted = " or ".join(n for n, f in FAMILIES.items() if f.cell_weights)
        unweighted = [n for n, f in FAMILIES.items() if not f.cell_weights]
        raise ConfigError(
            f"--object-weight {args.object_weight}: use a weight > 0 with --family {weighted} "
            f"(1 = plain loss; {' and '.join(unweighted)} models have no per-cell loss weights)"
        )
    if args.lora_rank < 0 or (args.lora_rank and not args.init_from):
        raise ConfigError(
            f"--lora-rank {args.lora_rank}: LoRA adapts a trained bundle; pass it with --init-from BASE "
            "(or --lora-rank 0 to train all weights)"
        )
    if args.context_aug < 0 or (args.context_aug and args.family != "diffusion"):
        raise ConfigError(f"--context-aug {args.context_aug}: use 0, or a std > 0 with --family diffusion")
    if args.context_sigma < 0 or (args.context_sigma and not args.context_aug):
        raise ConfigError(f"--context-sigma {args.context_sigma}: use 0, or a level >= 0 with --context-aug")
    if args.unroll < 0 or (args.unroll and not family.unrolls):
        takes = ", ".join(n for n, f in FAMILIES.items() if f.unrolls)
        raise ConfigError(f"--unroll {args.unroll}: use 0, or a number >= 1 with --family {takes}")
    if args.render_from_state and (
        args.family != "diffusion" or args.val_data or args.unroll or args.lora_rank
    ):
        raise ConfigError(
            "--render-from-state trains a diffusion renderer from the episode's first frame: use --family diffusion "
            "without --val-data (score it through the env: cosmos-sim bench byo-env), --unroll or --lora-rank"
        )
    set_torch_threads(
        args.threads, processes=int(os.environ.get("LOCAL_WORLD_SIZE", "1")), what="train-wfm"
    )  # torchrun: per process
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = 0
    device = resolve_device(args.device)
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    main = rank == 0
    torch.manual_seed(args.seed + rank)
    out = Path(args.out)
    cache_dir = Path(args.cache_dir) if args.cache_dir else out / "cache"

    # ---- data: encode once (rank 0 first, so the others read the cache) ----
    tokenizer_dir = str(Tokenizer.resolve_pretrained(args.tokenizer))  # a path or a shipped name
    tokenizer = Tokenizer.from_pretrained(tokenizer_dir, device=device)
    env_info = store_env_info(args.data[0], multiview=family.multi_view)
    raw = build_model(args, tokenizer, tokenizer_dir, None, env_info).to(device)  # identity normalisation
    out.mkdir(parents=True, exist_ok=True)  # only once the input checks above have passed
    if main:  # one run per OUT; released when train() returns or raises, or the process dies
        lock_out_dir(out)
    if distributed and not main:
        dist.barrier()
    data = concat_data(
        [
            encode_store(
                p,
                raw,
                cache_dir,
                object_weight=args.object_weight,
                static_labels=tuple(args.static_labels),
                progress=args.progress and main,
            )
            for p in args.data
        ]
    )
    if distributed and main:
        dist.barrier()
    extras = None  # what a renderer of state saves beside its weights
    if args.render_from_state:
        data, env_info, bodies = body_render.attach(
            data, args.data, env_info, tokenizer.config.spatial_compression
        )
        states, fit = body_render.fit_state_model(args.data, args.state_steps, seed=args.seed)
        if main:
            print(
                f"renderer of state: {len(bodies.bodies)} bodies ({', '.join(bodies.bodies)}); state model of "
                f"{len(states.names)} entries, largest qpos error after 16 open-loop steps {fit['state_qpos_err_16']:.4f}"
            )
        extras = partial(body_render.save_extras, bodies=bodies, states=states)
    init = WorldModel.from_pretrained(args.init_from, device=device) if args.init_from else None
    stats = latent_stats(data) if family.continuous else None
    if init is not None and family.continuous and init.config.latent_mean:
        stats = (list(init.config.latent_mean), list(init.config.latent_std))  # what its weights expect
    wm = build_model(args, tokenizer, tokenizer_dir, stats, env_info)
    if init is not None:  # its architecture, whatever --dim/--depth/... say; the action size is the data's
        a = wm.config.dynamics.action_dim
        if args.lora_rank and a != init.config.dynamics.action_dim:
            raise ConfigError(
                f"--lora-rank needs the --init-from bundle's action size ({init.config.dynamics.action_dim}), "
                f"but the data's actions have {a} values: post-train all weights instead (--lora-rank 0)"
            )
        # --context-aug adds to the base's architecture (a zero-initialised embedding of the noise level)
        aug = {"context_aug": args.context_aug} if args.context_aug else {}
        bodies_cfg = {"state_bodies": wm.config.dynamics.state_bodies} if args.render_from_state else {}
        shape = {
            "dynamics": dataclasses.replace(init.config.dynamics, action_dim=a, **aug, **bodies_cfg),
            "head": dataclasses.replace(init.config.head, action_dim=a),
        }
        wm = WorldModel(dataclasses.replace(wm.config, **shape), tokenizer)
    wm = wm.to(device)
    held = (
        held_out_episodes(tuple(args.val_data), args.eval_episodes, args.rollout_steps, wm.config.views)
        if args.val_data
        else None
    )
    rows = np.flatnonzero(~data.last)
    if main:
        print(
            f"train: {len(rows)} transitions from {len(args.data)} stores ({wm.config.tokenizer_name} latents "
            f"cached in {cache_dir}); held-out: {0 if held is None else len(held.frames)} episodes"
        )

    # ---- model, optimizer, EMA, resume ----
    last_dir = out / "last"
    state = read_train_state(last_dir)
    if init is not None and (state is None or args.lora_rank):
        fresh = [f"{part}.{name}" for part in ("dynamics", "head") for name in load_matching(wm, init, part)]
        if main and state is None:
            print(f"initialised the dynamics and head from {args.init_from}")
            if fresh:  # another env's action size, or layers the base lacks (--context-aug)
                a0 = init.config.dynamics.action_dim
                why = f"action size {a0} -> {a}" if a0 != a else "not in the base"
                print(f"  new ({why}): {', '.join(fresh)}")
    lora = (
        LoraSpec(args.lora_rank, args.lora_alpha, tuple(args.lora_targets), args.lora_head)
        if args.lora_rank
        else None
    )
    if lora is not None:  # the adapters (and their saved state on resume) go on the base's weights
        if state is not None:
            load_adapter(wm, last_dir, Path(WorldModel.resolve_pretrained(args.init_from)))
        else:
            add_lora(wm, lora)
        wm.train()
        if main and not lora.train_head and init.config.env_id != wm.config.env_id:
            print(
                f"note: the reward head stays {init.config.env_id}'s (frozen); pass --lora-head to train it "
                f"on {wm.config.env_id}'s rewards too (its loss is logged either way)"
            )
    learner = Learner(wm, args).to(device)
    ema = copy.deepcopy(wm) if args.ema > 0 else wm
    opt = torch.optim.AdamW(
        [p for p in learner.parameters() if p.requires_grad],
        lr=args.lr,
        weight_decay=args.weight_decay,
        betas=(0.9, 0.99),
    )
    step, best = 0, -math.inf
    if state is not None:
        if lora is None:
            resumed = WorldModel.from_pretrained(last_dir, device=device)
            if _weight_shaping(resumed.config) != _weight_shaping(wm.config):
                raise ConfigError(
                    f"{last_dir} was trained with another config ({resumed.config}); use another --out"
                )
            learner.load_state_dict({k: v for k, v in Learner(resumed, args).state_dict().items()})
        opt.load_state_dict(state["optimizer"])
        if args.ema > 0:
            ema.load_state_dict(state["ema"])
        step, best = state["step"], state["best_psnr"]
        if main:
            print(f"resumed from {last_dir} at step {step} (best held-out PSNR {best:.2f} dB)")
    elif args.ema > 0:
        ema.load_state_dict(wm.state_dict())
    # Batch draws and diffusion noise continue exactly where a resumed run stopped (rank 0's streams are
    # saved; other ranks draw afresh), so an interrupted run ends with the weights of an uninterrupted one.
    rng = np.random.default_rng(args.seed * 1_000_003 + step * 7 + rank)
    if step and main and state.get("sampler") is not None:
        rng.bit_generator.state = state["sampler"]
        torch.set_rng_state(state["torch_rng"])
    n_train, n_params = trainable_parameters(wm)
    if main:
        print(
            f"{args.family}: {n_params / 1e6:.2f} M parameters (dynamics + head) on {device}"
            + (f", {n_train / 1e3:.1f} k trainable ({100 * n_train / n_params:.1f} %: LoRA)" if lora else "")
        )
    model: nn.Module = learner
    if args.compile and device.type == "cuda":
        model = torch.compile(model)
    if distributed:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    amp = args.amp and device.type == "cuda"
    learner.train()

    # ---- loop ----
    t_start = time.time()
    figures: dict[str, float] = {}
    bar = tqdm(
        total=args.steps,
        initial=step,
        disable=not (args.progress and main),
        desc=f"train {args.family}",
        mininterval=5,
    )
    while step < args.steps:
        picked = rng.choice(rows, args.batch_size)
        m = int(rng.integers(0, args.unroll + 1)) if args.unroll else 0
        batch = {
            k: v.to(device)
            for k, v in sample_batch(
                data,
                picked,
                wm.config.context_frames,
                args.waypoints,
                unroll=m,
                first_frame=args.render_from_state,
            ).items()
        }
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, args.lr, args.warmup, args.steps)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            losses = model(batch)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(learner.parameters(), 1.0)
        opt.step()
        if args.ema > 0:
            ema_update(ema, wm, args.ema if step > args.warmup else 0.0)
        step += 1
        bar.update(1)
        bar.set_postfix(
            dyn=f"{losses['dynamics'].item():.4f}", head=f"{losses['head'].item():.4f}", refresh=False
        )
        out_of_time = bool(args.time_limit_min) and time.time() - t_start > args.time_limit_min * 60
        if (
            distributed and args.time_limit_min
        ):  # rank 0's clock decides, or ranks would stop at different steps
            flag = torch.tensor([float(out_of_time)], device=device)
            dist.broadcast(flag, src=0)
            out_of_time = bool(flag.item())
        if main and (step % args.eval_every == 0 or step == args.steps or out_of_time):
            figures = {
                "step": step,
                "loss": losses["loss"].item(),
                "dynamics_loss": losses["dynamics"].item(),
                "head_loss": losses["head"].item(),
                "lr": cosine_lr(step, args.lr, args.warmup, args.steps),
                "elapsed_s": round(time.time() - t_start, 1),
            }
            extra = {"step": step, "args": asdict(args), **args.extra}
            if held is not None:
                figures |= evaluate(ema, held)
                if figures["val_psnr"] > best:
                    best = figures["val_psnr"]
                    save_bundle(
                        ema,
                        out / "best",
                        args,
                        tokenizer_dir,
                        {**extra, **{k: figures[k] for k in figures if k.startswith(("val", "copy"))}},
                    )
            save_last(wm, ema, opt, step, best, out, tokenizer_dir, args, extra, rng, extras)
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(figures) + "\n")
            tqdm.write(
                " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
            )
        if out_of_time:
            if main:
                tqdm.write(f"time limit of {args.time_limit_min} min reached; resume with the same command")
            break
    bar.close()
    if main and held is None:  # no held-out data: ship the last EMA weights as "best"
        save_bundle(ema, out / "best", args, tokenizer_dir, {"step": step, **args.extra}, extras)
    if distributed:
        dist.destroy_process_group()
    return figures


def save_bundle(
    wm: WorldModel, directory: Path, args: Args, tokenizer_dir: str, extra: dict, extras=None
) -> None:
    """``OUT/best``: a bf16 bundle, or with --lora-rank an adapter directory on the --init-from base;
    ``extras(directory)`` adds what else the bundle needs (a renderer of state: its bodies and state model)."""
    if args.lora_rank:
        save_adapter(wm, directory, WorldModel.resolve_pretrained(args.init_from), extra=extra)
    else:
        wm.save_pretrained(directory, tokenizer_dir=tokenizer_dir, extra=extra)
    if extras is not None:
        extras(directory)


def save_last(
    wm: WorldModel,
    ema: WorldModel,
    opt: torch.optim.Optimizer,
    step: int,
    best: float,
    out: Path,
    tokenizer_dir: str,
    args: Args,
    extra: dict,
    rng: np.random.Generator,
    extras=None,
) -> None:
    if args.lora_rank:
        save_adapter(wm, out / "last", WorldModel.resolve_pretrained(args.init_from), extra=extra)
    else:
        wm.save_pretrained(out / "last", tokenizer_dir=tokenizer_dir, dtype=None, extra=extra)
    if extras is not None:
        extras(out / "last")
    state = {
        "optimizer": opt.state_dict(),
        "step": step,
        "best_psnr": best,
        "ema": ema.state_dict() if args.ema > 0 else None,
        "sampler": rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
    }
    write_train_state(out / "last", state)


__all__ = ["Args", "Learner", "build_model", "store_env_info", "train"]
