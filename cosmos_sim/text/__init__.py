"""Prompts for the text world models: the prompt upsampler and ``generate_video`` (Text2World / Video2World)."""

from cosmos_sim.text.upsampler import Upsampler, upsample
from cosmos_sim.text.video import generate_video

__all__ = ["Upsampler", "generate_video", "upsample"]
