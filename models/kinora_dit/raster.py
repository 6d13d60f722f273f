"""Anti-aliased coverage masks for many frames at once: draw at 4x with PIL, then a box-filter reduce.

All frames go into one tall 8-bit image, each in its own slot with a margin above and below, so one PIL
image and one ``reduce`` serve the whole clip; shapes that poke past the top or bottom land in the margin
and are cut away instead of bleeding into the next frame.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from models.kinora_dit.sprites import Primitive

SUPERSAMPLE = 4


def coverage(frames: list[list[Primitive]], size: int) -> np.ndarray:
    """(F, size, size) float32 in [0, 1]: how much of each pixel the frame's primitives cover.

    Coordinates are output pixels (0..size along each axis, pixel centres at +0.5). A primitive is
    ``("poly", (N, 2))``, ``("circle", (cx, cy, r))`` or ``("line", (x0, y0, x1, y1, width))``.
    """
    ss = SUPERSAMPLE
    margin = max(2, size // 8)
    slot = size + 2 * margin
    canvas = Image.new("L", (size * ss, len(frames) * slot * ss), 0)
    draw = ImageDraw.Draw(canvas)
    for index, primitives in enumerate(frames):
        dy = (index * slot + margin) * ss
        for kind, data in primitives:
            if kind == "poly":
                pts = np.asarray(data) * ss + [0.0, dy]
                draw.polygon([tuple(p) for p in pts.tolist()], fill=255)
            elif kind == "circle":
                cx, cy, r = (v * ss for v in data)  # type: ignore[attr-defined]
                draw.ellipse((cx - r, cy + dy - r, cx + r, cy + dy + r), fill=255)
            elif kind == "line":
                x0, y0, x1, y1, width = (v * ss for v in data)  # type: ignore[attr-defined]
                draw.line((x0, y0 + dy, x1, y1 + dy), fill=255, width=max(1, round(width)))
            else:
                raise ValueError(f"unknown primitive {kind!r}")
    small = np.asarray(canvas.reduce(ss), dtype=np.float32).reshape(len(frames), slot, size)
    return small[:, margin:margin + size] * (1.0 / 255.0)
