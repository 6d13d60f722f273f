"""Where the object is in every frame: centre, turn, scale and facing, in fractions of the frame.

Straight moves and the fall span the whole clip whatever its length, so the object stays in frame; periodic
things (bounces, turning) run in seconds, so ``fps`` sets how much happens between two frames. At the default
16 frames and 8 fps a left/right/up/down move crosses 40-60 % of the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REACH = 1.15  # how far a sprite reaches past its nominal radius (the star's and the square's tips)
EDGE_SLACK = 0.03  # an object may poke this far (fraction of the frame) past an edge at the end of a move
JITTER = 0.004  # per-frame wobble of the centre, a fraction of the frame


@dataclass(frozen=True)
class ObjectPath:
    x: np.ndarray  # (F,) centre, fraction of width
    y: np.ndarray  # (F,) centre, fraction of height
    angle: np.ndarray  # (F,) degrees, clockwise on screen
    scale: np.ndarray  # (F,) multiplies the nominal radius
    mirror: bool  # the car faces left


def _travel(rng: np.random.Generator, reach: float) -> tuple[float, float]:
    """Start and length of a straight move that keeps the object (mostly) inside the frame."""
    room = 1.0 - 2.0 * reach + 2.0 * EDGE_SLACK
    length = min(rng.uniform(0.42, 0.6), room)
    start = reach - EDGE_SLACK + rng.uniform(0.0, 1.0) * (room - length)
    return start, length


def object_path(motion: str, radius: float, rng: np.random.Generator, frames: int, fps: float,
                aspect: float = 1.0) -> ObjectPath:
    """The path of an object of nominal ``radius`` doing ``motion`` in a frame ``aspect`` (width / height)
    times as wide as high; ``radius`` is a fraction of the side of a square frame of the same area."""
    t = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)
    seconds = np.arange(frames) / fps
    stretch = float(np.sqrt(aspect))
    reach_x, reach_y = REACH * radius / stretch, REACH * radius * stretch  # fractions of the width, the height
    tilt = rng.uniform(-6.0, 6.0)
    mirror = bool(rng.integers(2))
    across = rng.uniform(0.3, 0.7)
    angle = np.full(frames, tilt)
    scale = np.ones(frames)
    if motion in ("left", "right"):
        start, length = _travel(rng, reach_x)
        x = start + length * t if motion == "right" else 1.0 - start - length * t
        y = np.full(frames, across)
        mirror = motion == "left"
    elif motion in ("up", "down"):
        start, length = _travel(rng, reach_y)
        y = start + length * t if motion == "down" else 1.0 - start - length * t
        x = np.full(frames, across)
    elif motion == "fall":
        start, length = _travel(rng, reach_y)
        start = reach_y + rng.uniform(-0.02, 0.04)
        y = start + min(length + 0.05, 1.0 - reach_y + EDGE_SLACK - start) * t**2  # from rest: accelerating
        x = np.full(frames, across)
    elif motion == "bounce":
        floor = 1.0 - reach_y - rng.uniform(0.0, 0.04)
        height = min(rng.uniform(0.3, 0.45), floor - reach_y + EDGE_SLACK)
        hz, phase = rng.uniform(0.8, 1.1), rng.uniform(0.0, 1.0)
        y = floor - height * np.abs(np.sin(np.pi * (hz * seconds + phase)))  # sharp at the floor, round on top
        x = np.full(frames, across)
    elif motion == "rotate":
        x = np.full(frames, rng.uniform(0.35, 0.65))
        y = np.full(frames, rng.uniform(0.35, 0.65))
        speed = rng.uniform(100.0, 150.0) * (1 if rng.integers(2) else -1)  # degrees per second
        angle = tilt + speed * seconds
    elif motion == "grow":
        x = np.full(frames, rng.uniform(0.38, 0.62))
        y = np.full(frames, rng.uniform(0.38, 0.62))
        scale = 0.7 * 2.0**t  # 0.7x to 1.4x: twice as big, and the nominal size in the middle
    else:
        raise ValueError(f"unknown motion {motion!r}")
    wobble = rng.normal(0.0, JITTER, size=(2, frames))
    return ObjectPath(x=np.asarray(x) + wobble[0], y=np.asarray(y) + wobble[1], angle=angle, scale=scale,
                      mirror=mirror)
