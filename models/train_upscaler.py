"""Train the ×2 and ×4 nets of ``models/upscaler.py`` and write their safetensors.

    python -m models.train_upscaler [--steps-x2 2500] [--steps-x4 2000] [--out models/weights/kinora-sr.safetensors]

Data, all offline and regenerable: the photographs that ship inside the scikit-image wheel (``skimage.data``
images that need no download; scikit-image is needed only here and by ``bench/upscale.py``), plus procedural
images (gradients, noise textures, gratings, shapes, text) drawn from fixed seeds. Low-resolution inputs are
made by downsampling high-resolution crops with a random kernel, with mild blur, noise and JPEG now and then so
the nets cope with decoder output. ``HELD_OUT_PHOTOS`` and ``HELD_OUT_SEEDS`` are never trained on.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from models.upscaler import DEFAULT_WEIGHTS, SRNet, lanczos_resize, load_upscaler, save_upscaler

TRAIN_PHOTOS = ("astronaut", "hubble_deep_field", "immunohistochemistry", "retina", "stereo_motorcycle",
                "brick", "grass", "gravel", "moon", "page", "text", "cell", "coins", "clock", "colorwheel", "logo")
HELD_OUT_PHOTOS = ("chelsea", "coffee", "camera", "rocket")
TRAIN_SEEDS = range(0, 24)
HELD_OUT_SEEDS = (1000, 1001, 1002, 1003)
LR_PATCH = 40  # low-resolution side of a training crop; the nets' receptive field is 13 pixels
NAME = "kinora-sr-x2x4"


def load_photo(name: str) -> np.ndarray:
    """One ``skimage.data`` image as RGB uint8; only images bundled in the wheel, so no download happens."""
    from skimage import data  # training and bench only: the runtime module must not need scikit-image

    image = getattr(data, name)()
    if name == "stereo_motorcycle":
        image = image[0]  # the right view is nearly the same picture
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 4:  # the logo: flatten its transparency onto white
        alpha = image[:, :, 3:].astype(np.float32) / 255
        image = (image[:, :, :3] * alpha + 255 * (1 - alpha)).round()
    return np.ascontiguousarray(image.astype(np.uint8))


def _fractal_noise(rng: np.random.Generator, size: int, roughness: float) -> np.ndarray:
    """Colour noise summed over octaves, each octave weaker by ``roughness``: clouds to gravel."""
    out = np.zeros((size, size, 3), np.float32)
    for octave in range(1, int(np.log2(size)) - 1):
        cells = 2 ** octave
        layer = rng.normal(size=(cells, cells, 3)).astype(np.float32)
        out += cv2.resize(layer, (size, size), interpolation=cv2.INTER_CUBIC) * roughness ** octave
    out -= out.min()
    return out / max(float(out.max()), 1e-6)


def _grating(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle, freq = rng.uniform(0, np.pi), rng.uniform(0.01, 0.2)  # cycles per (supersampled) pixel
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)))
    colours = rng.uniform(0, 1, size=(2, 3)).astype(np.float32)
    return colours[0] + wave[:, :, None] * (colours[1] - colours[0])


def _gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, 2 * np.pi)
    t = np.clip(xx * np.cos(angle) + yy * np.sin(angle), 0, None)
    t = t / max(float(t.max()), 1e-6)
    colours = rng.uniform(0, 1, size=(2, 3)).astype(np.float32)
    return colours[0] + t[:, :, None] * (colours[1] - colours[0])


def procedural_image(seed: int, size: int = 384) -> np.ndarray:
    """A deterministic synthetic picture: textured shapes on a gradient, lines and text, anti-aliased."""
    rng = np.random.default_rng(seed)
    big = size * 2  # drawn at twice the size and area-downsampled, so edges are anti-aliased like a render
    canvas = _gradient(rng, big) * 0.8 + _fractal_noise(rng, big, rng.uniform(0.3, 0.7)) * 0.2
    fills = (lambda: _fractal_noise(rng, big, rng.uniform(0.5, 1.0)), lambda: _grating(rng, big),
             lambda: _gradient(rng, big), lambda: np.broadcast_to(rng.uniform(0, 1, 3), (big, big, 3)))
    for _ in range(int(rng.integers(4, 10))):
        mask = Image.new("L", (big, big))
        x0, y0 = rng.integers(-big // 4, big, size=2)
        w, h = rng.integers(big // 10, big // 2, size=2)
        box = [int(x0), int(y0), int(x0 + w), int(y0 + h)]
        if rng.random() < 0.5:
            ImageDraw.Draw(mask).ellipse(box, fill=255)
        else:
            points = rng.integers(-big // 8, big + big // 8, size=(int(rng.integers(3, 7)), 2))
            ImageDraw.Draw(mask).polygon([tuple(int(v) for v in p) for p in points], fill=255)
        alpha = np.asarray(mask, np.float32)[:, :, None] / 255
        canvas = canvas * (1 - alpha) + fills[int(rng.integers(len(fills)))]() * alpha
    image = Image.fromarray((np.clip(canvas, 0, 1) * 255).round().astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 10))):
        points = [tuple(int(v) for v in rng.integers(0, big, size=2)) for _ in range(2)]
        draw.line(points, fill=tuple(int(v) for v in rng.integers(0, 256, 3)), width=int(rng.integers(1, 8)))
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    for _ in range(int(rng.integers(1, 5))):
        font = ImageFont.load_default(size=int(rng.integers(14, 70)))
        word = "".join(rng.choice(letters, size=int(rng.integers(3, 12))))
        draw.text(tuple(int(v) for v in rng.integers(0, big * 3 // 4, size=2)), word, font=font,
                  fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return cv2.resize(np.asarray(image), (size, size), interpolation=cv2.INTER_AREA)


def held_out_images() -> dict[str, np.ndarray]:
    images = {name: load_photo(name) for name in HELD_OUT_PHOTOS}
    images.update({f"procedural-{seed}": procedural_image(seed) for seed in HELD_OUT_SEEDS})
    return images


def downscale_bicubic(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation degradation: crop to a multiple of ``scale``, then antialiased bicubic (PIL, like
    MATLAB's imresize). Returns (high-res crop, low-res)."""
    h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
    hr = hr[:h, :w]
    lr = np.asarray(Image.fromarray(hr).resize((w // scale, h // scale), Image.Resampling.BICUBIC))
    return hr, lr


def degrade(hr: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """A random plausible low-resolution version of ``hr``: kernel, blur, noise and JPEG vary per crop."""
    if rng.random() < 0.25:
        hr = cv2.GaussianBlur(hr, (0, 0), rng.uniform(0.3, 0.4 * scale))
    size = (hr.shape[1] // scale, hr.shape[0] // scale)
    kind = int(rng.integers(4))
    if kind == 0:
        lr = cv2.resize(hr, size, interpolation=cv2.INTER_AREA)
    else:
        method = (Image.Resampling.BICUBIC, Image.Resampling.LANCZOS, Image.Resampling.BILINEAR)[kind - 1]
        lr = np.asarray(Image.fromarray(hr).resize(size, method))
    if rng.random() < 0.25:
        lr = np.clip(lr + rng.normal(0, rng.uniform(1, 4), lr.shape), 0, 255).round().astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", lr, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 96))])
        lr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return lr


class CropSampler:
    """Random (low-res, high-res) training pairs from a pyramid of the training images."""

    def __init__(self, photos: list[np.ndarray], synthetic: list[np.ndarray], seed: int) -> None:
        def pyramid(images: list[np.ndarray]) -> list[np.ndarray]:
            # Smaller copies give more content per crop and wash out the JPEG blocks of some photos.
            return [cv2.resize(im, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else im
                    for im in images for f in (1.0, 0.7, 0.5)]

        self.photos, self.synthetic = pyramid(photos), pyramid(synthetic)
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
        patch = LR_PATCH * scale
        lows, highs = [], []
        while len(highs) < size:
            pool = self.photos if self.rng.random() < 0.6 else self.synthetic
            image = pool[int(self.rng.integers(len(pool)))]
            if image.shape[0] < patch or image.shape[1] < patch:
                continue
            y, x = (int(self.rng.integers(image.shape[i] - patch + 1)) for i in (0, 1))
            hr = np.rot90(image[y:y + patch, x:x + patch], int(self.rng.integers(4)))
            hr = np.ascontiguousarray(hr[:, ::-1] if self.rng.random() < 0.5 else hr)
            lows.append(degrade(hr, scale, self.rng))
            highs.append(hr)

        def to_tensor(arrays: list[np.ndarray]) -> torch.Tensor:
            return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255)

        return to_tensor(lows), to_tensor(highs)


def psnr(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255 ** 2 / max(mse, 1e-10))


def train_net(scale: int, steps: int, sampler: CropSampler, batch_size: int, lr: float,
              start_from: SRNet | None = None) -> SRNet:
    net = SRNet(scale)
    if start_from is not None:
        # Both scales need the same low-res features: started from the ×2 body, ×4 matched 3000 steps from
        # scratch in 2000 (measured on the held-out images), which keeps training within 15 minutes here.
        net.body.load_state_dict(start_from.body.state_dict())
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.05)
    start, running = time.perf_counter(), 0.0
    for step in range(1, steps + 1):
        low, high = sampler.batch(batch_size, scale)
        loss = F.l1_loss(net(low), high)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        running += loss.item()
        if step % 100 == 0 or step == steps:
            print(f"x{scale} step {step}/{steps}  L1 {running / (100 if step % 100 == 0 else step % 100):.5f}  "
                  f"{time.perf_counter() - start:.0f}s", flush=True)
            running = 0.0
    return net.eval()


def report_held_out(path: Path) -> None:
    upscaler = load_upscaler(path)
    for scale in (2, 4):
        for name, image in held_out_images().items():
            hr, lr = downscale_bicubic(image, scale)
            h, w = hr.shape[:2]
            base = psnr(lanczos_resize(lr, w, h), hr, scale)
            learned = psnr(upscaler.upscale(lr, w, h), hr, scale)
            print(f"held-out x{scale} {name:18s} lanczos {base:6.2f} dB  learned {learned:6.2f} dB  "
                  f"({learned - base:+.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps-x2", type=int, default=2500)
    parser.add_argument("--steps-x4", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    started = time.perf_counter()
    photos = [load_photo(name) for name in TRAIN_PHOTOS]
    synthetic = [procedural_image(seed) for seed in TRAIN_SEEDS]
    print(f"{len(photos)} photos, {len(synthetic)} procedural images ({time.perf_counter() - started:.0f}s)")
    sampler = CropSampler(photos, synthetic, args.seed)
    x2 = train_net(2, args.steps_x2, sampler, args.batch_size, args.lr)
    nets = {2: x2, 4: train_net(4, args.steps_x4, sampler, args.batch_size, args.lr, start_from=x2)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_upscaler(nets, args.out, NAME)
    params = sum(p.numel() for net in nets.values() for p in net.parameters())
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB, {params} parameters) "
          f"in {time.perf_counter() - started:.0f}s")
    report_held_out(args.out)


if __name__ == "__main__":
    main()
