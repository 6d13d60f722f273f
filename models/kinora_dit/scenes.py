"""Procedural captioned clips for training and judging the small text-to-video model.

A ``Scene`` names one object (shape, colour, size), what it does (motion), what is behind it (background)
and an optional effect; ``render`` turns it into frames, the same bytes every time for the same scene. The
vocabularies below are shared by training, captions and the judge: their order is part of the contract,
because ``HELD_OUT`` is defined on the positions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from models.kinora_dit.effects import blink_mask, particle_layer, particle_look
from models.kinora_dit.motion import object_path
from models.kinora_dit.raster import FrameSize, coverage, frame_scale, frame_size
from models.kinora_dit.sprites import SPRITES, place

SHAPES = ("ball", "square", "triangle", "star", "car", "sun")
COLORS = ("red", "green", "blue", "yellow", "orange", "purple", "white", "pink")
SIZES = ("small", "medium", "large")
MOTIONS = ("left", "right", "up", "down", "bounce", "rotate", "grow", "fall")
BACKGROUNDS = ("black", "white", "gray", "blue", "green", "brown", "day sky", "night sky")
EFFECTS = ("none", "rain", "snow", "blink")

# Object colours: every pair at least ~100 apart in RGB so blur and noise do not turn one into another.
COLOR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (225, 30, 40), "green": (40, 205, 60), "blue": (40, 95, 255), "yellow": (245, 225, 50),
    "orange": (255, 125, 0), "purple": (145, 50, 210), "white": (245, 245, 245), "pink": (255, 120, 195),
}
# Backgrounds as (top, bottom) of a vertical gradient. "blue" and "green" are dark so that a blue or green
# object still stands out on them; the skies differ from the flat colours by their gradient.
BACKGROUND_RGB: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "black": ((12, 12, 14), (30, 30, 34)), "white": ((242, 242, 242), (215, 215, 222)),
    "gray": ((128, 128, 132), (98, 98, 104)), "blue": ((28, 48, 145), (15, 28, 95)),
    "green": ((22, 95, 42), (12, 62, 28)), "brown": ((122, 82, 48), (88, 58, 34)),
    "day sky": ((85, 155, 235), (185, 215, 248)), "night sky": ((8, 10, 45), (40, 55, 120)),
}
SIZE_DIAMETER = {"small": 0.24, "medium": 0.33, "large": 0.44}  # nominal diameter, fraction of frame_scale
MIN_CONTRAST = 85.0  # smallest RGB distance between an object colour and any part of its background
SHADE = 0.45  # brightness of the darker parts (the ball's spot, the car's hubcaps)
LIGHT_BACKGROUNDS = ("white", "day sky")  # rain is drawn dark on these, light elsewhere; snow never falls on white

# Held out from training: the (colour, shape, motion) triples whose positions satisfy c + 3s + 5m = 0 (mod 8).
# 48 of 384 triples (12.5 %). For any colour and shape exactly one motion is held out, and for any shape and
# motion exactly one colour, so every value and every pair of values still appears in training.
HELD_OUT: frozenset[tuple[str, str, str]] = frozenset(
    (c, s, m) for (ci, c), (si, s), (mi, m) in itertools.product(enumerate(COLORS), enumerate(SHAPES),
                                                               enumerate(MOTIONS))
    if (ci + 3 * si + 5 * mi) % 8 == 0
)
TRAIN_TRIPLES = tuple(t for t in itertools.product(COLORS, SHAPES, MOTIONS) if t not in HELD_OUT)
HELD_OUT_TRIPLES = tuple(sorted(HELD_OUT))
SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class Scene:
    shape: str
    color: str
    size: str
    motion: str
    background: str
    effect: str = "none"
    seed: int = 0  # start position, speed, tilt, colour jitter, stars and particles

    def __post_init__(self) -> None:
        for name, vocab in (("shape", SHAPES), ("color", COLORS), ("size", SIZES), ("motion", MOTIONS),
                            ("background", BACKGROUNDS), ("effect", EFFECTS)):
            if getattr(self, name) not in vocab:
                raise ValueError(f"{name} must be one of {vocab}, got {getattr(self, name)!r}")

    def attributes(self) -> dict[str, str]:
        return {"shape": self.shape, "color": self.color, "size": self.size, "motion": self.motion,
                "background": self.background, "effect": self.effect}


def compatible(color: str, background: str, effect: str = "none") -> bool:
    """Whether the object's colour is unambiguous on this background (and snow is visible on it)."""
    rgb = np.array(COLOR_RGB[color], float)
    contrast = min(np.linalg.norm(rgb - np.array(end, float)) for end in BACKGROUND_RGB[background])
    return contrast >= MIN_CONTRAST and not (effect == "snow" and background == "white")


def sample_scene(rng: np.random.Generator, split: str = "train") -> Scene:
    """A random scene; ``split="train"`` never yields a ``HELD_OUT`` triple, ``"heldout"`` yields only those."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    triples = TRAIN_TRIPLES if split == "train" else HELD_OUT_TRIPLES
    color, shape, motion = triples[rng.integers(len(triples))]
    effect = EFFECTS[rng.choice(len(EFFECTS), p=[0.4, 0.2, 0.2, 0.2])]
    backgrounds = [b for b in BACKGROUNDS if compatible(color, b, effect)]
    return Scene(shape=shape, color=color, size=SIZES[rng.integers(len(SIZES))], motion=motion,
                 background=backgrounds[rng.integers(len(backgrounds))], effect=effect,
                 seed=int(rng.integers(2**31)))


def _background(scene: Scene, rng: np.random.Generator, size: FrameSize) -> np.ndarray:
    width, height = frame_size(size)
    top, bottom = (np.array(c, np.float32) for c in BACKGROUND_RGB[scene.background])
    gain = np.float32(rng.uniform(0.94, 1.06))
    offset = rng.uniform(-5.0, 5.0, size=3).astype(np.float32)
    ramp = ((np.arange(height, dtype=np.float32) + 0.5) / height)[:, None, None]
    image = np.broadcast_to(top + ramp * (bottom - top), (height, width, 3)) * gain + offset
    image = np.array(image, np.float32)
    if scene.background == "night sky":  # static stars, about one per 70 pixels
        count = max(3, width * height // 70)
        ys, xs = rng.integers(0, height, count), rng.integers(0, width, count)
        image[ys, xs] = rng.uniform(150.0, 255.0, size=(count, 1)) * np.array([1.0, 1.0, 0.9], np.float32)
    return image


def render(scene: Scene, frames: int = 16, size: FrameSize = 32, fps: float = 8.0,
           visible: np.ndarray | None = None) -> np.ndarray:
    """(frames, height, width, 3) uint8 RGB; deterministic given the scene (all randomness comes from its
    seed). ``size``: a square's side or (width, height); the object is as many pixels across in any frame of
    the same area (``frame_scale``), and its moves span the same fractions of the width or height.

    ``visible`` ((frames,) in [0, 1], optional) fades the object per frame on top of any blinking: a way
    to make clips where the object goes missing, to test that the judge notices.
    """
    return render_with_alpha(scene, frames, size, fps, visible)[0]


def render_with_alpha(scene: Scene, frames: int = 16, size: FrameSize = 32, fps: float = 8.0,
                      visible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``render``'s clip and how much of each pixel the object covers, (frames, height, width) in [0, 1], in
    every frame, shown or not (blinking, ``visible``): a loss weighted by it then counts a hidden object's
    empty place as much as a shown object, instead of favouring drawing the object in every frame."""
    width, height = frame_size(size)
    scale = frame_scale(size)
    rng = np.random.default_rng(scene.seed)
    radius = SIZE_DIAMETER[scene.size] / 2
    path = object_path(scene.motion, radius, rng, frames, fps, width / height)
    color = np.clip(np.array(COLOR_RGB[scene.color]) + rng.uniform(-10, 10, 3), 0, 255).astype(np.float32)
    color = color[:, None, None, None]
    background = _background(scene, rng, size).transpose(2, 0, 1)[:, None]
    sprite = SPRITES[scene.shape]
    body, shade = [], []
    for f in range(frames):
        centre = (path.x[f] * width, path.y[f] * height)
        r = radius * path.scale[f] * scale
        body.append(place(sprite.body, centre, r, path.angle[f], path.mirror))
        shade.append(place(sprite.shade, centre, r, path.angle[f], path.mirror))
    alpha = coverage(body, size)[None]  # channel-first from here: numpy is slow on a last axis of 3
    footprint = alpha[0]
    dark = np.minimum(coverage(shade, size), footprint)[None] if sprite.shade else None
    shown = blink_mask(rng, frames, fps) if scene.effect == "blink" else np.ones(frames, np.float32)
    if visible is not None:
        shown = shown * np.asarray(visible, np.float32)
    if scene.effect == "blink" or visible is not None:
        alpha = alpha * shown[:, None, None]
        if dark is not None:
            dark = dark * shown[:, None, None]
    out = background + (color - background) * alpha
    if dark is not None:
        out -= color * np.float32(1.0 - SHADE) * dark
    if scene.effect in ("rain", "snow"):
        flakes = particle_layer(scene.effect, rng, frames, size, fps)[None]
        tint, opacity = particle_look(scene.effect, scene.background in LIGHT_BACKGROUNDS)
        out += (tint[:, None, None, None] - out) * (flakes * np.float32(opacity))
    return np.ascontiguousarray(np.clip(out + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 3, 0)), footprint


def render_batch(scenes: list[Scene], frames: int = 16, size: FrameSize = 32, fps: float = 8.0) -> np.ndarray:
    """(N, frames, height, width, 3) uint8: ``render`` for each scene."""
    return np.stack([render(scene, frames, size, fps) for scene in scenes])
