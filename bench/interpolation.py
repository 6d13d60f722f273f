"""How close each frame-rate conversion method gets to the true in-between frames, and what it costs.

    python bench/interpolation.py [--width 854] [--height 480] [--seconds 2] [--native-fps 12] [--fps 24 60]
                                  [--repeat 3]

Renders a synthetic scene (a textured square crossing a slowly panning textured background) at the native
rate and, as ground truth, at each target rate; converts the native frames with every method of
`worker.interpolate.retime_frames` and prints the PSNR of the in-between frames against the truth (frames at
whole input positions are exact copies for every method, so they are left out) and the wall time per output
frame, flow estimation included, as the fastest of --repeat runs (a shared machine only ever adds time).
One process, one core budget: the rows are comparable with each other.
"""

from __future__ import annotations

import argparse
import math
import time

import cv2
import numpy as np

from worker.interpolate import METHODS, retime_frames, source_position


class MovingSquareScene:
    """Renders the scene at any instant, sub-pixel positions included, so any frame rate has exact truth."""

    def __init__(self, width: int, height: int, square_px_per_s: float, pan_px_per_s: float) -> None:
        self.width, self.height = width, height
        self.square_velocity = (square_px_per_s, 0.3 * square_px_per_s)
        self.pan_velocity = (pan_px_per_s, 0.5 * pan_px_per_s)
        self.margin = 64
        bg = smooth_texture(height + 2 * self.margin, width + 2 * self.margin, seed=0, sigma=2.0)
        self.background = np.stack([40 + 150 * bg, 40 + 150 * bg, 60 + 150 * bg], -1).astype(np.float32)
        side = max(16, height // 3)
        ramp = np.add.outer(np.arange(side), np.arange(side)) / (2 * side)
        shade = 0.5 * smooth_texture(side, side, seed=1, sigma=3.0) + 0.5 * ramp
        self.square = np.stack([150 + 105 * shade, 10 + 170 * shade, 10 + 30 * shade], -1).astype(np.float32)

    def render(self, time_s: float) -> np.ndarray:
        pan_x = -self.margin + self.pan_velocity[0] * time_s
        pan_y = -self.margin + self.pan_velocity[1] * time_s
        frame = self._translate(self.background, pan_x, pan_y)
        x = 0.1 * self.width + self.square_velocity[0] * time_s
        y = 0.2 * self.height + self.square_velocity[1] * time_s
        coverage = self._translate(np.ones(self.square.shape[:2], np.float32), x, y)[..., None]
        frame = frame * (1 - coverage) + self._translate(self.square, x, y) * coverage
        return np.clip(frame + 0.5, 0, 255).astype(np.uint8)

    def _translate(self, image: np.ndarray, dx: float, dy: float) -> np.ndarray:
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        return cv2.warpAffine(image, shift, (self.width, self.height), flags=cv2.INTER_LINEAR)


def smooth_texture(height: int, width: int, seed: int, sigma: float) -> np.ndarray:
    noise = cv2.GaussianBlur(np.random.default_rng(seed).random((height, width)).astype(np.float32), (0, 0), sigma)
    return (noise - noise.min()) / (noise.max() - noise.min())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255**2 / max(mse, 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the native clip")
    parser.add_argument("--native-fps", type=float, default=12)
    parser.add_argument("--fps", type=float, nargs="+", default=[24, 60])
    parser.add_argument("--square-speed", type=float, default=24, help="px per native frame")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    scene = MovingSquareScene(args.width, args.height, args.square_speed * args.native_fps,
                              pan_px_per_s=-args.width / 200 * args.native_fps)
    n_native = int(args.seconds * args.native_fps) + 1
    native = [scene.render(i / args.native_fps) for i in range(n_native)]
    print(f"{n_native} native frames at {args.native_fps:g} fps, {args.width}x{args.height}; square moves "
          f"{args.square_speed:g} px per native frame over a background panning {args.width / 200:g} px")
    print(f"{'fps':>5} {'method':<8} {'outputs':>7} {'in-between':>10} {'PSNR mean':>10} {'PSNR min':>9} "
          f"{'ms/frame':>9}")
    for fps in args.fps:
        count = math.floor((n_native - 1) * fps / args.native_fps) + 1
        truth = [scene.render(k / fps) for k in range(count)]
        between = [k for k in range(count) if not source_position(k, args.native_fps, fps).is_integer()]
        for method in METHODS:
            seconds = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                out = list(retime_frames(iter(native), args.native_fps, fps, count, method=method))
                seconds.append(time.perf_counter() - start)
            ms_per_frame = min(seconds) * 1000 / count
            scores = [psnr(out[k], truth[k]) for k in between]
            print(f"{fps:>5g} {method:<8} {count:>7} {len(between):>10} {np.mean(scores):>10.2f} "
                  f"{min(scores):>9.2f} {ms_per_frame:>9.1f}")


if __name__ == "__main__":
    main()
