"""Read the effect: blinking from when the object is seen, rain or snow from what moves behind it.

Particles are pixels, away from the object, that differ both from the clip's temporal median (so they are
no stars) and from the fitted background plane (so they are no ghost of a slow object in that median). Rain
and snow differ in two ways that survive blur: a raindrop is a streak, so the particles' edges run mostly
up and down (horizontal gradients dominate); and a raindrop crosses many pixels between two frames, so the
particle masks of consecutive frames barely overlap, while snowflakes drift a pixel or two.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.kinora_dit.clip_vision import Background, ObjectTrack

PARTICLE_THRESHOLD = 20.0  # colour distance from the median and from the plane that marks a particle pixel
MIN_ACTIVITY = 0.01  # share of the frame covered by particles, below which there is no rain or snow
RAIN_SCORE = 0.35  # log(streakiness) + 2 * (0.4 - overlap) above this: rain
MAX_BLINK_RUN = 4  # frames: a blinking object is never hidden (or shown) longer than this
_AWAY = np.ones((7, 7), np.uint8)


def blink_like(present: np.ndarray) -> bool:
    """Shown and hidden in short regular runs, about half the time."""
    if not 0.25 <= present.mean() <= 0.75:
        return False
    changes = np.flatnonzero(np.diff(present.astype(int))) + 1
    runs = np.diff(np.concatenate([[0], changes, [len(present)]]))
    return len(changes) >= 4 and int(runs[1:-1].max(initial=0)) <= MAX_BLINK_RUN


def particle_effect(frames: np.ndarray, background: Background, track: ObjectTrack) -> str:
    """"rain", "snow" or "none"."""
    smooth = np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in frames])
    still = np.median(smooth, axis=0)
    away = np.stack([cv2.dilate(r.astype(np.uint8), _AWAY) == 0 for r in track.region])
    change = smooth - still
    particles = ((np.linalg.norm(change, axis=-1) > PARTICLE_THRESHOLD)
                 & (np.linalg.norm(smooth - background.image, axis=-1) > PARTICLE_THRESHOLD) & away)
    if particles.sum() < MIN_ACTIVITY * max(away.sum(), 1):
        return "none"
    overlap = (particles[:-1] & particles[1:]).sum() / max(particles[:-1].sum(), 1)
    near = np.stack([cv2.dilate(p.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0 for p in particles]) & away
    luma = change.mean(axis=-1)
    across = sum(float((cv2.Sobel(c, cv2.CV_32F, 1, 0) ** 2)[m].sum()) for c, m in zip(luma, near, strict=True))
    along = sum(float((cv2.Sobel(c, cv2.CV_32F, 0, 1) ** 2)[m].sum()) for c, m in zip(luma, near, strict=True))
    streaky = np.log(max(across, 1e-6) / max(along, 1e-6))
    return "rain" if streaky + 2.0 * (0.4 - overlap) > RAIN_SCORE else "snow"
