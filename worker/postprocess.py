"""Post-processing between the pipeline and the encoder: retime, resize to the requested size, watermark."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

from models.registry import retime_indices
from worker.watermark import Watermark, apply_watermark


def resize_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.LANCZOS))


def output_frames(
    native: np.ndarray, native_fps: int, *, width: int, height: int, fps: int, count: int, mark: Watermark
) -> Iterator[np.ndarray]:
    """Yield ``count`` output frames one by one, each resized and watermarked."""
    last_index, last_frame = -1, None
    for index in retime_indices(len(native), native_fps, count, fps):
        if index != last_index:
            last_index, last_frame = index, apply_watermark(resize_frame(native[index], width, height), mark)
        yield last_frame
