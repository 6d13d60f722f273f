import numpy as np
import pytest

from worker.watermark import apply_watermark, render_watermark


@pytest.mark.parametrize("position", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_the_mark_sits_in_its_corner(position):
    mark = render_watermark(854, 480, "AI-generated", position)
    x0, y0, x1, y1 = mark.box
    assert 0 <= x0 < x1 <= 854 and 0 <= y0 < y1 <= 480
    assert (x0 < 427) == position.endswith("left")
    assert (y0 < 240) == position.startswith("top")
    assert mark.text_mask.sum() > 50


def test_text_is_white_and_the_box_darkens_the_frame():
    frame = np.full((480, 854, 3), 200, np.uint8)
    mark = render_watermark(854, 480, "AI-generated", "bottom-right")
    out = apply_watermark(frame, mark)
    x0, y0, x1, y1 = mark.box
    region = out[y0:y1, x0:x1]
    assert (region[mark.text_mask] >= 230).all()
    assert (region[mark.alpha[..., 0] < 0.601] == 80).all()  # 200 · (1 − 0.6)
    outside = out.copy()
    outside[y0:y1, x0:x1] = 200
    assert (outside == 200).all() and (frame == 200).all()  # input untouched, nothing drawn elsewhere


def test_the_label_scales_with_the_frame_and_fits_tiny_frames():
    small = render_watermark(64, 64, "AI-generated", "top-left")
    large = render_watermark(1920, 1080, "AI-generated", "top-left")
    assert small.alpha.shape[0] <= 64 and small.alpha.shape[1] <= 64
    assert large.alpha.shape[0] > 3 * small.alpha.shape[0]
