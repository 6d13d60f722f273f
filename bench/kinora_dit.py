"""How well Kinora's own model follows prompts, judged automatically, on held-out and training prompts.

    OMP_WAIT_POLICY=PASSIVE python bench/kinora_dit.py [--weights models/weights/kinora-dit.safetensors] \\
        [--prompts 96] [--steps 20] [--guidance 3] [--sigma-max 1.0] [--shift 3]

Prompts are captions (English and French alternating) of random scenes: held out (colour × shape × motion
triples never seen in training) and from the training split, side by side. Each is sampled once and judged
by ``models/kinora_dit/checker.py`` on every attribute the prompt states; also the time to sample one clip.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.prompt_checker import KEYS, EvalReport, evaluate  # noqa: E402
from models.kinora_dit.captions import caption  # noqa: E402
from models.kinora_dit.pipeline import SAMPLING_SIGMA_MAX, WEIGHTS, load_pipeline  # noqa: E402
from models.kinora_dit.scenes import sample_scene  # noqa: E402


def prompts(split: str, count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [caption(sample_scene(rng, split), rng, "en" if i % 2 == 0 else "fr") for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--prompts", type=int, default=96)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--sigma-max", type=float, default=SAMPLING_SIGMA_MAX, help="noise level sampling starts at")
    parser.add_argument("--shift", type=float, help="the sampler's schedule shift (default: the training's)")
    args = parser.parse_args()
    pipe = load_pipeline(args.weights)
    pipe.register_to_config(sigma_max=args.sigma_max)
    if args.shift is not None:
        pipe.scheduler = FlowMatchEulerDiscreteScheduler(shift=args.shift)

    def generate(prompt: str, seed: int) -> np.ndarray:
        out = pipe(prompt=prompt, num_inference_steps=args.steps, guidance_scale=args.guidance,
                   generator=torch.Generator().manual_seed(seed))
        return (out.frames[0] * 255).round().astype(np.uint8)

    start = time.perf_counter()
    generate("a red ball bouncing on a blue background", 0)
    sample_s = time.perf_counter() - start
    reports: dict[str, EvalReport] = {split: evaluate(generate, prompts(split, args.prompts, args.seed), args.seed)
                                      for split in ("heldout", "train")}
    print(f"{args.weights.name}: {args.prompts} prompts per split, {args.steps} steps, guidance {args.guidance}, "
          f"sigma_max {args.sigma_max}, shift {pipe.scheduler.config.shift}; "
          f"one 16-frame 32x32 clip in {sample_s:.2f} s")
    print(f"{'attribute':<14}{'held out':>16}{'train':>16}")
    for key in KEYS:
        cells = []
        for split in ("heldout", "train"):
            rate, n = reports[split].rate(key), reports[split].count(key)
            cells.append(f"{rate:6.1%} ({n:3d})" if rate is not None else "—")
        print(f"{key:<14}{cells[0]:>16}{cells[1]:>16}")
    print(f"{'all stated':<14}{reports['heldout'].fully_right():>16.1%}{reports['train'].fully_right():>16.1%}")


if __name__ == "__main__":
    main()
