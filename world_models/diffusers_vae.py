"""A diffusers video VAE (``AutoencoderKLWan``, ``AutoencoderKLCosmos``) behind the ``Tokenizer`` interface.

``WorldModel`` (world_models/wfm.py) calls four things of its tokenizer: ``config.kind`` ("CV"),
``config.latent_channels``, ``encode(frames)`` and ``decode(latents)``, with the tokenizer's layout:
frames ``(N, [T,] 3, H, W)`` uint8 or float in [0, 1] -> latents ``(N, T', C, h, w)``, and back to
``(N, T, 3, H, W)`` float in [0, 1]. ``VAETokenizer`` gives a diffusers VAE that interface, so a world
model over a Cosmos checkpoint's VAE works through the same ``WorldModel.encode`` / ``decode`` (every frame
alone, image mode: the VAE's first latent frame always encodes one frame) as the native tokenizers.

What it adds on the way:

- pixels go to the VAE in [-1, 1] as ``(N, 3, T, H, W)`` and the latent is the posterior's mode
  (deterministic: the same frame always gives the same latent);
- ``resolution``: frames are resized (bilinear, antialiased) to the resolution the checkpoint was trained
  at before encoding, and decoded frames back to the env's frame size, so a 64x64 env can drive a model
  trained at 480p or 704p;
- latents stay raw: the world model normalises them with its config's ``latent_mean`` / ``latent_std``,
  which ``vae_latent_stats`` reads from the VAE's config (``latents_mean`` / ``latents_std``), the
  normalisation the Cosmos-Predict2 pipelines apply (``sigma_data`` = 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.world_models.diffusers_compat import import_diffusers, load_local, require_model_dir

#: The diffusers VAE classes this adapter knows (both encode to a posterior with ``mode()``).
VAE_CLASSES = ("AutoencoderKLWan", "AutoencoderKLCosmos")


@dataclass(frozen=True)
class VAETokenizerConfig:
    """What ``WorldModel`` and the trainers read of a tokenizer's config, for a diffusers VAE."""

    vae_class: str = "AutoencoderKLWan"
    """The diffusers class of the VAE (one of ``VAE_CLASSES``)."""
    latent_channels: int = 16
    """Channels of one latent frame (``z_dim`` / ``latent_channels`` of the VAE's config)."""
    spatial_compression: int = 8
    """Pixels per latent cell along each axis."""
    temporal_compression: int = 4
    """Frames per latent frame after the first (video mode only; the world models encode frames alone)."""
    frame_size: tuple[int, int] = (64, 64)
    """(H, W) of the frames ``encode`` takes and ``decode`` returns."""
    resolution: tuple[int, int] | None = None
    """(H, W) the VAE sees: frames are resized to it and back; None: the frame size itself."""

    kind = "CV"
    """Continuous latents (what ``WorldModel`` checks against its family)."""

    def __post_init__(self):
        object.__setattr__(self, "frame_size", tuple(int(v) for v in self.frame_size))
        if self.resolution is not None:
            object.__setattr__(self, "resolution", tuple(int(v) for v in self.resolution))
        h, w = self.vae_size
        if h % self.spatial_compression or w % self.spatial_compression:
            raise ConfigError(
                f"the VAE sees {h}x{w} frames, not multiples of its spatial compression {self.spatial_compression}; "
                f"pass a resolution that is (e.g. {h // self.spatial_compression * self.spatial_compression or 8}x"
                f"{w // self.spatial_compression * self.spatial_compression or 8})"
            )

    @property
    def vae_size(self) -> tuple[int, int]:
        """(H, W) of the frames the VAE encodes."""
        return self.resolution or self.frame_size

    @property
    def latent_size(self) -> tuple[int, int]:
        """(h, w) of one latent frame."""
        h, w = self.vae_size
        return h // self.spatial_compression, w // self.spatial_compression

    @property
    def name(self) -> str:
        """Cosmos-style name, e.g. ``CV4x8x8 (AutoencoderKLWan)``."""
        s = self.spatial_compression
        return f"CV{self.temporal_compression}x{s}x{s} ({self.vae_class})"


def vae_config_of(vae: nn.Module, frame_size: tuple[int, int], resolution=None) -> VAETokenizerConfig:
    """The ``VAETokenizerConfig`` of a loaded diffusers VAE (compressions from its config, as the pipelines
    compute them)."""
    name = type(vae).__name__
    c = vae.config
    if name == "AutoencoderKLWan":
        channels, spatial = c.z_dim, 2 ** len(c.temperal_downsample)
        temporal = 2 ** sum(c.temperal_downsample)
    elif name == "AutoencoderKLCosmos":
        channels, spatial, temporal = (
            c.latent_channels,
            c.spatial_compression_ratio,
            c.temporal_compression_ratio,
        )
    else:
        raise CheckpointError(
            f"a {name} VAE is not supported; the Cosmos checkpoints use one of {VAE_CLASSES}"
        )
    return VAETokenizerConfig(name, channels, spatial, temporal, frame_size, resolution)


def vae_latent_stats(vae: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of the VAE's latents from its config (the first latent frame's, for
    ``AutoencoderKLCosmos``, whose config lists them per latent frame); identity when it has none."""
    c = vae.config
    channels = c.z_dim if hasattr(c, "z_dim") else c.latent_channels
    mean, std = getattr(c, "latents_mean", None), getattr(c, "latents_std", None)
    if not mean or not std:
        return (0.0,) * channels, (1.0,) * channels
    m = torch.tensor(mean, dtype=torch.float64).view(channels, -1)[:, 0]
    s = torch.tensor(std, dtype=torch.float64).view(channels, -1)[:, 0]
    return tuple(m.tolist()), tuple(s.tolist())


class VAETokenizer(nn.Module):
    """A diffusers VAE with the ``Tokenizer``'s encode/decode layout (see the module docstring)."""

    def __init__(
        self, vae: nn.Module, frame_size: tuple[int, int], resolution: tuple[int, int] | None = None
    ):
        super().__init__()
        self.vae = vae.eval().requires_grad_(False)
        self.config = vae_config_of(vae, frame_size, resolution)

    @classmethod
    def from_pretrained(
        cls,
        directory: str | os.PathLike,
        frame_size: tuple[int, int],
        resolution: tuple[int, int] | None = None,
        subfolder: str = "vae",
    ) -> VAETokenizer:
        """The VAE of a local diffusers checkpoint (``directory/subfolder``), never the Hub."""
        diffusers = import_diffusers()
        require_model_dir(directory, subfolder)
        config = _read_class_name(directory, subfolder)
        if config not in VAE_CLASSES:
            raise CheckpointError(
                f"{os.path.join(directory, subfolder)} holds a {config}; cosmos-sim reads the VAEs {VAE_CLASSES}"
            )
        return cls(load_local(getattr(diffusers, config), directory, subfolder), frame_size, resolution)

    @property
    def device(self) -> torch.device:
        return next(self.vae.parameters()).device

    def _frames(self, video: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``(N, [T,] 3, H, W)`` uint8 or float [0, 1] -> float ``(N, T, 3, H, W)`` in [0, 1] on the VAE's device."""
        x = torch.as_tensor(video)
        if x.ndim == 4:
            x = x.unsqueeze(1)
        if x.ndim != 5 or x.shape[2] != 3:
            raise ConfigError(f"frames must be (N, [T,] 3, H, W), got {tuple(x.shape)}")
        x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        if tuple(x.shape[-2:]) != self.config.frame_size:
            h, w = self.config.frame_size
            raise ConfigError(
                f"frames are {x.shape[-2]}x{x.shape[-1]}, this VAE tokenizer was set up for {h}x{w}"
            )
        return x.to(self.device)

    @staticmethod
    def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Bilinear (antialiased when shrinking) resize of ``(N, T, C, H, W)``."""
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        n, t = x.shape[:2]
        y = F.interpolate(x.flatten(0, 1), size=size, mode="bilinear", antialias=True, align_corners=False)
        return y.unflatten(0, (n, t))

    @torch.no_grad()
    def encode(self, video: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Frames -> raw latents ``(N, T', C, h, w)`` (``T' = 1 + (T - 1) / temporal_compression``)."""
        x = self._resize(self._frames(video), self.config.vae_size)
        dtype = next(self.vae.parameters()).dtype
        z = self.vae.encode((x * 2 - 1).transpose(1, 2).to(dtype)).latent_dist.mode()
        return z.transpose(1, 2).float()

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """Raw latents ``(N, T', C, h, w)`` -> frames ``(N, T, 3, H, W)`` float in [0, 1] at the frame size."""
        dtype = next(self.vae.parameters()).dtype
        x = self.vae.decode(latents.transpose(1, 2).to(self.device, dtype)).sample.transpose(1, 2)
        x = ((x.float() + 1) / 2).clamp(0, 1)
        x = x if num_frames is None else x[:, :num_frames]
        return self._resize(x, self.config.frame_size).clamp(0, 1)


def _read_class_name(directory: str | os.PathLike, subfolder: str) -> str:
    """The ``_class_name`` of a diffusers model folder's ``config.json`` (CheckpointError when unreadable)."""
    import json
    from pathlib import Path

    path = Path(directory) / subfolder / "config.json"
    try:
        return str(json.loads(path.read_text()).get("_class_name", ""))
    except (OSError, ValueError) as e:
        raise CheckpointError(
            f"{path} is not the config of a diffusers VAE ({e}); pass a diffusers checkpoint directory "
            "with a vae/ folder"
        ) from None


__all__ = ["VAE_CLASSES", "VAETokenizer", "VAETokenizerConfig", "vae_config_of", "vae_latent_stats"]
