"""The shipped learned upscaler: exact output sizes, determinism, and better than Lanczos on held-out images."""

from __future__ import annotations

import numpy as np
import pytest

from models.train_upscaler import HELD_OUT_SEEDS, downscale_bicubic, procedural_image, psnr
from models.upscaler import DEFAULT_WEIGHTS, LearnedUpscaler, lanczos_resize, load_upscaler, plan_passes

# Learned-minus-Lanczos PSNR on the held-out procedural images (seeds 1000-1003, never trained on), measured with
# the shipped weights: ×2 gains +1.52 +0.16 +0.01 +0.34 dB (mean 0.51), ×4 +1.11 +0.09 -0.00 +0.03 (mean 0.30).
# Inference is deterministic, so these only move with the weights or the inference code. The mean must keep
# half its measured gain, so a net no better than Lanczos (broken weights, a bicubic-only path) fails while a
# retrain with the same recipe passes. No single image may lose more than 0.05 dB: on a picture of flat areas
# and an aliased grating (seed 1002) the honest result is a tie, not a win.
MIN_MEAN_GAIN_DB = {2: 0.25, 4: 0.15}
MAX_LOSS_DB = 0.05


@pytest.fixture(scope="module")
def upscaler() -> LearnedUpscaler:
    return load_upscaler()


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return procedural_image(HELD_OUT_SEEDS[0], size=96)[:72]  # 96 wide, 72 high: not square, not a power of 2


def test_shipped_weights_are_small_and_named(upscaler: LearnedUpscaler) -> None:
    assert DEFAULT_WEIGHTS.stat().st_size < 1_000_000
    assert upscaler.name.startswith("kinora-sr")
    assert sum(p.numel() for net in upscaler.nets.values() for p in net.parameters()) < 100_000


@pytest.mark.parametrize(("width", "height"), [
    (192, 144),  # exactly ×2
    (384, 288),  # exactly ×4
    (853, 479),  # odd ratio past ×8: ×2 then ×4, then Lanczos down
    (97, 73),  # just above the input: one ×2 pass, then Lanczos down
    (200, 50),  # wider but shorter
    (96, 72),  # same size
    (31, 17),  # downscale
])
def test_output_size_is_exact(upscaler: LearnedUpscaler, frame: np.ndarray, width: int, height: int) -> None:
    out = upscaler.upscale(frame, width, height)
    assert out.shape == (height, width, 3)
    assert out.dtype == np.uint8


def test_not_larger_target_is_plain_lanczos(upscaler: LearnedUpscaler, frame: np.ndarray) -> None:
    assert np.array_equal(upscaler.upscale(frame, 96, 72), frame)
    assert np.array_equal(upscaler.upscale(frame, 50, 40), lanczos_resize(frame, 50, 40))


def test_plan_passes_reaches_the_target_cheaply() -> None:
    assert plan_passes(224, 128, 224, 128) == []
    assert plan_passes(224, 128, 448, 256) == [2]
    assert plan_passes(224, 128, 854, 480) == [4]
    assert plan_passes(384, 224, 1920, 1080) == [2, 4]  # ×2 first: the costlier ×4 pass then sees less
    assert plan_passes(100, 100, 1600, 1600) == [4, 4]


def test_output_is_deterministic_and_batch_matches_single(upscaler: LearnedUpscaler, frame: np.ndarray) -> None:
    first = upscaler.upscale(frame, 300, 200)
    assert np.array_equal(first, upscaler.upscale(frame, 300, 200))
    batch = upscaler.upscale_batch([frame, frame[::-1].copy()], 300, 200)
    assert len(batch) == 2
    # A batched convolution may sum in another order; rounding to uint8 then moves a pixel by at most one.
    assert np.abs(batch[0].astype(int) - first.astype(int)).max() <= 1


def test_bad_input_is_refused(upscaler: LearnedUpscaler, frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match="one size"):
        upscaler.upscale_batch([frame, frame[:50]], 200, 150)
    with pytest.raises(ValueError, match="RGB uint8"):
        upscaler.upscale(frame.astype(np.float32), 200, 150)
    with pytest.raises(ValueError, match="positive"):
        upscaler.upscale(frame, 0, 150)


@pytest.fixture(scope="module")
def held_out() -> list[np.ndarray]:
    return [procedural_image(seed) for seed in HELD_OUT_SEEDS]


@pytest.mark.parametrize("scale", [2, 4])
def test_learned_beats_lanczos_on_held_out_images(upscaler: LearnedUpscaler, held_out: list[np.ndarray],
                                                   scale: int) -> None:
    gains = []
    for image in held_out:
        hr, lr = downscale_bicubic(image, scale)
        h, w = hr.shape[:2]
        gains.append(psnr(upscaler.upscale(lr, w, h), hr, scale) - psnr(lanczos_resize(lr, w, h), hr, scale))
    assert np.mean(gains) >= MIN_MEAN_GAIN_DB[scale], gains
    assert min(gains) >= -MAX_LOSS_DB, gains


@pytest.mark.parametrize("name", ["camera", "coffee"])
def test_learned_beats_lanczos_on_held_out_photo(upscaler: LearnedUpscaler, name: str) -> None:
    pytest.importorskip("skimage", reason="the held-out photos ship with scikit-image, a training-only package")
    from models.train_upscaler import load_photo

    hr, lr = downscale_bicubic(load_photo(name), 4)
    h, w = hr.shape[:2]
    assert psnr(upscaler.upscale(lr, w, h), hr, 4) > psnr(lanczos_resize(lr, w, h), hr, 4)
