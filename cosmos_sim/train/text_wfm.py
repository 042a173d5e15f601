"""Train a text-conditioned world model (``text-diffusion`` family, ``world_models/text_dit.py``).

    captioned stores (``cosmos-sim generate --captions``)
      -> text encoder: ``--text-encoder DIR`` (any local HF encoder, frozen) or a tiny T5 trained here on
         the stores' captions (``world_models/text_encoder.py``), saved in ``OUT/text_encoder``
      -> every store's captions embedded once (``OUT/cache/text-<store>-<episodes>-<encoder sha>.npz``), every
         frame encoded once (``train/latents.encode_store``: the shared latent cache)
      -> TextDiT from ``--init-from`` (a plain DiT bundle of the same shape: its weights load unchanged,
         the cross-attention starts at zero), EDM loss on rows of ``train/latents.sample_batch`` with
            the episode's long caption (or its short one, ``--short-prob``)
            the null prompt for ``--prompt-dropout`` of the rows (classifier-free guidance)
            Text2World rows (``--blank-prob``): the episode's first frame from no context
      -> EMA weights evaluated on ``--val-data`` (held-out seeds): the EDM loss at fixed noise with the
         prompt and without it, Video2World rows and Text2World rows; ``OUT/best`` (lowest prompted loss),
         ``OUT/last`` (+ ``train_state.pt``: optimizer, EMA, step, random streams: the same command resumes)

Each bundle is a ``WorldModel`` directory with ``text_encoder/`` inside (``TextWorld.from_pretrained``).
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError, StoreError
from cosmos_sim.train.common import (
    cosine_lr,
    lock_out_dir,
    read_train_state,
    releases_out_dir_locks,
    write_train_state,
)
from cosmos_sim.train.latents import concat_data, encode_store, sample_batch
from cosmos_sim.train.wfm import ema_update
from cosmos_sim.world_models.text_dit import TextDiffusion, TextDiTConfig
from cosmos_sim.world_models.text_encoder import (
    TextEncoder,
    TextEncoderConfig,
    embed_cached,
    train_text_encoder,
)
from cosmos_sim.world_models.wfm import WorldModel, set_torch_threads


@dataclass(frozen=True)
class Args:
    """``cosmos-sim train-text-wfm`` flags."""

    data: tuple[str, ...] = ()
    """Captioned training stores (``cosmos-sim generate --captions``)."""
    out: str = "runs/text-wfm"
    """Run directory: OUT/best, OUT/last (resumable), OUT/text_encoder, OUT/metrics.jsonl."""
    val_data: tuple[str, ...] = ()
    """Captioned held-out stores (seeds >= 100000) for the periodic evaluation."""
    init_from: str = "physics-dit-nano"
    """A diffusion bundle (shipped name or directory) whose DiT weights, tokenizer and latent statistics
    start the model; "" is refused (the text DiT is trained on top of a video DiT)."""
    text_encoder: str = ""
    """A local Hugging Face encoder directory to use frozen; "" trains the tiny T5 on the captions."""
    encoder_steps: int = 600
    """Training steps of the tiny T5 when it is trained here."""
    steps: int = 4000
    """Optimizer steps."""
    batch_size: int = 32
    """Rows per step."""
    lr: float = 3e-4
    """Peak AdamW learning rate (warm-up then cosine)."""
    warmup: int = 200
    """Warm-up steps."""
    prompt_dropout: float = 0.1
    """Share of rows trained with the null prompt (classifier-free guidance)."""
    blank_prob: float = 0.2
    """Share of rows that are Text2World first frames (no context)."""
    short_prob: float = 0.2
    """Share of prompted rows that get the short caption instead of the long one."""
    ema: float = 0.998
    """EMA decay of the evaluated and saved weights."""
    eval_every: int = 500
    """Steps between held-out evaluations (and OUT/best)."""
    save_every: int = 250
    """Steps between OUT/last saves."""
    threads: int = 1
    """Torch CPU threads."""
    seed: int = 0
    """Batch order, noise, dropout."""
    time_limit_min: float = 0.0
    """Stop (saving OUT/last) after this many minutes; 0: no limit."""
    cache_dir: str = ""
    """Latent and embedding caches; "" = OUT/cache."""

    def __post_init__(self):
        object.__setattr__(self, "data", tuple(self.data))
        object.__setattr__(self, "val_data", tuple(self.val_data))
        if not self.data:
            raise ConfigError("give captioned training stores with --data (cosmos-sim generate --captions)")
        if not self.init_from:
            raise ConfigError("--init-from is required: a diffusion bundle, e.g. physics-dit-nano")
        for name in ("prompt_dropout", "blank_prob", "short_prob"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ConfigError(f"{name}={v} must be in [0, 1), e.g. 0.1")
        if min(self.steps, self.batch_size, self.eval_every, self.save_every, self.threads) < 1:
            raise ConfigError("steps, batch_size, eval_every, save_every and threads must be >= 1")


def store_captions(path: str) -> list[dict]:
    """The captions of every episode of a store; a StoreError when one is missing."""
    store = TrajectoryStore.open(path)
    texts = store.episode_texts()
    missing = [i for i, t in enumerate(texts) if t is None]
    if missing or not texts:
        raise StoreError(
            f"store {path} has {len(missing) or 'no'} episodes without captions (e.g. {missing[:3]}); "
            "record it with `cosmos-sim generate --captions`"
        )
    return texts


@dataclass
class TextData:
    """Per-row access to the captions of the concatenated stores."""

    emb: np.ndarray
    """(2E, L, d) float16: long captions of the E episodes, then their short ones."""
    mask: np.ndarray
    """(2E, L) bool."""
    row_episode: np.ndarray
    """(N,) episode index (0..E-1) of every row."""


def load_text(paths, encoder: TextEncoder, cache_dir: Path) -> TextData:
    """The stores' caption embeddings, each store's cached once per encoder (``text-<store>-<episodes>-<sha>``)."""
    longs, shorts, masks_l, masks_s, row_ep, offset = [], [], [], [], [], 0
    for path in paths:
        texts = store_captions(path)
        ends = TrajectoryStore.open(path).episode_ends
        row_ep.append(np.repeat(np.arange(len(ends)) + offset, np.diff(np.concatenate([[0], ends]))))
        name = f"text-{Path(path).name.removesuffix('.zarr')}-{len(texts)}-{encoder.sha()}.npz"
        emb, mask = embed_cached(
            encoder, [t["long"] for t in texts] + [t["short"] for t in texts], cache_dir / name
        )
        n = len(texts)
        longs.append(emb[:n])
        shorts.append(emb[n:])
        masks_l.append(mask[:n])
        masks_s.append(mask[n:])
        offset += n
    emb = np.concatenate(longs + shorts)
    mask = np.concatenate(masks_l + masks_s)
    return TextData(emb, mask, np.concatenate(row_ep))


def text_batch(
    data, text: TextData, rows: np.ndarray, k: int, rng: np.random.Generator, args: Args
) -> dict[str, torch.Tensor]:
    """``sample_batch`` rows plus their prompts, the prompt-dropout and the Text2World (blank) flags."""
    b = len(rows)
    batch = sample_batch(data, rows, k)
    blank = rng.random(b) < args.blank_prob
    if blank.any():  # Text2World: the episode's first frame, from no context
        first = data.episode_start[rows[blank]]
        batch["target"][torch.from_numpy(blank)] = torch.from_numpy(data.latents[first])
    ep = text.row_episode[rows]
    n_ep = len(text.emb) // 2
    idx = ep + n_ep * (rng.random(b) < args.short_prob)
    batch["text"] = torch.from_numpy(text.emb[idx].astype(np.float32))
    batch["text_mask"] = torch.from_numpy(text.mask[idx])
    batch["drop"] = torch.from_numpy(rng.random(b) < args.prompt_dropout)
    batch["blank"] = torch.from_numpy(blank)
    return batch


def train_rows(data) -> np.ndarray:
    return np.flatnonzero(~data.last)


@torch.no_grad()
def evaluate(wm: WorldModel, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
    """EDM loss at fixed noise on held-out rows: Video2World and Text2World, with and without the prompt."""
    fam, out = TextDiffusion(), {}
    gen = torch.Generator().manual_seed(0)
    sums: dict[str, list[float]] = {}
    for batch in batches:
        for prompt in (True, False):
            b = {**batch, "drop": torch.full_like(batch["drop"], not prompt)}
            for kind, sel in (("v2w", ~batch["blank"]), ("t2w", batch["blank"])):
                if not sel.any():
                    continue
                sub = {key: v[sel] for key, v in b.items()}
                gen.manual_seed(len(sums))
                mean, std = wm.latent_mean, wm.latent_std
                ctx = (sub["context"].float() - mean.unsqueeze(1)) / std.unsqueeze(1)
                target = (sub["target"].float() - mean) / std
                loss = wm.dynamics.loss(
                    target, ctx, fam.train_condition(wm.dynamics, sub, None), generator=gen
                )
                sums.setdefault(f"{kind}_{'prompt' if prompt else 'null'}", []).append(float(loss))
    for key, v in sums.items():
        out[key] = float(np.mean(v))
    return out


def build_model(args: Args, text_dim: int) -> WorldModel:
    """The text world model around ``--init-from``'s tokenizer, with its DiT weights and latent statistics."""
    base = WorldModel.from_pretrained(args.init_from, device="cpu")
    if base.config.family != "diffusion":
        raise ConfigError(f"--init-from must be a 'diffusion' bundle, got a {base.config.family!r} one")
    dyn = TextDiTConfig(**asdict(base.config.dynamics), text_dim=text_dim)
    config = replace(base.config, family="text-diffusion", dynamics=dyn)
    wm = WorldModel(config, base.tokenizer)
    missing, unexpected = wm.load_state_dict(base.state_dict(), strict=False)
    if unexpected or any(
        not k.startswith(("dynamics.text_in", "dynamics.register", "dynamics.cross", "dynamics.null_latent"))
        for k in missing
    ):
        raise ConfigError(
            f"--init-from {args.init_from} does not fit: missing {missing}, unexpected {unexpected}"
        )
    wm.tokenizer_source = base.tokenizer_source
    return wm


def save_bundle(wm: WorldModel, out: Path, encoder_dir: Path, extra: dict) -> None:
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    wm.save_pretrained(tmp, dtype=torch.float32, extra=extra)
    shutil.copytree(encoder_dir, tmp / wm.config.dynamics.text_encoder)
    if (out / "train_state.pt").is_file():
        shutil.copyfile(out / "train_state.pt", tmp / "train_state.pt")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


@releases_out_dir_locks
def train(args: Args) -> Path:
    """Run (or resume) a text world-model training; returns OUT."""
    set_torch_threads(args.threads, what="train-text-wfm")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lock_out_dir(out)
    return _train(args, out)


def _train(args: Args, out: Path) -> Path:
    t0 = time.time()
    cache = Path(args.cache_dir or out / "cache")
    log = lambda msg: print(f"[train-text-wfm {time.time() - t0:7.0f}s] {msg}", flush=True)  # noqa: E731
    # ---- text encoder ----
    enc_dir = out / "text_encoder"
    if args.text_encoder:
        enc_dir = Path(args.text_encoder)
    elif not (enc_dir / "config.json").is_file():
        texts = [t[f] for p in args.data for t in store_captions(p) for f in ("long", "short")]
        enc = train_text_encoder(texts, TextEncoderConfig(steps=args.encoder_steps, seed=args.seed), log=log)
        enc.save_pretrained(enc_dir)
    encoder = TextEncoder.from_pretrained(enc_dir)
    # ---- model and data ----
    wm = build_model(args, encoder.dim)
    k = wm.context_frames
    data = concat_data([encode_store(p, wm, cache, progress=False) for p in args.data])
    text = load_text(args.data, encoder, cache)
    rows_all = train_rows(data)
    log(f"{len(rows_all)} training rows from {len(args.data)} stores, {len(text.emb) // 2} captions")
    rng_val = np.random.default_rng(12345)
    val_batches = []
    if args.val_data:
        vdata = concat_data([encode_store(p, wm, cache, progress=False) for p in args.val_data])
        vtext = load_text(args.val_data, encoder, cache)
        vrows = train_rows(vdata)
        val_args = replace(args, prompt_dropout=0.0, short_prob=0.0, blank_prob=0.3)
        for _ in range(4):
            val_batches.append(text_batch(vdata, vtext, rng_val.choice(vrows, 64), k, rng_val, val_args))
    # ---- optimizer, EMA, resume ----
    params = [p for n, p in wm.named_parameters() if not n.startswith("tokenizer.")]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    ema = copy.deepcopy(wm)
    step, best = 0, float("inf")
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    state = read_train_state(out / "last")
    if state is not None:
        wm.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step, best = state["step"], state["best"]
        rng.bit_generator.state = state["rng"]
        gen.set_state(state["gen"])
        log(f"resumed at step {step}")
    fam = TextDiffusion()

    def save_last():
        last = out / "last"
        save_bundle(ema, last, enc_dir, {"step": step})
        write_train_state(
            last,
            {
                "model": wm.state_dict(),
                "ema": ema.state_dict(),
                "opt": opt.state_dict(),
                "step": step,
                "best": best,
                "rng": rng.bit_generator.state,
                "gen": gen.get_state(),
                "args": asdict(args),
            },
        )

    metrics = out / "metrics.jsonl"
    wm.train()
    while step < args.steps:
        if args.time_limit_min and time.time() - t0 > 60 * args.time_limit_min:
            log("time limit reached")
            break
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, args.lr, args.warmup, args.steps)
        batch = text_batch(data, text, rng.choice(rows_all, args.batch_size), k, rng, args)
        mean, std = wm.latent_mean, wm.latent_std
        ctx = (batch["context"].float() - mean.unsqueeze(1)) / std.unsqueeze(1)
        target = (batch["target"].float() - mean) / std
        loss = wm.dynamics.loss(target, ctx, fam.train_condition(wm.dynamics, batch, args), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema_update(ema, wm, args.ema)
        step += 1
        if step % 50 == 0:
            log(f"step {step}/{args.steps} loss {loss.item():.4f} lr {opt.param_groups[0]['lr']:.2e}")
        if step % args.eval_every == 0 or step == args.steps:
            ev = evaluate(ema.eval(), val_batches) if val_batches else {}
            with open(metrics, "a") as f:
                f.write(
                    json.dumps({"step": step, "loss": loss.item(), **ev, "seconds": time.time() - t0}) + "\n"
                )
            log(f"eval step {step}: {ev}")
            score = ev.get("v2w_prompt", 0.0) + ev.get("t2w_prompt", 0.0)
            if val_batches and score < best:
                best = score
                save_bundle(ema, out / "best", enc_dir, {"step": step, **ev})
        if step % args.save_every == 0:
            save_last()
    save_last()
    if not val_batches:
        save_bundle(ema, out / "best", enc_dir, {"step": step})
    log(f"done at step {step}")
    return out


__all__ = [
    "Args",
    "TextData",
    "build_model",
    "evaluate",
    "load_text",
    "store_captions",
    "text_batch",
    "train",
]
