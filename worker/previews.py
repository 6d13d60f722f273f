"""Still previews of a video, taken from the frames as they stream to the encoder: a thumbnail (one frame)
and a spritesheet (evenly spaced frames in a grid). Only the frames kept are held, the grid ones shrunk."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator

import numpy as np
from PIL import Image

THUMBNAIL_TYPE = "image/webp"
SPRITESHEET_TYPE = "image/jpeg"


class PreviewTap:
    """Pass frames through unchanged while keeping what the previews need."""

    def __init__(self, count: int, tiles: int = 16, tile_width: int = 160) -> None:
        self.count, self.tile_width = count, tile_width
        self.thumbnail_index = count // 3  # a third in: past any fade-in, usually the subject is there
        n = min(tiles, count)
        self.tile_indices = {round(i * (count - 1) / max(1, n - 1)) for i in range(n)}
        self.thumbnail: np.ndarray | None = None
        self.tiles: list[np.ndarray] = []

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for index, frame in enumerate(frames):
            if index == self.thumbnail_index:
                self.thumbnail = frame
            if index in self.tile_indices:
                height = max(1, round(frame.shape[0] * self.tile_width / frame.shape[1]))
                self.tiles.append(np.asarray(Image.fromarray(frame).resize((self.tile_width, height),
                                                                           Image.Resampling.BOX)))
            yield frame

    def thumbnail_bytes(self) -> bytes:
        if self.thumbnail is None:
            raise ValueError("no frame went through")
        buf = io.BytesIO()
        Image.fromarray(self.thumbnail).save(buf, "WEBP", quality=85)
        return buf.getvalue()

    def spritesheet_bytes(self) -> bytes:
        """The kept frames left to right, top to bottom, in a grid as square as possible."""
        if not self.tiles:
            raise ValueError("no frame went through")
        columns = math.ceil(math.sqrt(len(self.tiles)))
        rows = math.ceil(len(self.tiles) / columns)
        h, w = self.tiles[0].shape[:2]
        sheet = np.zeros((rows * h, columns * w, 3), np.uint8)
        for i, tile in enumerate(self.tiles):
            r, c = divmod(i, columns)
            sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = tile
        buf = io.BytesIO()
        Image.fromarray(sheet).save(buf, "JPEG", quality=85)
        return buf.getvalue()
