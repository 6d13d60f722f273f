"""Name the object's motion from its track: moves, the fall's acceleration, bounces, growth and turning.

Tuned for clips of about two seconds at 8 fps, where the procedural moves cross 40-60 % of the frame, a bounce
rises and lands at least once and a half, growth doubles the size and turning goes 12-19 degrees a frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.kinora_dit.clip_vision import Background, ObjectTrack, color_alpha
from models.kinora_dit.shape_match import polar, turn_between

MIN_TRAVEL = 0.18  # net displacement (fraction of the frame) that counts as moving
BOUNCE_STEP = 0.06  # a vertical reversal counts once the object has come back this far
MIN_GROWTH = 1.4  # size ratio, end over start (the procedural grow doubles it)
FALL_START = 0.35  # a fall starts at most this fast, relative to how fast it ends
# (frames apart, most error left by the best turn relative to no turn) for the turning test, in order of use
TURN_GAPS = ((2, 0.9), (3, 0.9), (1, 0.85))


def vertical_reversals(y: np.ndarray) -> int:
    """How many times ``y`` turns back by more than ``BOUNCE_STEP`` (a zigzag filter: noise does not count)."""
    reversals, direction = 0, 0
    low = high = extreme = float(y[0])
    for value in map(float, y[1:]):
        if direction == 0:
            low, high = min(low, value), max(high, value)
            if high - low >= BOUNCE_STEP:
                direction, extreme = (1 if value == high else -1), value
        elif direction * (value - extreme) > 0:
            extreme = value
        elif abs(value - extreme) >= BOUNCE_STEP:
            reversals, direction, extreme = reversals + 1, -direction, value
    return reversals


def turning(track: ObjectTrack, frames: np.ndarray, background: Background) -> bool:
    """Whether frames two apart differ mostly by a turn about the centroid. Appearance, not just the mask
    (a ball shows its turning only by its spot), and only the pixels of the object's colour: a raindrop
    crossing the object would look like a change too. Two frames apart the turn is twice as plain as
    between neighbours; a blinking object is compared three frames apart, across its hidden frames."""
    polars: dict[int, np.ndarray] = {}

    def sample(f: int) -> np.ndarray:
        if f not in polars:
            smooth = cv2.GaussianBlur(frames[f], (0, 0), 1.0)
            weight = color_alpha(smooth, background.image, track.color) * track.region[f]
            look = (frames[f] - background.image) * weight[..., None]
            h, w = look.shape[:2]
            polars[f] = polar(look, track.x[f] * w, track.y[f] * h, track.area[f] * h * w)
        return polars[f]

    present = track.present
    for gap, limit in TURN_GAPS:
        pairs = np.flatnonzero(present[:-gap] & present[gap:])
        if len(pairs) >= 3 or (gap == TURN_GAPS[-1][0] and len(pairs)):
            gains = [turn_between(sample(f), sample(f + gap))[1] for f in pairs]
            return float(np.median(gains)) <= limit
    return False


def classify_motion(track: ObjectTrack, frames: np.ndarray, background: Background) -> str | None:
    """One of ``scenes.MOTIONS``, or None when the object stays put without turning or growing."""
    present = np.flatnonzero(track.present)
    if len(present) < 3:
        return None
    t = present / max(len(track.present) - 1, 1)
    x, y, area = track.x[present], track.y[present], track.area[present]
    dx, dy = np.polyfit(t, x, 1)[0], np.polyfit(t, y, 1)[0]
    k = max(2, len(present) // 4)
    growth = np.sqrt(np.median(area[-k:]) / max(np.median(area[:k]), 1e-9))
    if vertical_reversals(y) >= 2 and np.ptp(y) >= 0.12 and abs(dx) < MIN_TRAVEL:
        return "bounce"
    if growth >= MIN_GROWTH and np.hypot(dx, dy) < MIN_TRAVEL:
        return "grow"
    if np.hypot(dx, dy) >= MIN_TRAVEL:
        if abs(dx) > abs(dy):
            return "right" if dx > 0 else "left"
        if dy < 0:
            return "up"
        c2, c1, _ = np.polyfit(t, y, 2)
        start, end = c1, c1 + 2 * c2  # speeds at the first and the last frame
        return "fall" if start < FALL_START * end else "down"
    return "rotate" if turning(track, frames, background) else None
