"""Clips that deliberately contradict their scene, to measure how often the judge says "wrong".

``wrong_scene`` changes one attribute to another valid value; ``inconsistent_clip`` breaks temporal
consistency (the object vanishes for a stretch, or jumps half a frame sideways half-way through).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from models.kinora_dit.raster import FrameSize
from models.kinora_dit.scenes import BACKGROUNDS, COLORS, EFFECTS, MOTIONS, SHAPES, SIZES, Scene, compatible, render

VOCABULARIES = {"color": COLORS, "shape": SHAPES, "size": SIZES, "motion": MOTIONS, "background": BACKGROUNDS,
                "effect": EFFECTS}


def wrong_scene(scene: Scene, key: str, rng: np.random.Generator) -> Scene:
    """``scene`` with attribute ``key`` changed to a different value that still makes a valid scene (the
    colour stays unambiguous on the background, snow never falls on white)."""
    current = getattr(scene, key)
    options = []
    for value in VOCABULARIES[key]:
        candidate = dataclasses.replace(scene, **{key: value})
        if value != current and compatible(candidate.color, candidate.background, candidate.effect):
            options.append(candidate)
    return options[rng.integers(len(options))]


def inconsistent_clip(scene: Scene, rng: np.random.Generator, frames: int = 16, size: FrameSize = 32) -> np.ndarray:
    """A clip of ``scene`` whose object vanishes for six frames in a row, or jumps sideways by half the
    frame from the middle on (the background is a vertical gradient, so only the object visibly moves)."""
    if rng.random() < 0.5:
        visible = np.ones(frames, np.float32)
        start = int(rng.integers(2, frames - 7))
        visible[start:start + 6] = 0.0
        return render(scene, frames=frames, size=size, visible=visible)
    clip = render(scene, frames=frames, size=size)
    clip[frames // 2:] = np.roll(clip[frames // 2:], clip.shape[2] // 2, axis=2)
    return clip
