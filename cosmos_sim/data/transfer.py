"""Transfer from files: Cosmos-Transfer1 spec JSON, control maps from paths, a store or the input video,
and whole trajectory stores re-rendered in another appearance (synthetic data augmentation).

Spec (Cosmos-Transfer1's format; paths relative to the spec file)::

    {"depth": {"control_weight": 0.5, "input_control": "depth.npy"},
     "seg":   {"control_weight": 0.5, "mask": "background.npy"},
     "edge":  {"control_weight": 1.0},
     "vis":   {"control_weight": 0.2}}

A control without ``input_control`` comes from the input: a store's own map (``maps/front/<map>``), else
edge (Canny) and vis (blur) from the RGB video (``envs/control_maps.py``), depth and seg from the nano
estimators (``world_models/estimators.py``). Files: ``.npy`` / ``.npz`` arrays in the control's own units
(depth metres, seg ids, edge 0/255, vis RGB) or videos/images as ``control_image`` draws them. A mask is
an (H, W) or (T, H, W) array (``.npy``, or a grey image/video scaled to [0, 1]).

Stores: every episode is rendered with seed ``seed + episode`` (in ``domain``, or with ``"random"`` in a
look drawn from that seed) and written to a new store with the same keys (actions, rewards, maps ...),
the frames replaced (``rgb``, or ``pixels`` as ``obs_mode="pixels+state"`` records them) and ``transfer_domain`` (the model's domain id per row) added; workers like ``dream`` (processes or Ray), written
in episode order, so the store does not depend on the number of workers.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cosmos_sim.errors import ConfigError, CosmosSimError, StoreError
from cosmos_sim.world_models.transfer import CONTROLS, DEPTH_NEAR, SEG_PALETTE, STORE_MAPS

CAMERA = "front"
SPEC_KEYS = ("control_weight", "input_control", "mask")
RANDOM = "random"
"""``domain`` of a store re-rendering: every episode in one of the model's non-default looks, drawn from its seed."""
DEPTH_MODEL, SEG_MODEL = "depth-nano", "seg-nano"
"""The shipped estimators (``assets/estimators/``) that give depth and seg from RGB."""


# ---- spec ------------------------------------------------------------------------------------------------
def load_spec(spec: str | os.PathLike | dict) -> dict[str, dict[str, Any]]:
    """A Cosmos-Transfer1 spec (a JSON file or its dict) -> ``{control: {"control_weight": float,
    "input_control": Path | None, "mask": Path | None}}``, paths resolved against the file's folder."""
    base = Path(".")
    if not isinstance(spec, dict):
        path = Path(spec)
        try:
            spec = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"spec file {path} not found") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"spec file {path} is not valid JSON: {e}") from None
        base = path.parent
    if not isinstance(spec, dict) or not spec:
        raise ConfigError(f"a spec is a JSON object of controls {list(CONTROLS)}; got {spec!r}")
    out = {}
    for name, entry in spec.items():
        if name not in CONTROLS:
            raise ConfigError(f"spec control {name!r} unknown; Transfer takes {list(CONTROLS)}")
        entry = {"control_weight": entry} if isinstance(entry, int | float) else entry
        if not isinstance(entry, dict) or set(entry) - set(SPEC_KEYS):
            raise ConfigError(
                f"spec entry {name!r} must be an object with keys among {list(SPEC_KEYS)}; got {entry!r}"
            )
        try:
            weight = float(entry.get("control_weight", 1.0))
        except (TypeError, ValueError):
            raise ConfigError(
                f"spec {name}.control_weight must be a number, got {entry['control_weight']!r}"
            ) from None
        out[name] = {
            "control_weight": weight,
            "input_control": base / entry["input_control"] if entry.get("input_control") else None,
            "mask": base / entry["mask"] if entry.get("mask") else None,
        }
    return out


# ---- files -----------------------------------------------------------------------------------------------
def read_video(path: str | os.PathLike) -> np.ndarray:
    """A video (MP4/GIF), an image, a folder of PNGs or a .npy array -> (T, H, W, 3) uint8."""
    import imageio.v3 as iio

    p = Path(path)
    if not p.exists():
        raise ConfigError(f"input {p} not found")
    if p.suffix == ".npy":
        v = np.load(p)
    elif p.is_dir():
        v = np.stack([iio.imread(f) for f in sorted(p.glob("*.png"))])
    else:
        v = np.asarray(
            iio.imread(p, index=None)
            if p.suffix.lower() in (".mp4", ".gif", ".avi", ".mov")
            else iio.imread(p)
        )
    if v.ndim == 3 and v.shape[-1] in (3, 4):
        v = v[None]
    if v.ndim == 3:
        v = np.repeat(v[..., None], 3, axis=-1)
    if v.ndim != 4 or v.shape[-1] not in (3, 4):
        raise ConfigError(f"{p} is not a video of RGB frames (shape {v.shape})")
    return np.ascontiguousarray(v[..., :3]).astype(np.uint8)


def fit_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGB frames (T, H, W, 3) resized (area) to ``size`` = (H, W) when they differ: the model's frame size."""
    import cv2

    if tuple(frames.shape[1:3]) == tuple(size):
        return frames
    h, w = size
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


def read_control(name: str, path: str | os.PathLike) -> np.ndarray:
    """A control map file -> the control's own units (see the module docstring)."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{name} input_control {p} not found")
    if p.suffix in (".npy", ".npz"):
        a = np.load(p)
        return np.asarray(a[list(a.keys())[0]] if p.suffix == ".npz" else a)
    v = read_video(p)
    if name == "vis":
        return v
    if name == "edge":
        return np.where(v[..., 0] > 127, 255, 0).astype(np.uint8)
    if name == "depth":  # drawn as disparity DEPTH_NEAR / depth
        return (DEPTH_NEAR / np.clip(v[..., 0].astype(np.float32) / 255, 1e-3, None)).astype(np.float32)
    dist = ((v[..., None, :].astype(np.int32) - SEG_PALETTE.astype(np.int32)) ** 2).sum(-1)
    return dist.argmin(-1).astype(np.int32)  # seg: the nearest palette colour's id


def read_mask(path: str | os.PathLike) -> np.ndarray:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"mask {p} not found")
    if p.suffix == ".npy":
        return np.load(p).astype(np.float32)
    m = read_video(p)[..., 0].astype(np.float32) / 255
    return m[0] if len(m) == 1 else m


# ---- controls from the input -----------------------------------------------------------------------------
def estimate(name: str, rgb: np.ndarray, labels: dict | None = None) -> np.ndarray:
    """Depth or seg of an RGB video by the nano estimators; a ConfigError saying how to get them if absent."""
    try:
        from cosmos_sim.world_models.estimators import DepthEstimator, SegEstimator

        if name == "depth":
            return DepthEstimator.from_pretrained(DEPTH_MODEL, device="cpu").predict(rgb)
        return SegEstimator.from_pretrained(SEG_MODEL, device="cpu").predict(rgb, labels)
    except (ImportError, CosmosSimError) as e:
        raise ConfigError(
            f"the {name} control is not in the input and cannot be estimated from RGB ({e}); give "
            f'"input_control" for {name} in the spec, or ship the {name} estimator '
            f"(cosmos-sim train-estimator -> assets/estimators/{DEPTH_MODEL if name == 'depth' else SEG_MODEL})"
        ) from None


def gather_controls(
    spec: dict[str, dict[str, Any]],
    rgb: np.ndarray | None,
    maps: dict[str, np.ndarray] | None = None,
    labels: dict | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """(control maps, the spec for ``Transfer.transfer`` with masks loaded) from a loaded spec, the input's
    RGB (T, H, W, 3) and its recorded maps ({store map name: array})."""
    from cosmos_sim.envs.control_maps import blurred, canny_edges

    maps = maps or {}
    controls, model_spec = {}, {}
    for name, entry in spec.items():
        if entry["input_control"] is not None:
            value = read_control(name, entry["input_control"])
        elif STORE_MAPS[name] in maps:
            value = maps[STORE_MAPS[name]]
        elif rgb is None:
            raise ConfigError(
                f"the {name} control has no input_control and there is no input video to derive it from"
            )
        elif name == "edge":
            value = np.stack([canny_edges(f) for f in rgb])
        elif name == "vis":
            value = np.stack([blurred(f) for f in rgb])
        else:
            value = estimate(name, rgb, labels)
        controls[name] = value
        model_spec[name] = {"control_weight": entry["control_weight"]}
        if entry["mask"] is not None:
            model_spec[name]["mask"] = read_mask(entry["mask"])
    return controls, model_spec


# ---- stores ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoreJob:
    """One episode of a store to re-render (picklable: a worker opens the store and the model itself)."""

    model: str
    store: str
    episode: int
    spec: dict
    domain: str
    seed: int
    steps: int
    guardrail: bool


_MODELS: dict[str, Any] = {}


def render_episode(job: StoreJob) -> tuple[int, dict[str, np.ndarray], int]:
    """(episode, its rows with rgb re-rendered, the seed) in a worker."""
    import torch

    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.world_models.transfer import Transfer

    torch.set_num_threads(1)
    if job.model not in _MODELS:
        _MODELS[job.model] = Transfer.from_pretrained(job.model, device="cpu")
    store = TrajectoryStore.open(job.store)
    ep, key = store.episode(job.episode), store.frame_key()
    maps = {k.split("/")[-1]: v for k, v in ep.items() if k.startswith(f"maps/{CAMERA}/")}
    controls, spec = gather_controls(job.spec, ep[key], maps, store.attrs.get("segmentation_labels"))
    model = _MODELS[job.model]
    domain = job.domain
    if domain == RANDOM:  # one of the model's looks other than the default, drawn from the episode's seed
        looks = [d for d in model.config.domains if d != "default"] or list(model.config.domains)
        domain = looks[int(np.random.default_rng([job.seed, 0x7A]).integers(len(looks)))]
    rgb = model.transfer(controls, spec, seed=job.seed, domain=domain, steps=job.steps)
    if job.guardrail:
        from cosmos_sim.guardrail import SafetyChecker, guard_frames

        rgb, _ = guard_frames(rgb, SafetyChecker(), f"episode {job.episode} re-rendered by Transfer")
    ep[key] = rgb  # under the source's frame key, so the store reads as the source does
    ep["transfer_domain"] = np.full(len(rgb), (model.config.domains.index(domain)), dtype=np.int16)
    return job.episode, ep, int(store.episode_seeds[job.episode])


def transfer_store(
    model: str,
    spec: dict[str, dict[str, Any]],
    store_path: str,
    out: str,
    domain: str,
    seed: int = 0,
    episodes: list[int] | None = None,
    steps: int = 3,
    workers: int = 1,
    executor: str = "local",
    guardrail: bool = True,
    progress: bool = True,
    command: str = "",
) -> dict[str, Any]:
    """Re-render ``episodes`` (default all) of a store into a new store at ``out``; returns a summary."""
    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.guardrail import DISABLED, SafetyChecker
    from cosmos_sim.workers import make_executor
    from cosmos_sim.world_models.transfer import Transfer

    if Path(out).exists():  # before any work; TrajectoryStore.create's advice (overwrite=True) is the API's
        raise StoreError(
            f"output {out} already exists; choose another --out (out= in Python) or delete it first: "
            "a re-rendering never appends to or replaces a store"
        )
    src = TrajectoryStore.open(store_path)
    key = src.frame_key()  # rgb, or pixels in a store recorded with obs_mode="pixels+state"
    idx = list(range(src.n_episodes)) if episodes is None else [e % src.n_episodes for e in episodes]
    model_dir = Transfer.resolve_pretrained(model)
    first = src.episode(idx[0])  # every control must be found before the output store exists
    gather_controls(spec, first[key], {k.split("/")[-1]: v for k, v in first.items() if k.startswith(f"maps/{CAMERA}/")},
                    src.attrs.get("segmentation_labels"))  # fmt: skip
    jobs = [StoreJob(str(model_dir), store_path, e, spec, domain, seed + e, steps, guardrail) for e in idx]
    attrs = {
        k: v
        for k, v in src.attrs.items()
        if k not in ("format", "format_version", "created_at", "created_by", "runs")
    }
    attrs["transfer"] = {
        "model": str(model_dir), "source": str(store_path), "domain": domain, "first_seed": seed,
        "episodes": idx, "spec": {k: {kk: str(vv) if isinstance(vv, Path) else vv for kk, vv in v.items()} for k, v in spec.items()},
        "guardrail": SafetyChecker().describe() if guardrail else DISABLED, "command": command,
    }  # fmt: skip
    dst = TrajectoryStore.create(out, attrs=attrs)
    pool = make_executor(executor, workers)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="episode", desc="transfer")
    t0, frames, done, nxt = time.perf_counter(), 0, {}, 0
    try:
        for e, ep, s in pool.imap_unordered(render_episode, jobs):
            done[e] = (ep, s)
            while nxt < len(idx) and idx[nxt] in done:  # episode order, whatever finishes first
                ep, s = done.pop(idx[nxt])
                dst.add_episode(ep, seed=s)
                frames += len(ep[key])
                nxt += 1
                if bar is not None:
                    bar.update(1)
    finally:
        pool.close()
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    summary = {"episodes": len(idx), "frames": frames, "seconds": round(seconds, 2),
               "frames_per_s": round(frames / max(seconds, 1e-9), 2)}  # fmt: skip
    dst.update_attrs({"transfer_summary": summary})
    return summary


__all__ = ["fit_frames", "gather_controls", "load_spec", "read_control", "read_video", "transfer_store"]
