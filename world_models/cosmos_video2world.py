"""Video2World with a text prompt: diffusers' ``Cosmos2VideoToWorldPipeline`` from a local checkpoint, guarded.

    v2w = Video2World("checkpoints/Cosmos-Predict2-2B-Video2World", safety_checker=checker)
    video = v2w(frames, prompt="a red ball rolls off the table")       # (T, H, W, 3) uint8
    video = v2w(frames, prompt_embeds=emb, negative_prompt_embeds=neg)  # no text encoder needed

The checkpoint is a directory in diffusers' pipeline layout (``model_index.json``, ``transformer/``, ``vae/``,
``scheduler/``, ``text_encoder/``, ``tokenizer/``), loaded with ``local_files_only``; ``text_encoder/`` and
``tokenizer/`` may be missing (the T5-11B encoder is ~45 GB), and then prompts come as precomputed
embeddings. Known traps of the pipeline, handled here:

- it raises without a safety checker, and diffusers' default one (``cosmos_guardrail``) downloads its
  models: ``safety_checker`` is required and may be any object with ``check_text_safety(str) -> bool`` and
  ``check_video_safety(frames uint8 (T, H, W, 3))`` (cosmos-sim's guardrail, or NVIDIA's
  ``CosmosSafetyChecker``); ``SafetyChecker`` gives it the module interface the pipeline expects. A video
  check may return the (post-processed, e.g. face-blurred) frames, or a bool / an object with a ``safe``
  field; None or unsafe raises ``GuardrailBlocked``;
- the pipeline checks the prompt text only when it encodes it, and never the negative prompt: here both
  strings are checked once, before anything runs, and reach the pipeline as embeddings (encoded with its
  own T5 when no embedding is given);
- torchvision (its transformer's padding-mask resize) is replaced where missing
  (``diffusers_compat.import_diffusers``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cosmos_sim.errors import CheckpointError, ConfigError, CosmosSimError
from cosmos_sim.world_models.diffusers_compat import import_diffusers


class GuardrailBlocked(CosmosSimError):
    """Raised when the safety checker refuses a prompt or a generated video."""


def _verdict(result: Any) -> bool:
    """A checker's answer as a bool: a bool, or an object with a ``safe`` field (a guard report)."""
    return bool(getattr(result, "safe", result))


class SafetyChecker(nn.Module):
    """Any ``check_text_safety`` / ``check_video_safety`` object as the pipeline's ``safety_checker`` module."""

    def __init__(self, checker: Any):
        super().__init__()
        missing = [
            m for m in ("check_text_safety", "check_video_safety") if not callable(getattr(checker, m, None))
        ]
        if missing:
            raise ConfigError(
                f"safety_checker {type(checker).__name__} lacks {missing}; pass an object with "
                "check_text_safety(prompt) -> bool and check_video_safety(frames) -> frames or bool "
                "(e.g. cosmos-sim's guardrail)"
            )
        self.checker = checker
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # the pipeline asks for its device

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def check_text_safety(self, prompt: str) -> bool:
        """The checker's verdict on ``prompt``; False when unsafe (the pipeline then raises)."""
        return _verdict(self.checker.check_text_safety(prompt))

    def check_video_safety(self, frames: np.ndarray) -> np.ndarray:
        """The frames to keep (the checker's post-processed ones when it returns frames); GuardrailBlocked when
        the checker refuses the video."""
        result = self.checker.check_video_safety(frames)
        if isinstance(result, np.ndarray | torch.Tensor):
            out = np.asarray(result)
            if out.shape != frames.shape:
                raise ConfigError(
                    f"the safety checker returned frames of shape {out.shape} for {frames.shape}"
                )
            return out.astype(np.uint8)
        if result is None or not _verdict(result):
            raise GuardrailBlocked(
                f"the safety checker {type(self.checker).__name__} blocked the generated video"
            )
        return frames


@dataclass(frozen=True)
class Video2WorldConfig:
    """Generation settings of ``Video2World`` (the pipeline's defaults for Cosmos-Predict2-2B at 720p)."""

    height: int = 704
    """Height the context frames are resized to and the video is generated at (the checkpoint's)."""
    width: int = 1280
    """Width of the same."""
    num_frames: int = 93
    """Frames of the generated video, context frames included (93 at 16 fps for Predict2)."""
    steps: int = 35
    """Denoising steps."""
    guidance_scale: float = 7.0
    """Classifier-free guidance scale (1: none, then no negative prompt is needed)."""
    fps: int = 16
    """Frame rate the transformer is told."""
    max_sequence_length: int = 512
    """T5 tokens of a prompt."""
    seed: int = 0
    """Seed of the initial noise."""

    def __post_init__(self):
        if self.height % 16 or self.width % 16:
            raise ConfigError(f"height and width must be multiples of 16, got {self.height}x{self.width}")
        if self.num_frames < 1 or (self.num_frames - 1) % 4:
            raise ConfigError(
                f"num_frames must be 1 + 4k (the VAE's 4x time compression), got {self.num_frames}"
            )
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1, got {self.steps}")


class Video2World:
    """A local ``Cosmos2VideoToWorldPipeline`` with a required safety checker (module docstring)."""

    def __init__(
        self,
        directory: str | os.PathLike,
        safety_checker: Any,
        device: str | torch.device = "auto",
        dtype: torch.dtype | None = None,
        config: Video2WorldConfig | None = None,
    ):
        diffusers = import_diffusers()
        from cosmos_sim.world_models.pretrained import resolve_device

        if safety_checker is None:
            raise ConfigError(
                "Video2World needs a safety checker (NVIDIA's model license requires one, and diffusers would "
                "download its own): pass cosmos-sim's guardrail or any object with check_text_safety and "
                "check_video_safety"
            )
        root = Path(directory)
        index_path = root / "model_index.json"
        if not index_path.is_file():
            raise CheckpointError(
                f"{root} is not a diffusers pipeline directory (no model_index.json); download e.g. "
                "nvidia/Cosmos-Predict2-2B-Video2World yourself and pass its directory"
            )
        index = json.loads(index_path.read_text())
        if index.get("_class_name") != "Cosmos2VideoToWorldPipeline":
            raise CheckpointError(
                f"{root} is a {index.get('_class_name')}, not a Cosmos2VideoToWorldPipeline"
            )
        absent = {k: None for k in ("text_encoder", "tokenizer") if not (root / k).is_dir()}
        self.device = resolve_device(device)
        self.dtype = dtype or (torch.bfloat16 if self.device.type == "cuda" else torch.float32)
        self.config = config or Video2WorldConfig()
        self.checker = SafetyChecker(safety_checker)
        level = diffusers.utils.logging.get_verbosity()
        diffusers.utils.logging.set_verbosity_error()  # it warns that the checker is not its own class
        try:
            pipe = diffusers.Cosmos2VideoToWorldPipeline.from_pretrained(
                str(root), safety_checker=self.checker, local_files_only=True, dtype=self.dtype, **absent
            )
        except (OSError, ValueError) as e:
            raise CheckpointError(f"diffusers could not load the pipeline in {root}: {e}") from None
        finally:
            diffusers.utils.logging.set_verbosity(level)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(self.device)
        self.has_text_encoder = not absent

    def check_prompt(self, prompt: str) -> None:
        """GuardrailBlocked when the safety checker refuses ``prompt``."""
        if not self.checker.check_text_safety(prompt):
            raise GuardrailBlocked(f"the safety checker blocked the prompt {prompt!r}")

    @torch.no_grad()
    def __call__(
        self,
        frames: np.ndarray,
        prompt: str | None = None,
        prompt_embeds: torch.Tensor | np.ndarray | None = None,
        negative_prompt: str | None = None,
        negative_prompt_embeds: torch.Tensor | np.ndarray | None = None,
        output_size: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """The generated video ``(num_frames, H, W, 3)`` uint8 (context frames included, as the pipeline returns
        it) from context ``frames`` ``([T,] H, W, 3)`` uint8, resized to the config's resolution.

        Args:
            frames: one image or a clip of context frames (the pipeline keeps the last ``num_frames``).
            prompt: the text; checked by the safety checker even when ``prompt_embeds`` is given.
            prompt_embeds: ``([1,] L, D)`` precomputed text embedding (no text encoder needed).
            negative_prompt: text of the negative prompt (classifier-free guidance); needs the text encoder.
            negative_prompt_embeds: its precomputed embedding; with guidance > 1 and no text encoder, required.
            output_size: (H, W) to resize the video to (e.g. the context frames' size); None: the config's.
        """
        cfg = self.config
        if prompt is None and prompt_embeds is None:
            raise ConfigError("pass a prompt or prompt_embeds (a precomputed T5 embedding of the prompt)")
        if prompt_embeds is None and not self.has_text_encoder:
            raise ConfigError(
                "this checkpoint has no text_encoder/ and tokenizer/: pass prompt_embeds (and "
                "negative_prompt_embeds for guidance > 1) computed where the encoder runs"
            )
        cfg_on = cfg.guidance_scale > 1.0
        if cfg_on and negative_prompt_embeds is None and not self.has_text_encoder:
            raise ConfigError(
                f"guidance_scale {cfg.guidance_scale} needs a negative prompt: pass negative_prompt_embeds, or "
                "use guidance_scale 1.0"
            )
        x = np.asarray(frames)
        if x.dtype != np.uint8 or x.ndim not in (3, 4) or x.shape[-1] != 3:
            raise ConfigError(f"frames must be uint8 ([T,] H, W, 3), got {x.dtype} {x.shape}")
        video = x[None] if x.ndim == 3 else x
        for text in (prompt, negative_prompt):
            if text is not None:
                self.check_prompt(text)  # here, once: the prompts reach the pipeline as embeddings
        emb, neg = self._embeds(prompt_embeds), self._embeds(negative_prompt_embeds)
        if emb is None or (cfg_on and neg is None):
            enc, enc_neg = self.pipe.encode_prompt(
                prompt=prompt if emb is None else "",
                negative_prompt=negative_prompt,  # None: the pipeline's default negative prompt
                do_classifier_free_guidance=cfg_on and neg is None,
                max_sequence_length=cfg.max_sequence_length,
                device=self.device,
                dtype=self.dtype,
            )
            emb = enc if emb is None else emb
            neg = enc_neg if neg is None else neg
        kwargs = dict(
            prompt_embeds=emb,
            negative_prompt_embeds=neg if cfg_on else None,
            height=cfg.height,
            width=cfg.width,
            num_frames=cfg.num_frames,
            num_inference_steps=cfg.steps,
            guidance_scale=cfg.guidance_scale,
            fps=cfg.fps,
            max_sequence_length=cfg.max_sequence_length,
            generator=torch.Generator("cpu").manual_seed(cfg.seed),
            output_type="np",
        )
        if len(video) == 1:
            kwargs["image"] = video[0]
        else:
            kwargs["video"] = [v for v in video]
        out = np.asarray(self.pipe(**kwargs).frames[0])
        result = (out * 255 + 0.5).clip(0, 255).astype(np.uint8)
        return result if output_size is None else resize_video(result, output_size)

    def _embeds(self, e: torch.Tensor | np.ndarray | None) -> torch.Tensor | None:
        if e is None:
            return None
        t = torch.as_tensor(np.asarray(e)) if isinstance(e, np.ndarray) else e
        t = t.unsqueeze(0) if t.ndim == 2 else t
        return t.detach().to(self.device, self.dtype).contiguous()


def resize_video(video: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 resized to ``size`` (H, W): area when shrinking, bilinear when growing."""
    import cv2

    h, w = size
    if video.shape[1:3] == (h, w):
        return video
    shrink = h < video.shape[1]
    mode = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (w, h), interpolation=mode) for f in video])


__all__ = ["GuardrailBlocked", "SafetyChecker", "Video2World", "Video2WorldConfig", "resize_video"]
