"""Learned upscaler vs classic resampling: quality on held-out images and CPU time per frame.

    OMP_WAIT_POLICY=PASSIVE python bench/upscale.py [--weights models/weights/kinora-sr.safetensors] [--repeat 5]

Quality: each held-out image (``models.train_upscaler.held_out_images``: four skimage photos and two
procedural images, none trained on) is downsampled ×2 or ×4 with antialiased bicubic, then brought back to its
size by each method; PSNR over RGB and SSIM over luma, a ``scale``-pixel border left out, averaged over the
images. The "x4 +jpeg" column JPEG-compresses the low-res image (quality 85) first, like decoder output.
Needs scikit-image for the photos. Speed: median milliseconds per frame on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from models.train_upscaler import downscale_bicubic, held_out_images, psnr
from models.upscaler import DEFAULT_WEIGHTS, load_upscaler

Upscale = Callable[[np.ndarray, int, int], np.ndarray]


def pil_resize(method: Image.Resampling) -> Upscale:
    return lambda frame, w, h: np.asarray(Image.fromarray(frame).resize((w, h), method))


def ssim_luma(a: np.ndarray, b: np.ndarray, border: int) -> float:
    """SSIM (Wang et al. 2004: 11-pixel Gaussian window, sigma 1.5) on BT.601 luma."""
    def luma(x: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float64)[border:-border, border:-border]

    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    ssim = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(ssim.mean())


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def quality(methods: dict[str, Upscale], images: dict[str, np.ndarray]) -> None:
    cases = {"x2": (2, False), "x4": (4, False), "x4 +jpeg": (4, True)}
    print(f"PSNR dB / SSIM, mean over {len(images)} held-out images: {', '.join(images)}")
    print(f"{'method':10s}" + "".join(f"{case:>18s}" for case in cases))
    for name, upscale in methods.items():
        cells = []
        for scale, compressed in cases.values():
            scores = []
            for image in images.values():
                hr, lr = downscale_bicubic(image, scale)
                lr = jpeg(lr, 85) if compressed else lr
                out = upscale(lr, hr.shape[1], hr.shape[0])
                scores.append((psnr(out, hr, scale), ssim_luma(out, hr, scale)))
            p, s = np.mean(scores, axis=0)
            cells.append(f"{p:6.2f} / {s:.4f}")
        print(f"{name:10s}" + "".join(f"{cell:>18s}" for cell in cells))


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: first-call allocations and oneDNN primitive creation
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def speed(methods: dict[str, Upscale], batch_upscale: Callable, source: np.ndarray, repeat: int) -> None:
    print("\nms per frame (median of", repeat, "runs)")
    print(f"{'method':18s}{'224x128 -> 854x480':>22s}{'384x224 -> 1920x1080':>24s}")
    sizes = (((224, 128), (854, 480)), ((384, 224), (1920, 1080)))
    frames = {src: cv2.resize(source, src, interpolation=cv2.INTER_AREA) for src, _ in sizes}
    for name, upscale in methods.items():
        row = [median_ms(lambda f=upscale, s=src, d=dst: f(frames[s], *d), repeat) for src, dst in sizes]
        print(f"{name:18s}{row[0]:22.1f}{row[1]:24.1f}")
    batch = 8
    row = [median_ms(lambda s=src, d=dst: batch_upscale([frames[s]] * batch, *d), repeat) / batch
           for src, dst in sizes]
    print(f"{f'learned batch {batch}':18s}{row[0]:22.1f}{row[1]:24.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    upscaler = load_upscaler(args.weights)
    methods = {"nearest": pil_resize(Image.Resampling.NEAREST), "bicubic": pil_resize(Image.Resampling.BICUBIC),
               "lanczos": pil_resize(Image.Resampling.LANCZOS), "learned": upscaler.upscale}
    images = held_out_images()
    print(f"upscaler {upscaler.name} from {args.weights}\n")
    quality(methods, images)
    speed({"lanczos": methods["lanczos"], "learned": upscaler.upscale}, upscaler.upscale_batch,
          images["coffee"], args.repeat)


if __name__ == "__main__":
    main()
