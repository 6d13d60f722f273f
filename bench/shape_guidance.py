"""What shape guidance costs: the shipped model's sampling time with its shape guide and without, side by side.

    OMP_WAIT_POLICY=PASSIVE python bench/shape_guidance.py [--repeat 5] [--size 32]

Each repeat samples the same prompt and seed once with the guide and once without (alternating, so drift in the
machine's speed touches both alike); prints the median seconds of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from models.kinora_dit.pipeline import load_builtin
from models.kinora_dit.raster import frame_size, parse_frame_size

PROMPT = "a yellow star moving right on a blue background"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", type=parse_frame_size, default=32)
    args = parser.parse_args()
    pipe = load_builtin()
    scale = pipe.config.shape_guidance
    width, height = frame_size(args.size)
    seconds: dict[float, list[float]] = {scale: [], 0.0: []}
    for _ in range(args.repeat + 1):  # the first round warms up and is not counted
        for value in seconds:
            pipe.register_to_config(shape_guidance=value)
            start = time.perf_counter()
            pipe(prompt=PROMPT, width=width, height=height, generator=torch.Generator().manual_seed(0))
            seconds[value].append(time.perf_counter() - start)
    guided, plain = (statistics.median(values[1:]) for values in seconds.values())
    print(f"one 16-frame {width}x{height} clip, 20 steps, median of {args.repeat}: with the shape guide "
          f"(scale {scale}) {guided:.3f} s, without {plain:.3f} s, ratio {guided / plain:.2f}")


if __name__ == "__main__":
    main()
