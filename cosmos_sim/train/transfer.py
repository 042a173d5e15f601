"""Train the Transfer model (``world_models/transfer.py``) on paired appearance-domain stores, CleanRL style.

Data: one store per domain, recorded with the same seeds and actions (``cosmos-sim generate --env-kwargs
'{"appearance": D}'``): geometry, depth and segmentation are identical across them, so row r of every store
shows one instant in several looks. ``train_default.zarr`` carries ``maps/front/{depth,seg,edges,blur}``,
the others ``maps/front/{edges,blur}``.

    every row, once (OUT/cache/<domain>-<key>.npy, float16, keyed by the rows and the tokenizer's SHA):
        rgb, edge, vis latents of each domain; depth and seg latents of the default store; the
        foreground share of each latent cell (robot, goal, block) from its seg
    a sample: row t, a target domain and a source domain (independent), so controls come from one look
        and RGB from another: target = rgb[target][t], context = rgb[target][t-1] (zeros + the first-frame
        flag at an episode start or with p_first; small Gaussian noise on it, so generated contexts work),
        depth/seg[t], edge/vis[source][t]
    control dropout: each control is on for a batch with p_keep; per row a weight (1 or U(0.2, 1), 0 with
        p_row_drop); with p_spatial two controls split the frame into foreground / background masks;
        then Cosmos's normalisation (clamp >= 0, sum <= 1 per cell)
    EDM loss (DiT.loss; cells holding an object weighted by object_weight), AdamW, warm-up + cosine, EMA; OUT/last resumes; OUT/best is the EMA bundle

    cosmos-sim train-transfer --data data/transfer --tokenizer DIR --out runs/transfer/model
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass, field, replace
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
from cosmos_sim.world_models.tokenizer import Tokenizer
from cosmos_sim.world_models.transfer import (
    STORE_MAPS,
    Conditioning,
    Transfer,
    TransferConfig,
    control_image,
    normalize_weights,
)
from cosmos_sim.world_models.wfm import file_sha

CAMERA = "front"
STATIC_SEG = ("background", "table")
"""Segmentation labels that are scenery; every other label is foreground (the spatial weighting's mask)."""


@dataclass(frozen=True)
class Args:
    """Settings of a Transfer training run."""

    data: str = "data/transfer"
    """Folder of paired stores train_<domain>.zarr (train_default.zarr with depth,seg,edges,blur maps)."""
    out: str = "runs/transfer/model"
    """Run directory: cache/, last/ (resumable), best/ (the EMA bundle, bf16), log.txt."""
    tokenizer: str = "cv4x8x8-nano"
    """CV tokenizer checkpoint (a shipped name or a directory); frozen."""
    domains: tuple[str, ...] = ("default", "brick", "grass", "marble", "night", "sunset")
    """Domains to train on (one store each); the model's domain ids, in this order."""
    source_domains: tuple[str, ...] = ()
    """Domains whose edge and vis maps serve as controls (a subset of domains); empty: all of them."""
    episodes: int = 0
    """Episodes used from each store (the first ones); 0: all that every store holds."""
    steps: int = 8000
    """Optimizer steps in total (a resumed run continues up to this)."""
    batch_size: int = 32
    """Samples per step."""
    lr: float = 5e-4
    """Peak learning rate (AdamW)."""
    warmup: int = 200
    """Linear warm-up steps."""
    ema: float = 0.998
    """EMA decay of the shipped weights."""
    dim: int = 96
    """Transformer width."""
    depth: int = 4
    """Base DiT blocks."""
    heads: int = 4
    """Attention heads."""
    control_blocks: int = 2
    """First base blocks each control branch copies."""
    weight_inputs: bool = False
    """Branches read their weight and the weights' sum (``TransferConfig.weight_inputs``)."""
    init_from: str = ""
    """Start a fresh run from this Transfer bundle (a shipped name or a directory): its weights, sizes and
    normalisation; inputs it lacks (e.g. --weight-inputs) start at zero. Empty: from scratch."""
    p_keep: float = 0.5
    """Control dropout: probability that a control is on in a batch."""
    p_row_drop: float = 0.1
    """Probability that a row gets no control at all (weights 0)."""
    p_spatial: float = 0.25
    """Probability of a foreground/background split between two controls (spatial weights)."""
    p_first: float = 0.1
    """Probability of a first-frame sample (no previous output) besides the episode starts."""
    context_noise: float = 0.2
    """Max std of the Gaussian noise on the context latent (robustness to generated contexts)."""
    object_weight: float = 1.0
    """Loss weight of latent cells that hold an object (robot, goal, block: ~2 % of the pixels, which a plain
    loss smears away); 1: a plain loss."""
    save_every: int = 250
    """Steps between checkpoints (last/ and best/)."""
    time_limit_min: float = 0.0
    """Stop (after saving) when this many minutes have passed; 0: no limit."""
    cache_only: bool = False
    """Build the latent cache and stop (run two at once to share the encoding; each claims files)."""
    threads: int = 1
    """Torch threads."""
    seed: int = 0
    """Seed of the sampler streams and the initial weights."""
    extra: dict = field(default_factory=dict)
    """Free metadata stored with the checkpoint (the CLI puts the command line here)."""

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1:
            raise ConfigError(f"steps and batch_size must be >= 1, got {self.steps} and {self.batch_size}")
        for name in ("p_keep", "p_row_drop", "p_spatial", "p_first"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ConfigError(f"{name}={v} is a probability: give a value in [0, 1]")
        if self.object_weight <= 0:
            raise ConfigError(f"object_weight={self.object_weight} must be > 0 (1: a plain loss)")
        if set(self.source_domains) - set(self.domains):
            raise ConfigError(f"source_domains {self.source_domains} must be among domains {self.domains}")
        if "default" not in self.domains:
            raise ConfigError(
                f"domains {self.domains} must include 'default' (its store holds depth and seg)"
            )


# ---- the paired latent cache ----------------------------------------------------------------------------
def paired_stores(args: Args) -> tuple[dict[str, TrajectoryStore], int]:
    """The domain stores and the rows used; a StoreError when they do not pair (other seeds or lengths)."""
    stores = {}
    for d in args.domains:
        path = Path(args.data) / f"train_{d}.zarr"
        if not path.exists():
            raise StoreError(
                f"no store {path} for domain {d!r}; record it with cosmos-sim generate "
                f'--env-kwargs \'{{"appearance": "{d}"}}\' (see the module docstring)'
            )
        stores[d] = TrajectoryStore.open(path)
    n_ep = min(s.n_episodes for s in stores.values())
    n_ep = min(n_ep, args.episodes) if args.episodes else n_ep
    ref = stores["default"]
    for s in stores.values():
        if not (
            np.array_equal(s.episode_seeds[:n_ep], ref.episode_seeds[:n_ep])
            and np.array_equal(s.episode_lengths[:n_ep], ref.episode_lengths[:n_ep])
        ):
            raise StoreError(
                f"{s.path} does not pair with {ref.path}: its first {n_ep} episodes have other seeds or "
                "lengths; record every domain with the same --seed, --episodes and --policy"
            )
    rows = int(ref.episode_ends[n_ep - 1])
    return stores, rows


def _jobs(args: Args) -> list[tuple[str, str]]:
    """(domain, key) of every cached latent array; key: rgb or a control name."""
    jobs = [("default", "depth"), ("default", "seg")] + [(d, "rgb") for d in args.domains]
    return jobs + [(d, k) for d in sources(args) for k in ("edge", "vis")]


def sources(args: Args) -> tuple[str, ...]:
    """The domains whose edge and vis maps are controls."""
    return args.source_domains or args.domains


def _images(store: TrajectoryStore, key: str, start: int, stop: int) -> np.ndarray:
    if key == "rgb":
        return store.read("rgb", start, stop)
    return control_image(key, store.read(f"maps/{CAMERA}/{STORE_MAPS[key]}", start, stop))


def build_cache(args: Args, tok_dir: Path, progress: bool = True) -> Path:
    """Encode every (domain, key) array once into OUT/cache (skips done files; claims one before encoding it,
    so two processes share the work)."""
    stores, rows = paired_stores(args)
    tok = None
    cache = Path(args.out) / "cache" / f"{rows}-{file_sha(tok_dir / 'model.safetensors')}"
    cache.mkdir(parents=True, exist_ok=True)
    for domain, key in _jobs(args):
        path = cache / f"{domain}-{key}.npy"
        claim = path.with_suffix(".claim")
        if path.exists():
            continue
        try:
            os.close(os.open(claim, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue
        if tok is None:
            tok = Transfer(TransferConfig(), Tokenizer.from_pretrained(tok_dir, device="cpu"))
        t0, out = time.time(), []
        for start in range(0, rows, 512):
            out.append(tok.encode_images(_images(stores[domain], key, start, min(rows, start + 512))).half())
        np.save(path.with_suffix(".tmp.npy"), torch.cat(out).numpy())
        os.replace(path.with_suffix(".tmp.npy"), path)
        claim.unlink(missing_ok=True)
        if progress:
            print(f"cached {domain}-{key}: {rows} rows in {time.time() - t0:.0f} s", flush=True)
    seg_path = cache / "fg.npy"
    if not seg_path.exists():
        ref = stores["default"]
        labels = ref.attrs.get("segmentation_labels", {})
        static = [int(i) for i, n in labels.items() if n in STATIC_SEG] or [0]
        seg = ref.read(f"maps/{CAMERA}/seg", 0, rows)
        fg = torch.from_numpy((~np.isin(seg, static)).astype(np.float32))[:, None]
        cell = torch.nn.functional.adaptive_avg_pool2d(fg, (8, 8))[:, 0].numpy()
        np.save(seg_path, cell.astype(np.float16))
        ends = ref.episode_ends[: np.searchsorted(ref.episode_ends, rows) + 1]
        starts = np.zeros(rows, dtype=np.int64)
        for s, e in zip([0, *ends[:-1]], ends, strict=True):
            starts[s:e] = s
        np.save(cache / "episode_start.npy", starts)
    return cache


@dataclass
class PairedData:
    """The cache in memory: latents ([domains or source domains,] rows, C, h, w) float16 and per-row facts."""

    rgb: np.ndarray
    edge: np.ndarray
    vis: np.ndarray
    depth: np.ndarray
    seg: np.ndarray
    fg: np.ndarray
    episode_start: np.ndarray


def load_cache(args: Args, cache: Path) -> PairedData:
    missing = [f"{d}-{k}" for d, k in _jobs(args) if not (cache / f"{d}-{k}.npy").exists()]
    if missing:
        raise StoreError(
            f"the latent cache {cache} lacks {missing}; is another --cache-only run still encoding?"
        )

    def stack(key, domains):
        return np.stack([np.load(cache / f"{d}-{key}.npy") for d in domains])

    return PairedData(
        stack("rgb", args.domains), stack("edge", sources(args)), stack("vis", sources(args)),
        np.load(cache / "default-depth.npy"), np.load(cache / "default-seg.npy"),
        np.load(cache / "fg.npy"), np.load(cache / "episode_start.npy"),
    )  # fmt: skip


def stats(x: np.ndarray) -> dict[str, list[float]]:
    """Per-channel mean and std of latents (..., C, h, w)."""
    flat = x.reshape(-1, *x.shape[-3:]).astype(np.float32)
    return {"mean": flat.mean((0, 2, 3)).tolist(), "std": (flat.std((0, 2, 3)) + 1e-6).tolist()}


# ---- one batch ----------------------------------------------------------------------------------------------
def sample_batch(model: Transfer, data: PairedData, args: Args, rng: np.random.Generator):
    """(target, context, Conditioning, loss weight per latent cell) of one training batch (see the module
    docstring)."""
    b, n_dom = args.batch_size, len(args.domains)
    rows = rng.integers(len(data.episode_start), size=b)
    tgt, src = rng.integers(n_dom, size=b), rng.integers(len(data.edge), size=b)
    first = (rows == data.episode_start[rows]) | (rng.random(b) < args.p_first)
    t = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32))  # noqa: E731
    target = model.normalize(t(data.rgb[tgt, rows]))
    ctx = model.normalize(t(data.rgb[tgt, np.maximum(rows - 1, 0)]))
    ctx = ctx + t(rng.uniform(0, args.context_noise, (b, 1, 1, 1))) * t(rng.standard_normal(ctx.shape))
    ctx[torch.from_numpy(first)] = 0
    raw = {
        "depth": data.depth[rows],
        "seg": data.seg[rows],
        "edge": data.edge[src, rows],
        "vis": data.vis[src, rows],
    }
    active = [c for c in model.config.controls if rng.random() < args.p_keep]
    h, w = model.config.latent_size
    weights = {}
    for c in active:
        v = np.where(rng.random(b) < 0.5, 1.0, rng.uniform(0.2, 1.0, b))
        weights[c] = np.broadcast_to(v[:, None, None], (b, h, w)).copy()
    if len(active) >= 2 and rng.random() < args.p_spatial:
        fg_c, bg_c = rng.choice(active, 2, replace=False)
        fg = data.fg[rows].astype(np.float32)
        weights[fg_c] *= fg
        weights[bg_c] *= 1 - fg
    drop = rng.random(b) < args.p_row_drop
    for c in active:
        weights[c][drop] = 0
    cond = Conditioning(
        model.appearance([args.domains[i] for i in tgt], torch.from_numpy(first)),
        {c: model.normalize(t(raw[c]), c) for c in active},
        normalize_weights({c: t(v) for c, v in weights.items()}),
    )
    cells = 1 + (args.object_weight - 1) * t(data.fg[rows] > 0)
    return target, ctx[:, None], cond, cells


# ---- the run -------------------------------------------------------------------------------------------------
def _log(out: Path, line: str) -> None:
    print(line, flush=True)
    with open(out / "log.txt", "a") as f:
        f.write(line + "\n")


@releases_out_dir_locks
def train(args: Args) -> Path:
    """Run (or resume) training; returns OUT/best, the EMA bundle."""
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tok_dir = Tokenizer.resolve_pretrained(args.tokenizer)
    cache = build_cache(args, tok_dir)
    if args.cache_only:
        return cache
    lock_out_dir(out)
    data = load_cache(args, cache)
    init = Transfer.from_pretrained(args.init_from, device="cpu") if args.init_from else None
    if init is None:
        cfg = TransferConfig(
            domains=args.domains, dim=args.dim, depth=args.depth, heads=args.heads,
            control_blocks=args.control_blocks, weight_inputs=args.weight_inputs,
            latent_mean=tuple(stats(data.rgb)["mean"]), latent_std=tuple(stats(data.rgb)["std"]),
            control_stats={c: stats(getattr(data, c)) for c in ("depth", "seg", "edge", "vis")},
        )  # fmt: skip
    else:
        if init.config.domains != args.domains:
            raise ConfigError(
                f"--init-from {args.init_from} renders domains {list(init.config.domains)}, the run trains "
                f"{list(args.domains)}: give --domains {' '.join(init.config.domains)}"
            )
        if init.config.tokenizer_sha != file_sha(Path(tok_dir) / "model.safetensors"):
            raise ConfigError(
                f"--init-from {args.init_from} was trained over another tokenizer than {tok_dir}: give "
                f"--tokenizer {init.tokenizer_source}"
            )
        cfg = replace(init.config, weight_inputs=args.weight_inputs or init.config.weight_inputs)
    torch.manual_seed(args.seed)
    model = Transfer(cfg, Tokenizer.from_pretrained(tok_dir, device="cpu"))
    model.tokenizer_source = tok_dir
    if init is not None:
        missing, unexpected = model.net.load_state_dict(init.net.state_dict(), strict=False)
        if unexpected or any(not k.startswith("weight_in.") for k in missing):
            raise ConfigError(f"--init-from {args.init_from} does not fit this model: {missing + unexpected}")
    ema = copy.deepcopy(model.net).requires_grad_(False)
    opt = torch.optim.AdamW(model.net.parameters(), lr=args.lr, weight_decay=0.0)
    rng, gen = np.random.default_rng(args.seed), torch.Generator().manual_seed(args.seed)
    step, state = 0, read_train_state(out / "last")
    if state is not None:
        model.net.load_state_dict(state["net"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state, step = state["rng"], state["step"]
        gen.set_state(state["gen"])
        _log(out, f"resumed at step {step}")
    else:
        _log(out, f"{args.extra.get('command', '')} | {asdict(args)} | {sum(p.numel() for p in model.net.parameters()) / 1e6:.2f} M "
             f"parameters, {len(data.episode_start)} rows x {len(args.domains)} domains")  # fmt: skip
    t0, losses = time.time(), []
    model.net.train()
    while step < args.steps:
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, args.lr, args.warmup, args.steps)
        target, ctx, cond, cells = sample_batch(model, data, args, rng)
        loss = model.net.loss(target, ctx, cond, generator=gen, cell_weight=cells)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.net.parameters(), 1.0)
        opt.step()
        decay = args.ema if step > args.warmup else 0.0
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.net.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        step += 1
        losses.append(loss.item())
        timed_out = args.time_limit_min and time.time() - t0 > args.time_limit_min * 60
        if step % args.save_every == 0 or step == args.steps or timed_out:
            _log(out, f"step={step} loss={np.mean(losses):.4f} lr={opt.param_groups[0]['lr']:.2e} "
                 f"elapsed_s={time.time() - t0:.0f}")  # fmt: skip
            losses = []
            (out / "last").mkdir(exist_ok=True)
            write_train_state(out / "last", {
                "net": model.net.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                "rng": rng.bit_generator.state, "gen": gen.get_state(), "step": step,
            })  # fmt: skip
            shipped = Transfer(cfg, model.tokenizer)
            shipped.net.load_state_dict(ema.state_dict())
            shipped.save_pretrained(
                out / "best", tokenizer_dir=tok_dir, extra={"step": step, **args.extra, "args": asdict(args)}
            )
        if timed_out:
            break
    return out / "best"
