"""Post-processing between the pipeline and the encoder, as separate steps over lazy frame streams:
load the inputs at the native size and rate, retime (frame interpolation), resize (super-resolution),
watermark. Each step takes and yields RGB uint8 frames one by one.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np
from PIL import Image

from kinora.jobs import GenerationRequest
from kinora.media import read_image, read_video_frames
from kinora.storage import Storage
from models.chaining import native_frame_count
from models.registry import ModelSpec, output_frame_count
from worker.chain import Conditioning, FrameWindow
from worker.interpolate import retime_frames
from worker.watermark import Watermark, apply_watermark

log = logging.getLogger(__name__)


def resize_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.LANCZOS))


class Resizer(Protocol):
    name: str

    def resize(self, frame: np.ndarray, width: int, height: int) -> np.ndarray: ...


class LanczosResizer:
    name = "lanczos"

    def resize(self, frame: np.ndarray, width: int, height: int) -> np.ndarray:
        return resize_frame(frame, width, height)


class LearnedResizer:
    """The learned super-resolution model for enlargements; Lanczos when shrinking or keeping the size."""

    def __init__(self, upscaler) -> None:  # type: ignore[no-untyped-def] - models.upscaler.LearnedUpscaler
        self.upscaler, self.name = upscaler, upscaler.name

    def resize(self, frame: np.ndarray, width: int, height: int) -> np.ndarray:
        if width <= frame.shape[1] and height <= frame.shape[0]:
            return resize_frame(frame, width, height)
        return self.upscaler.upscale(frame, width, height)


def open_resizer(kind: str, device: str) -> Resizer:
    """``learned``: the shipped super-resolution model (fail if it does not load); ``lanczos``: Lanczos;
    ``auto``: the learned model on a GPU, Lanczos on a CPU, where the model costs about 10× Lanczos per frame
    (50 ms vs 5 ms to 854x480; over a second to 1080p) for +0.4–0.6 dB (bench/upscale.py)."""
    if kind == "lanczos" or (kind == "auto" and device != "cuda"):
        return LanczosResizer()
    try:
        from models.upscaler import load_upscaler

        return LearnedResizer(load_upscaler(device=device))
    except Exception:
        if kind == "learned":
            raise
        log.warning("learned upscaler unavailable; using Lanczos", exc_info=True)
        return LanczosResizer()


def resized(frames: Iterable[np.ndarray], resizer: Resizer, width: int, height: int) -> Iterator[np.ndarray]:
    for frame in frames:
        yield resizer.resize(frame, width, height)


def watermarked(frames: Iterable[np.ndarray], mark: Watermark) -> Iterator[np.ndarray]:
    for frame in frames:
        yield apply_watermark(frame, mark)


def output_frames(
    frames: Iterable[np.ndarray], source_fps: float, *, width: int, height: int, fps: int, count: int,
    resizer: Resizer, interpolation: str,
) -> Iterator[np.ndarray]:
    """``count`` output frames from a stream at ``source_fps``: retimed to ``fps`` (frame interpolation when the
    rates differ), then resized (super-resolution when enlarging)."""
    method = interpolation if round(source_fps, 3) != fps else "nearest"
    return resized(retime_frames(iter(frames), source_fps, fps, count, method=method), resizer, width, height)


# --- inputs -----------------------------------------------------------------------------------------------


def load_conditioning(req: GenerationRequest, storage: Storage, spec: ModelSpec,
                      size: tuple[int, int]) -> Conditioning:
    """Decode the job's stored inputs at the model's native size and frame rate."""
    width, height = size
    found = Conditioning()
    if req.image is not None:
        found.image = resize_frame(read_image(storage.read_bytes(req.image.uri)), width, height)
    if req.video is not None:
        native = native_clip(storage.read_bytes(req.video.uri), req.video.fps or spec.native_fps,
                             req.video.seconds or 0, spec, size)
        if req.mode == "extend":
            found.lead = list(deque(native, maxlen=spec.overlap_frames))
        elif req.mode == "modify":
            found.source = FrameWindow(native)
    return found


def native_clip(data: bytes, fps: float, seconds: float, spec: ModelSpec,
                size: tuple[int, int]) -> Iterator[np.ndarray]:
    """An input clip resampled (nearest frame) to the native rate and size, lazily."""
    count = native_frame_count(spec, seconds) - 1
    frames = retime_frames(read_video_frames(data), fps, spec.native_fps, count, method="nearest")
    return resized(frames, LanczosResizer(), *size)


def input_intro(req: GenerationRequest, storage: Storage, resizer: Resizer,
                interpolation: str) -> tuple[Iterator[np.ndarray], int]:
    """The input clip as the first output frames of an extension that includes it (else nothing)."""
    video = req.video
    if req.mode != "extend" or not req.include_input or video is None:
        return iter(()), 0
    count = output_frame_count(video.seconds or 0, req.fps)
    frames = output_frames(read_video_frames(storage.read_bytes(video.uri)), video.fps or req.fps, width=req.width,
                           height=req.height, fps=req.fps, count=count, resizer=resizer, interpolation=interpolation)
    return frames, count
