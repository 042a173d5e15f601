"""Text2World / Video2World from Python: ``generate_video(prompt, frames=None, ...)``, guarded like every writer.

    from cosmos_sim.text import generate_video
    video = generate_video("a purple ball hits a green ball", upsample=True, out="hit.mp4")   # Text2World
    video = generate_video("...", frames=first_frames)                                         # Video2World

The prompt goes through the guardrail's pre-guard first (a blocked prompt is a ConfigError naming what
fired), the (optionally upsampled, ``cosmos_sim.text.upsampler``) prompt conditions the text world model
(``world_models/text_dit.TextWorld``), and the frames go through ``guardrail.write_guarded_video`` (faces
pixelated, watermark, provenance with the prompt and seed) when written, or ``guard_frames`` when not.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from cosmos_sim.errors import ConfigError

DEFAULT_MODEL = "physics-text-dit-nano"


def generate_video(
    prompt: str,
    frames: np.ndarray | None = None,
    model: str | os.PathLike = DEFAULT_MODEL,
    text_encoder: str | os.PathLike | None = None,
    upsample: bool = False,
    upsampler_lm: str = "",
    num_frames: int = 48,
    guidance: float | None = None,
    seed: int = 0,
    out: str | os.PathLike | None = None,
    fps: float = 20.0,
    guardrail: bool = True,
    device: str = "auto",
) -> tuple[np.ndarray, dict[str, Any]]:
    """The generated frames ``(num_frames, H, W, 3)`` uint8 (guarded) and what made them (prompt used, model).

    ``frames`` ``(T, H, W, 3)``: Video2World from them (the model's K = 9 last, fewer padded); None:
    Text2World. ``guardrail=False`` is the explicit opt-out (recorded in the provenance)."""
    from cosmos_sim.guardrail import SafetyChecker, guard_frames, provenance, write_guarded_video
    from cosmos_sim.text.upsampler import Upsampler
    from cosmos_sim.world_models.text_dit import TextWorld
    from cosmos_sim.world_models.wfm import WorldModel

    if not prompt or not prompt.strip():
        raise ConfigError('give a prompt, e.g. --prompt "a red ball bounces to the left"')
    checker = SafetyChecker() if guardrail else None
    if checker is not None and not checker.check_text_safety(prompt):
        raise ConfigError(f"the guardrail blocked the prompt: {'; '.join(checker.last_report.reasons())}")
    used = Upsampler(upsampler_lm)(prompt) if upsample else prompt
    if checker is not None and used != prompt and not checker.check_text_safety(used):
        raise ConfigError(
            f"the guardrail blocked the upsampled prompt: {'; '.join(checker.last_report.reasons())}"
        )
    world = TextWorld.from_pretrained(model, text_encoder, device=device)
    if frames is not None:
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        size = tuple(world.wm.config.frame_size)
        if frames.shape[1:3] != size:
            raise ConfigError(
                f"frames are {frames.shape[1]}x{frames.shape[2]}, the model works on {size[0]}x{size[1]}"
            )
    video = world.generate(used, frames, num_frames, guidance, seed)
    meta = provenance(
        WorldModel.resolve_pretrained(model),
        prompt=prompt,
        seed=seed,
        upsampled_prompt=used,
        mode="video2world" if frames is not None else "text2world",
    )
    if out is not None:  # guarded there (the same deterministic guard), with the provenance
        write_guarded_video(out, video, fps, meta, checker)
    video, record = guard_frames(video, checker, "a generated video")
    return video, {**meta, **record}


__all__ = ["DEFAULT_MODEL", "generate_video"]
