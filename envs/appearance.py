"""Appearance domains of the MuJoCo manipulation scene: the same geometry in another look.

Transfer models (Cosmos-Transfer's role) render a simulator's structure in another appearance; to train
and measure that inside our own worlds, a GT scene must show one episode in several looks with
*identical* geometry, actions, depth and segmentation. A domain changes only what a camera sees of the
surfaces: the table's and the floor's texture (public-domain photographs and textures that
scikit-image ships: brick, grass, gravel, the moon's surface, coins, cups of coffee, the Hubble deep field) and tint, the arm's colour and the
lighting. Blocks keep their colours (the task names them) and nothing is added to the scene.

    appearance="default"      the scene as it always looked (no textures; bit-identical frames)
    appearance="<domain>"     one named look (``DOMAINS``)
    appearance="randomized"   per episode: a training domain (``TRAINING_DOMAINS``) with its tints and
                              lights jittered by up to ``JITTER`` (drawn from the episode's seed, never
                              from the layout's random stream: the geometry is the default's)

``HELD_OUT_DOMAINS`` never appear under "randomized": the test set of domain generalisation.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

import numpy as np


@dataclass(frozen=True)
class Domain:
    """One look of the manipulation scene."""

    table_texture: str | None
    """scikit-image image on the table top (None: plain)."""
    table_rgb: tuple[float, float, float]
    """Table tint (multiplies the texture) or colour."""
    floor_texture: str | None
    """scikit-image image on the floor (None: the default checker)."""
    floor_rgb: tuple[float, float, float]
    """Floor tint."""
    arm_rgb: tuple[float, float, float]
    """Colour of the arm's links."""
    light: tuple[float, float, float]
    """Diffuse colour of the overhead light."""
    ambient: float
    """Ambient level of the headlight."""


DOMAINS: dict[str, Domain] = {
    "brick": Domain(
        "brick", (0.85, 0.5, 0.4), "gravel", (0.55, 0.55, 0.55), (0.8, 0.82, 0.86), (0.6, 0.6, 0.6), 0.35
    ),
    "grass": Domain(
        "grass", (0.5, 0.8, 0.4), "brick", (0.45, 0.4, 0.35), (0.9, 0.88, 0.8), (0.65, 0.65, 0.55), 0.3
    ),
    "marble": Domain(
        "moon", (0.95, 0.95, 0.95), "grass", (0.3, 0.4, 0.3), (0.35, 0.37, 0.4), (0.6, 0.6, 0.65), 0.4
    ),
    "night": Domain(
        None, (0.45, 0.4, 0.5), None, (0.3, 0.3, 0.4), (0.6, 0.65, 0.8), (0.25, 0.28, 0.45), 0.12
    ),
    "sunset": Domain(
        None, (0.8, 0.6, 0.45), "brick", (0.5, 0.35, 0.3), (0.85, 0.7, 0.6), (0.8, 0.55, 0.35), 0.3
    ),
    # held out: textures and lights "randomized" never shows
    "gravel": Domain(
        "gravel", (0.7, 0.7, 0.75), "coins", (0.5, 0.45, 0.4), (0.75, 0.6, 0.45), (0.5, 0.55, 0.65), 0.45
    ),
    "coffee": Domain(
        "coffee", (1.0, 1.0, 1.0), "hubble", (0.7, 0.7, 0.8), (0.45, 0.5, 0.42), (0.75, 0.7, 0.6), 0.25
    ),
}
TRAINING_DOMAINS = ("brick", "grass", "marble", "night", "sunset")
HELD_OUT_DOMAINS = ("gravel", "coffee")
APPEARANCES = ("default", "randomized", *DOMAINS)
JITTER = 0.15
"""Relative jitter of tints and lights under "randomized"."""

_SOURCES = {  # texture name -> scikit-image loader name (all bundled with the wheel: no download)
    "brick": "brick",
    "grass": "grass",
    "gravel": "gravel",
    "moon": "moon",
    "coins": "coins",
    "coffee": "coffee",
    "hubble": "hubble_deep_field",
}
TEXTURE_SIZE = 128


def check_appearance(name: str) -> None:
    """A ValueError naming the choices for an unknown appearance."""
    if name not in APPEARANCES:
        raise ValueError(f"appearance {name!r} unknown; choose one of {APPEARANCES}")


@cache
def texture_png(name: str) -> bytes:
    """The texture ``name`` as a ``TEXTURE_SIZE`` square RGB PNG (centre crop of the scikit-image picture)."""
    import imageio.v3 as iio
    import skimage.data
    from skimage.transform import resize

    img = getattr(skimage.data, _SOURCES[name])()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s, :3]
    small = (resize(img, (TEXTURE_SIZE, TEXTURE_SIZE), anti_aliasing=True) * 255).astype(np.uint8)
    buf = io.BytesIO()
    iio.imwrite(buf, small, extension=".png")
    return buf.getvalue()


def textures(domains: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Every texture the ``domains`` (default: all) use (one MuJoCo texture each)."""
    looks = [DOMAINS[n] for n in (DOMAINS if domains is None else domains)]
    return tuple(sorted({t for d in looks for t in (d.table_texture, d.floor_texture) if t}))


def picture_sources(domains: tuple[str, ...]) -> tuple[str, ...]:
    """The scikit-image pictures the ``domains``' textures come from."""
    return tuple(sorted({_SOURCES[t] for t in textures(domains)}))


def assets_xml() -> str:
    """MJCF ``<asset>`` lines: a texture per image and a table and floor material per domain."""
    lines = [f'<texture name="img_{t}" type="2d" file="{t}.png"/>' for t in textures()]
    for name, d in DOMAINS.items():
        for surface, tex, repeat in (("table", d.table_texture, "2 2"), ("floor", d.floor_texture, "6 6")):
            texture = f'texture="img_{tex}" texrepeat="{repeat}"' if tex else ""
            lines.append(f'<material name="{surface}_{name}" {texture} rgba="1 1 1 1"/>')
    return "\n    ".join(lines)


def asset_files() -> dict[str, bytes]:
    """The in-memory files ``assets_xml`` names (``MjModel.from_xml_string(xml, assets)``)."""
    return {f"{t}.png": texture_png(t) for t in textures()}


def draw(appearance: str, rng: np.random.Generator) -> tuple[str, Domain]:
    """The domain of an episode: the named one, or under "randomized" a jittered training domain."""
    if appearance != "randomized":
        return appearance, DOMAINS[appearance]
    name = TRAINING_DOMAINS[int(rng.integers(len(TRAINING_DOMAINS)))]
    d = DOMAINS[name]

    def jitter(rgb):
        return tuple(float(np.clip(v * (1 + rng.uniform(-JITTER, JITTER)), 0, 1)) for v in rgb)

    return name, Domain(
        d.table_texture,
        jitter(d.table_rgb),
        d.floor_texture,
        jitter(d.floor_rgb),
        jitter(d.arm_rgb),
        jitter(d.light),
        float(np.clip(d.ambient * (1 + rng.uniform(-JITTER, JITTER)), 0, 1)),
    )


__all__ = [
    "APPEARANCES",
    "DOMAINS",
    "Domain",
    "HELD_OUT_DOMAINS",
    "TRAINING_DOMAINS",
    "picture_sources",
    "asset_files",
    "assets_xml",
    "check_appearance",
    "draw",
]
