"""H.264 MP4 encoding with PyAV: yuv420p, +faststart, job metadata in the container."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np

CONTENT_TYPE = "video/mp4"


def encode_mp4(
    frames: Iterable[np.ndarray],
    path: Path,
    *,
    fps: int,
    width: int,
    height: int,
    metadata: dict[str, str],
    crf: int = 20,
    preset: str = "veryfast",
) -> int:
    """Encode RGB uint8 frames as they arrive (nothing is held beyond the encoder's own look-ahead)."""
    count = 0
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        container.metadata.update(metadata)
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        for array in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            container.mux(stream.encode(frame))
            count += 1
        container.mux(stream.encode(None))
    return count
