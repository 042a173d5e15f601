r"""Post-train a Cosmos diffusers checkpoint with actions on trajectory stores (the ``cosmos-diffusers`` family).

    python -m cosmos_sim.cli.cosmos post-train --checkpoint checkpoints/Cosmos-Predict2-2B-Video2World \
        --data data/wfm/train_noisy.zarr --resolution 480 640 --lora-rank 16 --out runs/cosmos-manip

1. A fresh bundle over the checkpoint (``world_models/cosmos_diffusers.new_world_model``: zero-initialised action
   MLPs, a new reward head) for the env the first store records, or ``--init-from`` an earlier bundle.
2. Every store frame is encoded once by the checkpoint's VAE (image mode, resized to ``--resolution``) and
   cached, exactly as ``train-wfm`` does (``cosmos_sim/train/latents.py``); a sample is frame ``t`` with its
   ``K`` context latents, the action, the next latent, reward and success.
3. Trained: the action MLPs, the reward head, and either peft LoRA adapters on the transformer's attention
   and MLP layers (``--lora-rank R``, NVIDIA's Predict2 LoRA targets) or the whole transformer
   (``--lora-rank 0``). EDM loss in the rectified-flow parameterisation of Cosmos-Predict2 plus the head's
   loss; AdamW, warm-up + cosine, gradient clipping. No EMA copy (it would double a 2B model's memory): the
   shipped weights are the trained ones.
4. ``OUT/last/`` (fp32 bundle + optimizer state: rerunning the command resumes) every ``--save-every``
   steps and at the end; ``OUT/best/`` the bundle for ``gym.make("cosmos_sim/WFM-v0", checkpoint=OUT/best)``
   (the best held-out open-loop PSNR with ``--val-data``, else the last weights); ``OUT/metrics.jsonl``.

GPU paths, written but untested on this project's CPU machines: bf16 autocast (``--amp``, CUDA only),
``--compile`` (``torch.compile`` of the learner, CUDA only), ``--gradient-checkpointing`` (diffusers'
block checkpointing; runs on the CPU too), and DDP under ``torchrun --nproc_per_node N -m cosmos_sim.cli.cosmos
post-train ...`` (each rank its own batches, rank 0 evaluates and writes).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from cosmos_sim.errors import ConfigError
from cosmos_sim.eval.rollouts import evaluate, held_out_episodes
from cosmos_sim.train.common import (
    cosine_lr,
    lock_out_dir,
    read_train_state,
    releases_out_dir_locks,
    write_train_state,
)
from cosmos_sim.train.latents import concat_data, encode_store, sample_batch
from cosmos_sim.train.wfm import Learner, store_env_info
from cosmos_sim.world_models.cosmos_diffusers import (
    FAMILY,
    LORA_TARGETS,
    CosmosWorldModel,
    describe,
    load_prompt_embeds,
    new_world_model,
    trainable,
)
from cosmos_sim.world_models.pretrained import resolve_device
from cosmos_sim.world_models.wfm import set_torch_threads


@dataclass
class PostTrainArgs:
    """Command-line arguments of ``cosmos post-train``."""

    data: tuple[str, ...] = ()
    """Training trajectory stores (rgb, action, reward, is_success) of one env."""
    checkpoint: str = ""
    """Local diffusers Cosmos checkpoint directory (transformer/ + vae/, e.g. Cosmos-Predict2-2B-Video2World)."""
    init_from: str = ""
    """Continue from this cosmos-diffusers bundle (its action MLPs, LoRA and head) instead of --checkpoint."""
    out: str = "runs/cosmos"
    """Run directory: last/ (resumable), best/ (the bundle), metrics.jsonl."""
    val_data: tuple[str, ...] = ()
    """Held-out stores for the open-loop rollout metrics."""
    cache_dir: str = ""
    """Where the VAE latents are cached (default OUT/cache)."""
    context_frames: int = 1
    """Past frames the model conditions on (K; NVIDIA's action model uses 1)."""
    resolution: tuple[int, ...] = ()
    """H W the frames are resized to for the VAE (e.g. 480 640, the checkpoint's); empty: the store's size."""
    lora_rank: int = 16
    """Rank of the LoRA adapters on the transformer; 0 = fine-tune the whole transformer."""
    lora_alpha: float = 0.0
    """LoRA scale numerator (alpha / rank x B A); 0 = the rank."""
    lora_targets: tuple[str, ...] = LORA_TARGETS
    """Transformer linear layers (name suffixes) that get adapters."""
    prompt_embeds: str = ""
    """Text embedding every step is conditioned on (.safetensors key prompt_embeds, .pt or .npy); empty: zeros."""
    batch_size: int = 4
    """Samples per optimizer step (per rank)."""
    steps: int = 1000
    """Optimizer steps in total (a resumed run continues up to this)."""
    lr: float = 1e-4
    """Peak learning rate (AdamW), linear warm-up, cosine decay to lr/20."""
    warmup: int = 50
    """Warm-up steps."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    head_weight: float = 1.0
    """Weight of the reward/termination loss."""
    context_noise: float = 0.0
    """Context latents get Gaussian noise of std U(0, this) in training (robust open loop)."""
    sampler_steps: int = 35
    """Transformer calls per predicted frame at inference (stored in the bundle)."""
    amp: bool = True
    """bf16 autocast on CUDA (untested here: no GPU); fp32 on the CPU."""
    compile: bool = False
    """torch.compile the learner (CUDA only; untested here)."""
    gradient_checkpointing: bool = False
    """Recompute the transformer blocks in the backward pass (less memory, ~30 % slower)."""
    save_every: int = 500
    """Steps between saves of OUT/last (and held-out evaluations)."""
    eval_episodes: int = 4
    """Held-out episodes per evaluation."""
    rollout_steps: int = 8
    """Open-loop steps per held-out rollout."""
    threads: int = 1
    """torch CPU threads of this process (0: torch's default)."""
    seed: int = 0
    """Seed of the new modules and the batch sampling."""
    device: str = "auto"
    """"auto" (CUDA if available), "cpu" or "cuda"."""
    progress: bool = True
    """Show a progress bar."""
    extra: dict = field(default_factory=dict)
    """Metadata stored with the bundles (e.g. the command that made it)."""


def check_args(args: PostTrainArgs) -> None:
    """Refuse arguments that cannot work, before anything is loaded (ConfigError naming the flag)."""
    if not args.data:
        raise ConfigError("no stores given: pass at least one trajectory store with --data")
    if bool(args.checkpoint) == bool(args.init_from):
        raise ConfigError(
            "pass exactly one of --checkpoint (a diffusers Cosmos checkpoint directory: a new bundle) and "
            "--init-from (a cosmos-diffusers bundle to continue)"
        )
    if args.resolution and len(args.resolution) != 2:
        raise ConfigError(f"--resolution takes H W, got {list(args.resolution)}")
    for name in ("steps", "batch_size", "save_every", "sampler_steps", "context_frames"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.lora_rank < 0:
        raise ConfigError(f"--lora-rank must be >= 0 (0: full fine-tune), got {args.lora_rank}")


def build(args: PostTrainArgs) -> CosmosWorldModel:
    """The model a new run starts from: a fresh bundle over ``--checkpoint`` for the env of the first store, or
    the ``--init-from`` bundle (whose LoRA rank must be ``--lora-rank``)."""
    if args.init_from:
        wm = CosmosWorldModel.from_pretrained(args.init_from, device="cpu")
        if wm.config.family != FAMILY:
            raise ConfigError(
                f"--init-from {args.init_from} is a {wm.config.family} bundle, not a {FAMILY} one"
            )
        if wm.config.dynamics.lora_rank != args.lora_rank:
            raise ConfigError(
                f"--init-from {args.init_from} has LoRA rank {wm.config.dynamics.lora_rank}; pass --lora-rank "
                f"{wm.config.dynamics.lora_rank} to continue it"
            )
        return wm
    env = store_env_info(args.data[0])
    return new_world_model(
        args.checkpoint,
        action_layout=tuple(env["action_layout"]),
        frame_size=(env["height"], env["width"]),
        env_id=env["env_id"],
        env_kwargs=env["env_kwargs"],
        max_episode_steps=env["max_episode_steps"],
        context_frames=args.context_frames,
        resolution=tuple(args.resolution) or None,
        sampler_steps=args.sampler_steps,
        prompt_embeds=load_prompt_embeds(args.prompt_embeds) if args.prompt_embeds else None,
        lora_rank=args.lora_rank,
        lora_alpha=args.lora_alpha,
        lora_targets=tuple(args.lora_targets),
        seed=args.seed,
    )


@releases_out_dir_locks
def post_train(args: PostTrainArgs) -> dict[str, float]:
    """Run (or resume) post-training; returns the last figures (module docstring)."""
    check_args(args)
    set_torch_threads(args.threads, processes=int(os.environ.get("LOCAL_WORLD_SIZE", "1")), what="post-train")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device, rank = resolve_device(args.device), 0
    # DDP: tested with two CPU ranks on gloo (tests/cosmos_sim/test_train_cosmos_ddp.py); NCCL untested
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    main = rank == 0
    out = Path(args.out)
    last_dir = out / "last"
    state = read_train_state(last_dir)
    wm = CosmosWorldModel.from_pretrained(last_dir, device="cpu") if state is not None else build(args)
    full = wm.config.dynamics.lora_rank == 0
    out.mkdir(parents=True, exist_ok=True)
    if main:
        lock_out_dir(out)
    wm = wm.to(device)
    cache_dir = Path(args.cache_dir) if args.cache_dir else out / "cache"
    if distributed and not main:
        dist.barrier()  # rank 0 encodes first; the others read its cache
    data = concat_data([encode_store(p, wm, cache_dir, progress=args.progress and main) for p in args.data])
    if distributed and main:
        dist.barrier()
    held = (
        held_out_episodes(tuple(args.val_data), args.eval_episodes, args.rollout_steps)
        if args.val_data
        else None
    )
    rows = np.flatnonzero(~data.last)
    params = trainable(wm, full=full)
    if args.gradient_checkpointing:
        wm.dynamics.transformer.enable_gradient_checkpointing()
    learner = Learner(wm, args).to(device)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay, betas=(0.9, 0.99))
    step, best = 0, -math.inf
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        step, best = state["step"], state["best_psnr"]
    if main:
        sizes = describe(wm)
        print(
            f"post-train {FAMILY}: {len(rows)} transitions; transformer {sizes['transformer_params'] / 1e6:.1f} M "
            f"({'trained in full' if full else 'frozen, LoRA ' + str(sizes['lora_params'])}), "
            f"{sizes['trainable_params'] / 1e6:.2f} M trainable, on {device}"
            + (f"; resumed at step {step}" if step else "")
        )
    rng = np.random.default_rng(args.seed * 1_000_003 + step * 7 + rank)
    model: nn.Module = learner
    if args.compile and device.type == "cuda":  # untested here
        model = torch.compile(model)
    if distributed:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    amp = args.amp and device.type == "cuda"
    learner.train()
    figures: dict[str, float] = {}
    t_start = time.time()
    bar = tqdm(
        total=args.steps, initial=step, disable=not (args.progress and main), desc="post-train", mininterval=5
    )
    while step < args.steps:
        picked = rng.choice(rows, args.batch_size)
        batch = {k: v.to(device) for k, v in sample_batch(data, picked, wm.context_frames).items()}
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, args.lr, args.warmup, args.steps)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            losses = model(batch)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        bar.update(1)
        if main and (step % args.save_every == 0 or step == args.steps):
            figures = {
                "step": step,
                "loss": losses["loss"].item(),
                "dynamics_loss": losses["dynamics"].item(),
                "head_loss": losses["head"].item(),
                "elapsed_s": round(time.time() - t_start, 1),
            }
            extra = {"step": step, "args": asdict(args), **args.extra}
            improved = held is None
            if held is not None:
                figures |= evaluate(wm, held)
                improved = figures["val_psnr"] > best
                best = max(best, figures["val_psnr"])
            wm.save_pretrained(last_dir, dtype=None, extra=extra, transformer=full)
            write_train_state(last_dir, {"optimizer": opt.state_dict(), "step": step, "best_psnr": best})
            if improved:
                wm.save_pretrained(out / "best", extra=extra | figures, transformer=full)
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(figures) + "\n")
            tqdm.write(
                " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
            )
    bar.close()
    if distributed:
        dist.destroy_process_group()
    return figures


__all__ = ["PostTrainArgs", "build", "check_args", "post_train"]
