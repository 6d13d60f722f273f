"""The automatic judge: does a generated clip show what its prompt says?

``read_clip`` measures a clip (background, the object's colour, shape, size and path, particles, blinking)
and names what it sees in the scene vocabularies; ``judge`` compares that with the attributes a prompt
states. Plain numpy/OpenCV vision, meant for small, possibly blurry and noisy clips of one object.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from models.kinora_dit.clip_effects import blink_like, particle_effect
from models.kinora_dit.clip_vision import ObjectTrack, fit_background, track_object, working_copy
from models.kinora_dit.motion_reading import classify_motion
from models.kinora_dit.raster import frame_scale
from models.kinora_dit.scenes import BACKGROUND_RGB, COLOR_RGB, SIZES, Scene, render
from models.kinora_dit.shape_match import shape_errors

CHECKED = ("color", "shape", "size", "motion", "background", "effect")
MAX_STEP = 0.3  # fraction of the frame an object may move between two consecutive frames (a bounce's landing)
# sideways, beyond the clip's steady drift: no vocabulary motion changes horizontal speed (a bounce changes
# vertical speed, by up to 0.4 of the frame per frame); the slack covers a wobbly centroid over hidden frames
MAX_SIDE_JUMP, SIDE_SLACK = 0.12, 0.04
MAX_AREA_RATIO = 2.0  # between two consecutive frames
SHAPE_FRAMES = 6  # frames the shape is judged on


@dataclass(frozen=True)
class ClipReading:
    background: str
    color: str | None  # None: no object found
    shape: str | None
    size: str | None
    motion: str | None  # None also when the object does something outside the vocabulary (stands still)
    effect: str
    consistent: bool
    present_fraction: float


def _nearest(value: np.ndarray, palette: dict[str, np.ndarray]) -> str:
    return min(palette, key=lambda name: float(np.linalg.norm(value - palette[name])))


_COLORS = {name: np.array(rgb, np.float32) for name, rgb in COLOR_RGB.items()}
_BACKGROUNDS = {name: np.concatenate([np.array(top, np.float32), np.array(bottom, np.float32)])
                for name, (top, bottom) in BACKGROUND_RGB.items()}


def _shape(track: ObjectTrack, resolution: int) -> str | None:
    """The shape whose template fits best, by the median over a few frames of each template's error
    relative to the frame's best fit (a frame spoilt by particles sticking to the object counts once)."""
    frames = np.flatnonzero(track.present)
    if len(frames) == 0:
        return None
    chosen = frames[np.linspace(0, len(frames) - 1, min(SHAPE_FRAMES, len(frames))).round().astype(int)]
    h, w = track.alpha.shape[1:]
    errors = [shape_errors(track.alpha[f], track.x[f] * w, track.y[f] * h, resolution) for f in chosen]
    names = list(errors[0])
    table = np.array([[e[name] for name in names] for e in errors])
    relative = table / np.maximum(table.min(axis=1, keepdims=True), 1e-6)
    return names[int(np.argmin(np.median(relative, axis=0)))]


@lru_cache(maxsize=64)
def _reference_log_areas(shape: str, resolution: int) -> tuple[float, ...]:
    """Log of the area this judge measures for ``shape`` at each of ``SIZES``, on clean renders at
    ``resolution``: measuring the reference the same way cancels the measurement's own bias (blurred
    edges, pixel rounding, thin star points), which is largest for small objects."""
    out = []
    for size in SIZES:
        clip = render(Scene(shape=shape, color="white", size=size, motion="rotate", background="black"),
                      frames=4, size=resolution)
        frames = working_copy(clip)
        track = track_object(frames, fit_background(frames))
        out.append(float(np.log(np.median(track.area[track.present]))))
    return tuple(out)


def _typical_log_area(track: ObjectTrack) -> float:
    """The object's log area at mid-clip, robust to growth and to frames where a particle sticks to it:
    a straight line through log area over time (Theil-Sen slope), then a low quantile of what is left."""
    frames = np.flatnonzero(track.present)
    t = frames / max(len(track.present) - 1, 1)
    log_area = np.log(track.area[frames])
    i, j = np.triu_indices(len(frames), k=1)
    slope = float(np.median((log_area[j] - log_area[i]) / (t[j] - t[i]))) if len(frames) > 1 else 0.0
    return float(np.percentile(log_area - slope * (t - 0.5), 30))


def _size(track: ObjectTrack, shape: str | None, resolution: int) -> str | None:
    if shape is None or not track.present.any():
        return None
    measured = _typical_log_area(track)
    references = _reference_log_areas(shape, resolution)
    return SIZES[int(np.argmin([abs(measured - reference) for reference in references]))]


def _median3(values: np.ndarray) -> np.ndarray:
    """Running median over three neighbours (ends kept): one frame spoilt by a raindrop is not a jump."""
    if len(values) < 3:
        return values
    middle = np.median(np.stack([values[:-2], values[1:-1], values[2:]]), axis=0)
    return np.concatenate([values[:1], middle, values[-1:]])


def _consistent(track: ObjectTrack) -> bool:
    """The object is there in most frames (or blinks regularly) and neither jumps nor swells between frames."""
    frames = np.flatnonzero(track.present)
    if len(frames) < 3:
        return False
    if track.present.mean() < 0.8 and not blink_like(track.present):
        return False
    gaps = np.diff(frames)
    x, y, log_area = (_median3(v[frames]) for v in (track.x, track.y, np.log(np.maximum(track.area, 1e-9))))
    steps, swell = np.hypot(np.diff(x), np.diff(y)), np.abs(np.diff(log_area))
    sideways = np.abs(np.diff(x) - np.median(np.diff(x) / gaps) * gaps)  # beyond the clip's steady drift
    return bool(np.all(steps <= MAX_STEP * gaps) and np.all(sideways <= MAX_SIDE_JUMP + SIDE_SLACK * (gaps - 1))
                and np.all(swell <= np.log(MAX_AREA_RATIO) * np.sqrt(gaps)))


def read_clip(clip: np.ndarray) -> ClipReading:
    """What the clip shows, in the scene vocabularies. ``clip``: (F, H, W, 3) uint8, of at least 32×32's area
    (e.g. 40×24). Shape and size are judged against references drawn in a square of the clip's area."""
    frames = working_copy(clip)
    background = fit_background(frames)
    track = track_object(frames, background)
    found = bool(track.present.any())
    resolution = round(frame_scale((clip.shape[2], clip.shape[1])))
    shape = _shape(track, resolution)
    return ClipReading(
        background=_nearest(np.concatenate([background.top, background.bottom]), _BACKGROUNDS),
        color=_nearest(track.color, _COLORS) if found else None,
        shape=shape,
        size=_size(track, shape, resolution),
        motion=classify_motion(track, frames, background) if found else None,
        effect="blink" if blink_like(track.present) else particle_effect(frames, background, track),
        consistent=_consistent(track),
        present_fraction=float(track.present.mean()),
    )


def judge(clip: np.ndarray, attributes: dict[str, str]) -> dict[str, bool]:
    """For each attribute in ``attributes`` the judge can check (color, shape, size, motion, background,
    effect), whether the clip shows it; plus ``consistency``: the object is found in most frames (or blinks
    regularly) and its position and area do not jump between frames. Other keys are ignored."""
    return verdict_of(read_clip(clip), attributes)


def verdict_of(reading: ClipReading, attributes: dict[str, str]) -> dict[str, bool]:
    """``judge`` on a clip already read."""
    verdict = {key: getattr(reading, key) == value for key, value in attributes.items() if key in CHECKED}
    verdict["consistency"] = reading.consistent
    return verdict
