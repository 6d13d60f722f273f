"""Make a clean clip look like imperfect model output: softer, noisier, with detail lost to resampling."""

from __future__ import annotations

import cv2
import numpy as np

from models.kinora_dit.raster import frame_scale


def degrade(clip: np.ndarray, rng: np.random.Generator, blur: float = 1.0, noise: float = 8.0) -> np.ndarray:
    """A 2x down- and up-sample, then a Gaussian blur of ``blur`` pixels (per 32 pixels of a square frame of
    the same area), then Gaussian noise of standard deviation ``noise`` grey levels; same shape and dtype as
    ``clip``."""
    frames, height, width, _ = clip.shape
    sigma = blur * frame_scale((width, height)) / 32
    out = np.empty(clip.shape, np.float32)
    for f in range(frames):
        small = cv2.resize(clip[f], (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        frame = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        out[f] = cv2.GaussianBlur(frame, (0, 0), sigma) if sigma > 0 else frame
    out += rng.normal(0.0, noise, size=out.shape).astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
