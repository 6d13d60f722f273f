"""Rain, snow and blinking: what ``Scene.effect`` adds on top of the object.

Rain and snow are one seamless sheet of streaks or flakes, drawn once with anti-aliasing and scrolled down
(with wrap-around) from frame to frame: drawing every particle in every frame cost more than the rest of the
clip together.
"""

from __future__ import annotations

import numpy as np

from models.kinora_dit.raster import FrameSize, coverage, frame_scale, frame_size

SNOW_RGB, RAIN_LIGHT_RGB, RAIN_DARK_RGB = (250, 250, 255), (185, 205, 255), (45, 60, 100)
SNOW_OPACITY, RAIN_OPACITY = 0.95, 0.7
RAIN_SPEED, SNOW_SPEED = 2.4, 0.3  # frame scales (``frame_scale``; a square's side) per second
RAIN_LENGTH, RAIN_SLANT = 0.16, 0.25  # streak length (fraction of the frame) and its sideways lean
FLAKE_RADIUS = 0.03  # fraction of the frame: a 2-pixel dot at 32 pixels, thinner than any object part
RAIN_COUNT, SNOW_COUNT = 14, 12  # per tile, whatever the frame size
BLINK_HZ = 2.0


def _sheet(effect: str, rng: np.random.Generator, size: FrameSize) -> np.ndarray:
    """(height, width) coverage that tiles seamlessly: each particle is also drawn shifted by one tile."""
    count = RAIN_COUNT if effect == "rain" else SNOW_COUNT  # particles grow with the frame: same share of it
    width, height = frame_size(size)
    scale = frame_scale(size)
    xs, ys = rng.uniform(0.0, width, count), rng.uniform(0.0, height, count)
    primitives = []
    for x, y in zip(xs, ys, strict=True):
        for dx in (-width, 0, width):
            for dy in (-height, 0, height):
                if effect == "rain":
                    tail = RAIN_LENGTH * scale
                    primitives.append(("line", (x + dx, y + dy, x + dx - RAIN_SLANT * tail, y + dy + tail,
                                                max(1.0, scale / 32))))
                else:
                    primitives.append(("circle", (x + dx, y + dy, FLAKE_RADIUS * scale)))
    return coverage([primitives], size)[0]


def _scroll(sheet: np.ndarray, down: float, right: float) -> np.ndarray:
    """The sheet moved by a fractional number of pixels, wrapping around, with bilinear interpolation."""
    iy, ix = int(np.floor(down)), int(np.floor(right))
    fy, fx = np.float32(down - iy), np.float32(right - ix)
    rows = np.roll(sheet, iy, axis=0)
    rows = rows * (1 - fy) + np.roll(rows, 1, axis=0) * fy
    return np.roll(rows, ix, axis=1) * (1 - fx) + np.roll(rows, ix + 1, axis=1) * fx


def particle_layer(effect: str, rng: np.random.Generator, frames: int, size: FrameSize, fps: float) -> np.ndarray:
    """(frames, height, width) coverage of rain streaks or snowflakes."""
    sheet = _sheet(effect, rng, size)
    scale = frame_scale(size)
    sway = rng.uniform(0.0, 2 * np.pi)
    out = np.empty((frames, *sheet.shape), np.float32)
    for f in range(frames):
        t = f / fps
        if effect == "rain":
            down = RAIN_SPEED * t * scale
            right = -RAIN_SLANT * down  # along the streaks
        else:
            down = SNOW_SPEED * t * scale
            right = 0.04 * scale * np.sin(np.pi * t + sway)
        out[f] = _scroll(sheet, down, right)
    return out


def particle_look(effect: str, light_background: bool) -> tuple[np.ndarray, float]:
    """Colour and opacity of the particles: rain is dark on light backgrounds and light elsewhere."""
    if effect == "snow":
        return np.array(SNOW_RGB, np.float32), SNOW_OPACITY
    return np.array(RAIN_DARK_RGB if light_background else RAIN_LIGHT_RGB, np.float32), RAIN_OPACITY


def blink_mask(rng: np.random.Generator, frames: int, fps: float) -> np.ndarray:
    """(frames,) 1 where the object shows and 0 where it is hidden: on half the time, ``BLINK_HZ`` a second."""
    phase = rng.uniform(0.0, 1.0)
    return (((np.arange(frames) / fps * BLINK_HZ + phase) % 1.0) < 0.5).astype(np.float32)
