r"""Commands for NVIDIA Cosmos checkpoints in diffusers format (``python -m cosmos_sim.cli.cosmos COMMAND``).

    python -m cosmos_sim.cli.cosmos bundle --checkpoint CKPT --data STORE --out BUNDLE
        a fresh cosmos-diffusers bundle (zero action MLPs: the base model unchanged) for the env STORE records;
        then gym.make("cosmos_sim/WFM-v0", checkpoint=BUNDLE)
    python -m cosmos_sim.cli.cosmos post-train --checkpoint CKPT --data STORE --out RUN [--lora-rank 16]
        action post-training (cosmos_sim/train/cosmos_diffusers.py); RUN/best is the bundle
    python -m cosmos_sim.cli.cosmos video2world --checkpoint PIPE --input clip.mp4 --prompt "..." \
        --safety-checker MODULE:CALLABLE --out video.mp4
        Video2World with a text prompt (world_models/cosmos_video2world.py); --export DIR instead of
        --input/--out predicts every clip of `cosmos-sim bench physics --export DIR` (then --predictions DIR)

Flags come from the dataclasses (``cosmos_sim.cli.dataclass_cli``). Errors a user can fix print as one line
with exit code 2, like ``cosmos-sim``. ``main(argv)`` is what a ``cosmos-sim cosmos ...`` sub-command calls.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from cosmos_sim.errors import ConfigError, CosmosSimError


@dataclass(frozen=True)
class BundleArgs:
    """Settings of ``cosmos bundle``."""

    checkpoint: str
    """Local diffusers Cosmos checkpoint directory (transformer/ + vae/)."""
    data: str
    """A trajectory store of the env the bundle imitates (its id, kwargs, frame size, action layout)."""
    out: str
    """Bundle directory to write."""
    context_frames: int = 1
    """Past frames the model conditions on (K)."""
    resolution: tuple[int, ...] = ()
    """H W the frames are resized to for the VAE (the checkpoint's training resolution); empty: the store's."""
    sampler_steps: int = 35
    """Transformer calls per predicted frame."""
    prompt_embeds: str = ""
    """Text embedding file (.safetensors key prompt_embeds, .pt or .npy); empty: zeros."""
    lora_rank: int = 0
    """LoRA adapters of this rank on the transformer (fresh: B = 0), for post-training elsewhere."""
    seed: int = 0
    """Seed of the new modules."""


@dataclass(frozen=True)
class Video2WorldArgs:
    """Settings of ``cosmos video2world``."""

    checkpoint: str
    """Local diffusers Cosmos2VideoToWorldPipeline directory (model_index.json, transformer/, vae/, ...)."""
    safety_checker: str = "cosmos_sim.guardrail:SafetyChecker"
    """MODULE:CALLABLE returning an object with check_text_safety(str) and check_video_safety(frames); the
    default is cosmos-sim's guardrail (prompt pre-guard, faces pixelated, watermark)."""
    input: str = ""
    """Context: an image (PNG/JPG), a video (MP4) or a folder of PNG frames."""
    out: str = ""
    """Output video (.mp4), or a folder for PNG frames."""
    export: str = ""
    """Instead of --input/--out: predict every clip of a `bench physics --export` directory into its predictions/."""
    prompt: str = ""
    """Text prompt (checked by the safety checker)."""
    prompt_embeds: str = ""
    """Precomputed prompt embedding file instead of the text encoder (.safetensors, .pt, .npy)."""
    negative_prompt_embeds: str = ""
    """Precomputed negative-prompt embedding (needed for guidance > 1 without a text encoder)."""
    height: int = 704
    """Generation height (the checkpoint's)."""
    width: int = 1280
    """Generation width."""
    num_frames: int = 93
    """Frames generated, context included (1 + 4k)."""
    steps: int = 35
    """Denoising steps."""
    guidance_scale: float = 7.0
    """Classifier-free guidance scale (1: none)."""
    seed: int = 0
    """Seed of the initial noise."""
    device: str = "auto"
    """"auto" (CUDA if available), "cpu" or "cuda"."""


def _bundle(ns: argparse.Namespace) -> int:
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.train.cosmos_diffusers import PostTrainArgs, build

    a = dataclass_from_namespace(BundleArgs, ns)
    wm = build(
        PostTrainArgs(
            data=(a.data,),
            checkpoint=a.checkpoint,
            context_frames=a.context_frames,
            resolution=a.resolution,
            sampler_steps=a.sampler_steps,
            prompt_embeds=a.prompt_embeds,
            lora_rank=a.lora_rank,
            seed=a.seed,
        )
    )
    out = wm.save_pretrained(a.out, extra={"command": " ".join(sys.argv)})
    print(f"wrote {out} ({wm.config.env_id}, {wm.config.frame_size[0]}x{wm.config.frame_size[1]} frames)")
    return 0


def _post_train(ns: argparse.Namespace) -> int:
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.train.cosmos_diffusers import PostTrainArgs, post_train

    post_train(dataclass_from_namespace(PostTrainArgs, ns, " ".join(sys.argv)))
    return 0


def _video2world(ns: argparse.Namespace) -> int:
    from pathlib import Path

    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.eval.physics_io import read_frames, video2world_predictions, write_frames
    from cosmos_sim.guardrail.checker import load_safety_checker
    from cosmos_sim.world_models.cosmos_diffusers import load_prompt_embeds
    from cosmos_sim.world_models.cosmos_video2world import Video2World, Video2WorldConfig

    a = dataclass_from_namespace(Video2WorldArgs, ns)
    if bool(a.export) == bool(a.input and a.out):
        raise ConfigError(
            "pass --input and --out (one video), or --export DIR (every clip of a physics export)"
        )
    config = Video2WorldConfig(
        height=a.height,
        width=a.width,
        num_frames=a.num_frames,
        steps=a.steps,
        guidance_scale=a.guidance_scale,
        seed=a.seed,
    )
    v2w = Video2World(a.checkpoint, load_safety_checker(a.safety_checker), device=a.device, config=config)
    embeds = {k: load_prompt_embeds(v) for k, v in (("prompt_embeds", a.prompt_embeds),) if v}
    if a.negative_prompt_embeds:
        embeds["negative_prompt_embeds"] = load_prompt_embeds(a.negative_prompt_embeds)
    if a.export:
        n = video2world_predictions(a.export, v2w, prompt=a.prompt or None, **embeds)
        print(
            f"wrote {n} predictions into {Path(a.export) / 'predictions'}; score them with "
            f"`cosmos-sim bench physics --predictions {a.export}`"
        )
        return 0
    video = v2w(read_frames(a.input), prompt=a.prompt or None, **embeds)
    out = Path(a.out)
    mp4 = out.suffix == ".mp4"
    write_frames(video, out.with_suffix("") if mp4 else out, mp4=mp4, png=not mp4, fps=16)
    print(f"wrote {out} ({len(video)} frames, {video.shape[2]}x{video.shape[1]})")
    return 0


COMMANDS = {
    "bundle": (BundleArgs, _bundle, "a fresh cosmos-diffusers bundle over a local diffusers checkpoint"),
    "post-train": (None, _post_train, "post-train a Cosmos checkpoint with actions (LoRA or full)"),
    "video2world": (Video2WorldArgs, _video2world, "Video2World with a text prompt and a safety checker"),
}


def build_parser(prog: str = "python -m cosmos_sim.cli.cosmos") -> argparse.ArgumentParser:
    """The parser of every command (the trainer's flags are ``PostTrainArgs``'s)."""
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments

    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--debug", action="store_true", help="show the traceback of user errors too")
    sub = p.add_subparsers(dest="command", required=True, metavar="<command>")
    for name, (cls, func, help_) in COMMANDS.items():
        s = sub.add_parser(name, help=help_, description=help_)
        if cls is None:
            from cosmos_sim.train.cosmos_diffusers import PostTrainArgs

            cls = PostTrainArgs
        add_dataclass_arguments(s, cls)
        s.set_defaults(func=func)
    return p


def main(argv: list[str] | None = None, prog: str = "python -m cosmos_sim.cli.cosmos") -> int:
    """Run one command; a ``CosmosSimError`` is a one-line error with exit code 2 (unless ``--debug``)."""
    parser = build_parser(prog)
    ns = parser.parse_args(argv)
    try:
        return ns.func(ns)
    except CosmosSimError as e:
        if ns.debug:
            raise
        print(f"{prog} {ns.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
