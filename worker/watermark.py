"""The visible watermark: a label in a corner of every frame, rendered once per video size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BOX_ALPHA = 0.6  # the dark box behind the text keeps it legible on any background


@dataclass(frozen=True)
class Watermark:
    x: int
    y: int
    rgb: np.ndarray  # (h, w, 3) float32
    alpha: np.ndarray  # (h, w, 1) float32 in [0, 1]
    text_mask: np.ndarray  # (h, w) bool: pixels (almost) fully covered by the text glyphs

    @property
    def box(self) -> tuple[int, int, int, int]:
        h, w = self.alpha.shape[:2]
        return self.x, self.y, self.x + w, self.y + h


def render_watermark(width: int, height: int, text: str, position: str) -> Watermark:
    font_px = max(10, round(min(width, height) * 0.045))
    margin, pad = max(4, font_px // 2), max(3, font_px // 3)
    font = ImageFont.load_default(size=font_px)
    left, top, right, bottom = font.getbbox(text)
    box_w = min(width, right - left + 2 * pad)
    box_h = min(height, bottom - top + 2 * pad)

    text_layer = Image.new("L", (box_w, box_h), 0)
    ImageDraw.Draw(text_layer).text((pad - left, pad - top), text, fill=255, font=font)
    text_a = np.asarray(text_layer, dtype=np.float32)[..., None] / 255.0

    # Composite: white text at full opacity over a black box at BOX_ALPHA.
    alpha = BOX_ALPHA + (1.0 - BOX_ALPHA) * text_a
    rgb = np.repeat(text_a / np.maximum(alpha, 1e-6), 3, axis=2) * 255.0

    vertical, horizontal = position.split("-")
    x = margin if horizontal == "left" else width - box_w - margin
    y = margin if vertical == "top" else height - box_h - margin
    return Watermark(x=max(0, x), y=max(0, y), rgb=rgb.astype(np.float32), alpha=alpha.astype(np.float32),
                     text_mask=text_a[..., 0] > 0.9)


def apply_watermark(frame: np.ndarray, mark: Watermark) -> np.ndarray:
    """Blend the mark into a copy of an (H, W, 3) uint8 frame."""
    out = frame.copy()
    x0, y0, x1, y1 = mark.box
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = (region * (1.0 - mark.alpha) + mark.rgb * mark.alpha).round().astype(np.uint8)
    return out
