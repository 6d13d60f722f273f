"""Shape and turning from polar samples around the object's centroid.

Sampled on circles around the centroid, with the radius measured in units of the object's own size
(square root of its area), an object looks the same wherever it is and however big it is, and turning it
only shifts the samples along the angle axis. So one circular cross-correlation per pair answers both "which
template fits best at any angle" (shape) and "by how much did it turn since the last frame" (rotate).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from models.kinora_dit.clip_vision import WORK
from models.kinora_dit.raster import coverage
from models.kinora_dit.sprites import SPRITES, place

RADII, ANGLES = 16, 90  # samples per ray, rays per turn (4 degrees apart)
REACH = 1.15  # outermost circle, in units of sqrt(area): past the tips of every sprite
TEMPLATE_BLURS = (1.0, 1.8, 2.6, 3.4)  # working-copy pixels; a template is compared at the blur that fits best
_RADIUS_WEIGHTS = (np.arange(RADII, dtype=np.float32) + 0.5)[:, None, None]  # area element of the circles


def polar(image: np.ndarray, cx: float, cy: float, area: float) -> np.ndarray:
    """(RADII, ANGLES, C) samples of ``image`` ((H, W) or (H, W, C)) around the centroid (cx, cy), pixel
    units with pixel i spanning [i, i+1), out to ``REACH * sqrt(area)`` pixels."""
    reach = REACH * np.sqrt(max(area, 1.0))
    radii = reach * (np.arange(RADII, dtype=np.float32) + 0.5) / RADII
    angles = 2 * np.pi * np.arange(ANGLES, dtype=np.float32) / ANGLES
    map_x = (cx - 0.5 + radii[:, None] * np.cos(angles)[None]).astype(np.float32)
    map_y = (cy - 0.5 + radii[:, None] * np.sin(angles)[None]).astype(np.float32)
    out = cv2.remap(image.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return out.reshape(RADII, ANGLES, -1)


def circular_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(ANGLES,) weighted squared error between ``a`` turned by each step and ``b``, over their energy."""
    spectrum = np.fft.rfft(a, axis=1) * np.conj(np.fft.rfft(b, axis=1))
    cross = (np.fft.irfft(spectrum, n=ANGLES, axis=1) * _RADIUS_WEIGHTS).sum(axis=(0, 2))
    energy = float((_RADIUS_WEIGHTS * (a * a + b * b)).sum())
    return (energy - 2.0 * cross) / max(energy, 1e-6)


def turn_between(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(degrees, gain): the turn that best maps polar samples ``a`` onto ``b``, and its error over the error
    of no turn at all (small: the turn explains a change; near 1: nothing turned)."""
    errors = circular_errors(a, b)
    step = int(np.argmin(errors))
    degrees = (step * 360.0 / ANGLES + 180.0) % 360.0 - 180.0
    return degrees, float(errors[step] / max(errors[0], 1e-6))


@lru_cache(maxsize=1024)
def _template_bank(shape: str, radius_q: int, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Angular spectra and energies of the sprite's polar samples as the judge would see it: drawn at the
    clip's ``resolution`` with a nominal radius of ``radius_q / 4`` working-copy pixels, resized to the
    working copy, blurred by each of ``TEMPLATE_BLURS`` and closed like the observed masks (and mirrored,
    for the car, which faces either way)."""
    scale = resolution / WORK
    method = cv2.INTER_AREA if resolution > WORK else cv2.INTER_LINEAR
    yy, xx = np.mgrid[0:WORK, 0:WORK].astype(np.float32) + 0.5
    kernel = np.ones((3, 3), np.uint8)
    samples = []
    for mirror in ((False, True) if shape == "car" else (False,)):
        centre = (resolution / 2, resolution / 2)
        drawn = coverage([place(SPRITES[shape].body, centre, radius_q / 4.0 * scale, 0.0, mirror)], resolution)[0]
        alpha = cv2.resize(drawn, (WORK, WORK), interpolation=method)
        mass = float(alpha.sum())
        cx, cy = float((alpha * xx).sum() / mass), float((alpha * yy).sum() / mass)
        for blur in TEMPLATE_BLURS:
            closed = cv2.morphologyEx(cv2.GaussianBlur(alpha, (0, 0), blur), cv2.MORPH_CLOSE, kernel)
            samples.append(polar(closed, cx, cy, mass))
    bank = np.stack(samples)
    return np.fft.rfft(bank, axis=2), (_RADIUS_WEIGHTS * bank * bank).sum(axis=(1, 2, 3))


@lru_cache(maxsize=16)
def unit_area(shape: str) -> float:
    """Area of the sprite at nominal radius 1 (a disc would be pi)."""
    radius = 24.0
    alpha = coverage([place(SPRITES[shape].body, (32.0, 32.0), radius, 0.0)], 64)[0]
    return float(alpha.sum()) / radius**2


def shape_errors(alpha: np.ndarray, cx: float, cy: float, resolution: int) -> dict[str, float]:
    """How badly each shape's template fits the soft mask ``alpha`` (lower is better), at its best angle and
    blur; ``resolution`` is the side of the clip the mask was measured on (of a square of its area, for a
    clip that is not square: the working copy has the same pixel scale)."""
    area = float(alpha.sum())
    observed = polar(alpha, cx, cy, area)
    spectrum = np.conj(np.fft.rfft(observed, axis=1))
    energy = float((_RADIUS_WEIGHTS * observed * observed).sum())
    out = {}
    for shape in SPRITES:
        radius_q = max(8, round(4 * np.sqrt(area / unit_area(shape))))
        spectra, energies = _template_bank(shape, radius_q, resolution)
        cross = (np.fft.irfft(spectra * spectrum, n=ANGLES, axis=2) * _RADIUS_WEIGHTS).sum(axis=(1, 3))
        total = energies[:, None] + energy
        out[shape] = float(((total - 2.0 * cross) / np.maximum(total, 1e-6)).min())
    return out
