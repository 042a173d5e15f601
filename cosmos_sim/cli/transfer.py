"""``cosmos-sim transfer``: control maps -> video in another appearance domain (the Cosmos-Transfer role).

    cosmos-sim transfer --spec spec.json --input clip.mp4 --domain grass --seed 1 --out out.mp4
    cosmos-sim transfer --spec spec.json --input data/x.zarr --episode 3 --out out.mp4     one episode
    cosmos-sim transfer --spec spec.json --input data/x.zarr --out data/x_grass.zarr     the whole store

A video in of another size is resized to the model's frames (64x64). A video out is guardrail-wrapped (``write_guarded_video``: faces pixelated, watermark, provenance); a store
out keeps every key of the input (actions, rewards, maps, a true state) with its frames re-rendered (``rgb``, or
``pixels`` in a store recorded with ``obs_mode="pixels+state"``; ``data/transfer.py``).
Importing this module costs no torch: the work is imported when the command runs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class TransferArgs:
    """Flags of ``cosmos-sim transfer``."""

    spec: str
    """Cosmos-Transfer1 spec JSON: {"depth": {"control_weight": 0.5, "input_control": PATH, "mask": PATH}, ...}."""
    input: str
    """The input: a video (MP4/GIF/PNG folder/.npy) or a trajectory store (.zarr)."""
    out: str
    """Output: a video (.mp4/.gif), or a store directory (.zarr) for a whole store."""
    model: str = "manip-transfer-nano"
    """Transfer checkpoint: a shipped name (assets/transfer/) or a directory."""
    episode: int | None = None
    """Store input: render only this episode (to a video, or a one-episode store); None: every episode."""
    domain: str = "grass"
    """Appearance domain to render (one of the model's domains), or "random": per store episode, a look drawn from its seed."""
    seed: int = 0
    """Noise seed (a store's episode e uses seed + e)."""
    steps: int = 3
    """Sampler steps (denoiser calls) per frame."""
    fps: int = 20
    """Frames per second of a video out."""
    workers: int = 1
    """Store out: worker processes (or Ray tasks) rendering episodes."""
    executor: str = "local"
    """Store out: "local" processes or "ray"."""
    guardrail: bool = True
    """Post-guard the output (faces pixelated, watermark); --no-guardrail is recorded."""
    progress: bool = True
    """Show a progress bar."""


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from cosmos_sim.cli import _command_line, _validating
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.data.store import is_store
    from cosmos_sim.data.transfer import fit_frames, gather_controls, load_spec, read_video, transfer_store
    from cosmos_sim.errors import ConfigError

    with _validating():
        a = dataclass_from_namespace(TransferArgs, args)
        spec = load_spec(a.spec)
        if a.executor not in ("local", "ray"):
            raise ConfigError(f"--executor must be local or ray, got {a.executor!r}")
    command = _command_line(args)
    out_store = Path(a.out).suffix == ".zarr"
    if is_store(a.input) and out_store:
        s = transfer_store(a.model, spec, a.input, a.out, a.domain, a.seed, None if a.episode is None else [a.episode],
                           a.steps, a.workers, a.executor, a.guardrail, a.progress, command)  # fmt: skip
        print(
            f"wrote {a.out}: {s['episodes']} episodes, {s['frames']} frames at {s['frames_per_s']} frames/s"
        )
        return 0
    if out_store:
        raise ConfigError(f"--out {a.out} is a store but --input {a.input} is not a trajectory store")
    from cosmos_sim.guardrail import SafetyChecker, write_guarded_video
    from cosmos_sim.world_models.transfer import Transfer

    if is_store(a.input):
        from cosmos_sim.data.store import TrajectoryStore

        store = TrajectoryStore.open(a.input)
        ep = store.episode(a.episode or 0)
        rgb, labels = ep[store.frame_key()], store.attrs.get("segmentation_labels")
        maps = {k.split("/")[-1]: v for k, v in ep.items() if k.startswith("maps/front/")}
    else:
        rgb, maps, labels = read_video(a.input), {}, None
    model = Transfer.from_pretrained(a.model, device="cpu")
    rgb = fit_frames(rgb, model.config.frame_size)  # a video of another size is resized, as Cosmos does
    controls, model_spec = gather_controls(spec, rgb, maps, labels)
    bar = None
    if a.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(next(iter(controls.values()))), unit="frame", desc="transfer")
    frames = model.transfer(controls, model_spec, seed=a.seed, domain=a.domain, steps=a.steps,
                            progress=(lambda n: bar.update(1)) if bar else None)  # fmt: skip
    if bar:
        bar.close()
    meta = {"model": str(Transfer.resolve_pretrained(a.model)), "domain": a.domain, "seed": a.seed,
            "spec": json_safe(spec), "input": a.input, "command": command}  # fmt: skip
    write_guarded_video(a.out, np.asarray(frames), a.fps, meta, SafetyChecker() if a.guardrail else None)
    print(f"wrote {a.out} ({len(frames)} frames, domain {a.domain}, seed {a.seed})")
    return 0


def json_safe(spec: dict) -> dict:
    return {k: {kk: None if vv is None else str(vv) if not isinstance(vv, float) else vv for kk, vv in v.items()}
            for k, v in spec.items()}  # fmt: skip


def register(sub) -> None:
    """Add ``transfer`` to the ``cosmos-sim`` sub-parsers (flags populated only when it is parsed)."""
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments

    help_ = "render control maps (spec JSON) in another appearance: a video, or a whole store re-rendered"
    sub.add_parser(
        "transfer", help=help_, description=help_,
        populate=lambda s: add_dataclass_arguments(s, TransferArgs, required=("spec", "input", "out")),
    ).set_defaults(func=run)  # fmt: skip


__all__ = ["TransferArgs", "register", "run"]
