"""What the guides and candidates cost: the shipped model's sampling time as shipped (guides, ``CANDIDATES`` clips
for a prompt naming a shape), with one candidate, and without guides or candidates, side by side.

    OMP_WAIT_POLICY=PASSIVE python bench/shape_guidance.py [--repeat 5] [--size 32] [--prompt "..."] [--candidates 5]

Each repeat samples the same prompt and seed once per setting (alternating, so drift in the machine's speed
touches all alike); prints the median seconds of each and their ratios to the plain sampler's. ``--candidates N``
adds the shipped guides with N candidates.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from models.kinora_dit.pipeline import GUIDES, load_builtin
from models.kinora_dit.raster import frame_size, parse_frame_size

PROMPT = "a yellow star moving right on a blue background"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", type=parse_frame_size, default=32)
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--candidates", type=int, help="also time the shipped guides with this many candidates")
    args = parser.parse_args()
    pipe = load_builtin()
    scales = {f"{kind}_guidance": pipe.config[f"{kind}_guidance"] for kind in GUIDES}
    shipped = scales | {"candidates": pipe.config.candidates}
    settings = {
        f"shipped ({shipped['candidates']} candidates)": shipped,
        "one candidate": shipped | {"candidates": 1},
        "plain (no guide, one candidate)": dict.fromkeys(scales, 0.0) | {"candidates": 1},
    }
    if args.candidates:
        settings[f"{args.candidates} candidates"] = shipped | {"candidates": args.candidates}
    width, height = frame_size(args.size)
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(args.repeat + 1):  # the first round warms up and is not counted
        for name, config in settings.items():
            pipe.register_to_config(**config)
            start = time.perf_counter()
            pipe(prompt=args.prompt, width=width, height=height, generator=torch.Generator().manual_seed(0))
            seconds[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values[1:]) for name, values in seconds.items()}
    plain = medians["plain (no guide, one candidate)"]
    print(f"{args.prompt!r}: one 16-frame {width}x{height} clip, 20 steps, median of {args.repeat}:")
    for name, value in medians.items():
        print(f"  {name:<34}{value:7.3f} s  ratio {value / plain:.2f}")


if __name__ == "__main__":
    main()
