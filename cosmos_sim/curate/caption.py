"""Stage 5: captioning. Pluggable: ``"stats"`` (default, no model) or ``"vlm"`` (a local transformers VLM).

``stats`` writes a sentence from what the earlier stages measured and simple colour statistics:
duration, resolution, camera motion tags, brightness, sharpness and the dominant colours, e.g.
"A 3.0 s 320x180 clip; the camera pans right; a bright, sharp scene in mostly blue and white
tones." It needs no weights and is deterministic.

``vlm`` loads an image-text-to-text model (e.g. a BLIP or SmolVLM checkpoint) with
``transformers`` from a local directory only (``local_files_only``: nothing is downloaded at
run time) and captions the clip's middle analysis frame. Download a checkpoint yourself first,
e.g. ``huggingface-cli download Salesforce/blip-image-captioning-base --local-dir models/blip``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from cosmos_sim.curate.clip import Clip

#: colour names and their RGB, for the stats captioner's dominant colours.
_COLOURS = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
    "red": (200, 30, 30),
    "orange": (230, 130, 30),
    "yellow": (230, 210, 40),
    "green": (40, 160, 60),
    "blue": (40, 80, 200),
    "purple": (130, 50, 160),
    "pink": (230, 150, 180),
    "brown": (120, 75, 40),
    "beige": (210, 190, 150),
}
_TAG_WORDS = {
    "pan_left": "pans left",
    "pan_right": "pans right",
    "tilt_up": "tilts up",
    "tilt_down": "tilts down",
    "zoom_in": "zooms in",
    "zoom_out": "zooms out",
}


@dataclass(frozen=True)
class CaptionConfig:
    """Which captioner and its settings."""

    captioner: str = "stats"
    """``"stats"`` (no model) or ``"vlm"`` (transformers model from ``model_path``)."""
    model_path: str = ""
    """Local directory of the VLM checkpoint (``vlm`` only)."""
    prompt: str = "Describe this video frame in one sentence."
    """Text prompt for chat-style VLMs (captioning models such as BLIP ignore it)."""
    max_new_tokens: int = 40
    """Caption length limit for the VLM."""

    def __post_init__(self) -> None:
        if self.captioner not in ("stats", "vlm"):
            raise ValueError(f"captioner must be 'stats' or 'vlm', got {self.captioner!r}")
        if self.captioner == "vlm" and not self.model_path:
            raise ValueError(
                "captioner 'vlm' needs model_path: a local directory with a transformers checkpoint"
            )


def dominant_colours(frames: list[np.ndarray], k: int = 2) -> list[str]:
    """Names of the ``k`` most common palette colours over a few shrunk frames."""
    pix = np.concatenate(
        [cv2.resize(f, (32, 18), interpolation=cv2.INTER_AREA).reshape(-1, 3) for f in frames]
    )
    palette = np.array(list(_COLOURS.values()), np.float32)
    nearest = np.argmin(((pix[:, None, :].astype(np.float32) - palette[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=len(palette))
    names = list(_COLOURS)
    return [names[i] for i in np.argsort(-counts, kind="stable")[:k] if counts[i] > 0]


def stats_caption(clip: Clip) -> str:
    """The default caption from metrics, tags and colours (see the module docstring)."""
    parts = [f"A {clip.duration:.1f} s {clip.width}x{clip.height} clip"]
    moves = [_TAG_WORDS[t] for t in clip.tags if t in _TAG_WORDS]
    parts.append("the camera " + " and ".join(moves) if moves else "the camera is steady")
    b = clip.metrics.get("brightness")
    light = "" if b is None else ("dark" if b < 0.3 else "bright" if b > 0.6 else "evenly lit")
    s = clip.metrics.get("sharpness")
    sharp = "" if s is None else ("soft" if s < 100 else "sharp")
    adjectives = ", ".join(a for a in (light, sharp) if a)
    colours = dominant_colours(clip.frames) if clip.frames else []
    scene = (
        f"{'an' if adjectives[:1] in tuple('aeiou') else 'a'} {adjectives} scene" if adjectives else "a scene"
    )
    if colours:
        scene += f" in mostly {' and '.join(colours)} tones"
    parts.append(scene)
    return "; ".join(parts) + "."


@lru_cache(maxsize=2)  # one model per worker process, loaded on first use
def _load_vlm(model_path: str):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(model_path, local_files_only=True)
    model = AutoModelForImageTextToText.from_pretrained(model_path, local_files_only=True).eval()
    return processor, model


def check_model_path(model_path: str) -> Path:
    """The checkpoint directory, or a ValueError saying how to get one (nothing is downloaded)."""
    p = Path(model_path).expanduser()
    if not p.is_dir() or not (p / "config.json").is_file():
        raise ValueError(
            f"VLM captioner: no transformers checkpoint at {str(p)!r} (need a directory with config.json). "
            "Models are only loaded from a local path; download one first, e.g. `huggingface-cli download "
            "Salesforce/blip-image-captioning-base --local-dir models/blip`, or use captioner = 'stats'"
        )
    return p


def vlm_caption(clip: Clip, cfg: CaptionConfig) -> str:
    """Caption the middle analysis frame with the local VLM."""
    import torch

    processor, model = _load_vlm(str(check_model_path(cfg.model_path)))
    image = clip.frames[len(clip.frames) // 2]
    if getattr(processor, "chat_template", None):
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": cfg.prompt}]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = processor(images=[image], text=text, return_tensors="pt")
    else:
        inputs = processor(images=image, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=cfg.max_new_tokens, do_sample=False)
    if "input_ids" in inputs and out.shape[1] > inputs["input_ids"].shape[1]:
        out = out[:, inputs["input_ids"].shape[1] :]  # chat models echo the prompt
    return processor.batch_decode(out, skip_special_tokens=True)[0].strip()


def apply(clip: Clip, cfg: CaptionConfig) -> None:
    """Set ``clip.caption``."""
    clip.caption = vlm_caption(clip, cfg) if cfg.captioner == "vlm" else stats_caption(clip)
