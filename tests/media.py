"""Reading MP4 files back for assertions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


@dataclass
class DecodedVideo:
    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    frames: list[np.ndarray]
    metadata: dict[str, str]
    faststart: bool


def decode_mp4(path: Path) -> DecodedVideo:
    data = path.read_bytes()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return DecodedVideo(
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=float(stream.average_rate),
            frames=frames,
            metadata=dict(container.metadata),
            faststart=0 <= data.find(b"moov") < data.find(b"mdat"),
        )


def _shrink(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Binary erosion with a cross, edges counted as outside."""
    m = mask.copy()
    for _ in range(pixels):
        p = np.pad(m, 1, constant_values=False)
        m = m & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m


def watermark_visible(frame: np.ndarray, width: int, height: int, text: str, position: str) -> bool:
    """The label's glyph cores are bright and the box around them is darkened, as rendered.

    Compares against the mark rendered for the same size, away from edges blurred by compression.
    """
    from worker.watermark import render_watermark

    mark = render_watermark(width, height, text, position)
    x0, y0, x1, y1 = mark.box
    region = frame[y0:y1, x0:x1].astype(np.float32).mean(axis=2)
    glyph = _shrink(mark.text_mask, 1) if min(width, height) >= 360 else mark.text_mask
    background = _shrink(mark.alpha[..., 0] < 0.601, 1)
    return bool(region[glyph].mean() > 170 and region[background].mean() < 110)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
