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
FrameSize = int | tuple[int, int]  # a square's side, or (width, height)


def frame_size(size: FrameSize) -> tuple[int, int]:
    """(width, height) of a frame given as a square's side or as (width, height)."""
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def parse_frame_size(text: str) -> FrameSize:
    """"32" (a square) or "40x24" (width x height), as scripts take a frame size on their command line."""
    width, _, height = text.lower().partition("x")
    return int(width) if not height else (int(width), int(height))


def frame_scale(size: FrameSize) -> float:
    """The frame's side as a square of the same area: what sizes and speeds are fractions of, so an object is
    as many pixels across in a 40×24 frame as in a 32×32 one (and exactly ``size`` for a square)."""
    width, height = frame_size(size)
    return float(np.sqrt(width * height))


def coverage(frames: list[list[Primitive]], size: FrameSize) -> np.ndarray:
    """(F, height, width) float32 in [0, 1]: how much of each pixel the frame's primitives cover.

    Coordinates are output pixels (0..width and 0..height, pixel centres at +0.5). A primitive is
    ``("poly", (N, 2))``, ``("circle", (cx, cy, r))`` or ``("line", (x0, y0, x1, y1, width))``.
    """
    ss = SUPERSAMPLE
    width, height = frame_size(size)
    margin = max(2, height // 8)
    slot = height + 2 * margin
    canvas = Image.new("L", (width * ss, len(frames) * slot * ss), 0)
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
                x0, y0, x1, y1, thickness = (v * ss for v in data)  # type: ignore[attr-defined]
                draw.line((x0, y0 + dy, x1, y1 + dy), fill=255, width=max(1, round(thickness)))
            else:
                raise ValueError(f"unknown primitive {kind!r}")
    small = np.asarray(canvas.reduce(ss), dtype=np.float32).reshape(len(frames), slot, width)
    return small[:, margin:margin + height] * (1.0 / 255.0)
