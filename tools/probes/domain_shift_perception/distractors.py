"""Would red look-alikes behind the block teach the estimator the held-out coffee look? (issue 17, session 23)

In coffee (a photo of cups on red-brown saucers) every estimator reads the block ~5-12 cm off: the table is full
of red, round things. ``composite.py``'s pasted pictures halved the error (11.7 -> 5.1 cm). This adds, to each
pasted background, 0-6 random shapes (discs, ellipses, rectangles, rings; half of them red-ish, the others any
colour) before it goes behind the objects, so the block must be told from red things that are not a block.
Same data, fine-tune and scoring as ``composite.py`` (16 held-out episodes per look, validation seeds 100100..).

    PROBE_WORK=runs/ds_probe PROBE_STEPS=1500 python tools/probes/domain_shift_perception/distractors.py
"""

import dataclasses
import os

import composite
import numpy as np

from cosmos_sim.data.backgrounds import Look


def add_shapes(look: Look, rng: np.random.Generator) -> Look:
    """The look with 0-6 random shapes drawn on its background."""
    bg = look.background.copy()
    h, w = bg.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(int(rng.integers(0, 7))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(1.5, h / 8, 2)
        if rng.random() < 0.5:  # red-ish: what the block must be told from
            colour = np.array([rng.uniform(0.45, 1.0), rng.uniform(0.0, 0.3), rng.uniform(0.0, 0.3)])
        else:
            colour = rng.random(3)
        kind = rng.integers(3)
        d = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        if kind == 0:
            mask = d <= 1
        elif kind == 1:
            mask = (d <= 1) & (d >= 0.4)
        else:
            mask = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
        bg[mask] = colour * rng.uniform(0.6, 1.0)
    return dataclasses.replace(look, background=bg.astype(np.float32))


_draw = composite.draw_look


def draw_with_shapes(rng, pool, size, cfg):
    return add_shapes(_draw(rng, pool, size, cfg), rng)


if __name__ == "__main__":
    composite.draw_look = draw_with_shapes
    os.environ.setdefault("PROBE_TAG", "shapes")
    composite.main()
