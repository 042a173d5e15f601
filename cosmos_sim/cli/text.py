"""``cosmos-sim generate-video``: Text2World / Video2World from a prompt (``cosmos_sim.text.generate_video``).

    cosmos-sim generate-video --prompt "a purple ball hits a green ball" --upsample --out hit.mp4
    cosmos-sim generate-video --prompt "..." --frames first.png --out next.mp4      # Video2World, 1 frame
    cosmos-sim generate-video --prompt "..." --frames clip.mp4 --out next.mp4       # its last 9 frames

The prompt passes the guardrail's pre-guard and the video its post-guard (faces, watermark, provenance);
``--no-guardrail`` is the explicit, recorded opt-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cosmos_sim.errors import ConfigError


@dataclass(frozen=True)
class GenerateVideoArgs:
    """Flags of ``cosmos-sim generate-video``."""

    prompt: str = ""
    """What the video shows (the guardrail checks it)."""
    out: str = "video.mp4"
    """Output video (.mp4, .gif or .png frames folder by suffix; a sidecar JSON holds the provenance)."""
    frames: str = ""
    """Video2World context: an image (PNG/JPG), a video (MP4) or a folder of PNG frames; "": Text2World."""
    model: str = "physics-text-dit-nano"
    """A text world model: shipped name under assets/wfm/ or a bundle directory."""
    text_encoder: str = ""
    """A local Hugging Face text encoder directory instead of the bundle's own (same embedding width)."""
    upsample: bool = False
    """Rewrite the prompt into a long caption of the training distribution first (cosmos_sim.text.upsampler)."""
    upsampler_lm: str = ""
    """A local Hugging Face causal-LM directory for --upsample instead of the grammar rules."""
    num_frames: int = 48
    """Frames to generate."""
    guidance: float = -1.0
    """Classifier-free guidance scale; < 0: the model's default."""
    seed: int = 0
    """Sampler noise seed."""
    guardrail: bool = True
    """Pre-guard the prompt and post-guard the video; --no-guardrail opts out (recorded)."""

    def __post_init__(self):
        if not self.prompt.strip():
            raise ConfigError('--prompt is required, e.g. --prompt "a red ball bounces to the left"')
        if self.num_frames < 1:
            raise ConfigError(f"--num-frames {self.num_frames}: give 1 or more")


def load_frames(path: str, size: tuple[int, int]) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 from an image, a video or a PNG folder, resized to ``size`` (H, W)."""
    from PIL import Image

    p = Path(path)
    if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"):
        if not p.is_file():
            raise ConfigError(f"--frames {p}: no such image")
        frames = np.asarray(Image.open(p).convert("RGB"))[None]
    else:
        from cosmos_sim.eval.physics_io import read_frames

        frames = read_frames(p)
    if frames.shape[1:3] != tuple(size):
        frames = np.stack([np.asarray(Image.fromarray(f).resize(size[::-1], Image.BILINEAR)) for f in frames])
    return frames


def run(a: GenerateVideoArgs) -> int:
    from cosmos_sim.text.video import generate_video

    frames = load_frames(a.frames, (64, 64)) if a.frames else None
    video, meta = generate_video(
        a.prompt,
        frames,
        a.model,
        a.text_encoder or None,
        a.upsample,
        a.upsampler_lm,
        a.num_frames,
        None if a.guidance < 0 else a.guidance,
        a.seed,
        a.out,
        guardrail=a.guardrail,
    )
    print(f"wrote {a.out} ({len(video)} frames, {meta['mode']}); prompt used: {meta['upsampled_prompt']}")
    return 0


# ``cosmos_sim/cli/__init__.py`` registers the command with its ``_add_trainer`` helper (flags from ``Args``,
# then ``train(args)``, the module imported only when the command is parsed): these two names are that contract.
Args = GenerateVideoArgs
train = run


__all__ = ["Args", "GenerateVideoArgs", "load_frames", "run", "train"]
