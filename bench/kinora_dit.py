"""How well Kinora's own model follows prompts, judged automatically, on held-out and training prompts.

    OMP_WAIT_POLICY=PASSIVE python bench/kinora_dit.py [--weights models/weights/kinora-dit.safetensors] \\
        [--prompts 96] [--steps 20] [--guidance 3] [--guidance-min-sigma 0.3] [--sigma-max 1.0] [--shift 3] \\
        [--size 32 | 40x24 | 24x40] [--tail 0.1,0.05 | --tail none] [--expert-band 0.3,1 | --expert-band none] \\
        [--shape-guidance 10] [--turn-guidance 20] [--size-guidance 0] [--candidates 5] [--guide-along-object]

Prompts are captions (English and French alternating) of random scenes: held out (colour × shape × motion
triples never seen in training) and from the training split, side by side. Each is sampled once and judged
by ``models/kinora_dit/checker.py`` on every attribute the prompt states, and per stated shape, size, motion
and effect what the wrong clips showed instead; also the time to sample one clip,
and the clips' grain: the mean absolute difference between each frame and its 3×3 blur (pixels in [0, 1]),
which noise left in a clip raises (so do sharp edges: compare weights on the same prompts).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.prompt_checker import KEYS, EvalReport, evaluate  # noqa: E402
from models.kinora_dit.captions import caption  # noqa: E402
from models.kinora_dit.pipeline import CANDIDATES, GUIDES, SAMPLING_SIGMA_MAX, WEIGHTS, load_pipeline  # noqa: E402
from models.kinora_dit.raster import frame_size, parse_frame_size  # noqa: E402
from models.kinora_dit.scenes import sample_scene  # noqa: E402


def prompts(split: str, count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [caption(sample_scene(rng, split), rng, "en" if i % 2 == 0 else "fr") for i in range(count)]


def grain(frames: np.ndarray) -> float:
    """Mean |frame − its 3×3 box blur| of uint8 frames (F, H, W, 3), in [0, 1] pixel units."""
    pixels = frames.astype(np.float32) / 255
    blur = np.stack([cv2.blur(frame, (3, 3), borderType=cv2.BORDER_REPLICATE) for frame in pixels])
    return float(np.abs(pixels - blur).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--prompts", type=int, default=96)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--guidance-min-sigma", type=float, default=None,
                        help="noise level below which sampling is unguided (default: the pipeline's)")
    parser.add_argument("--tail", help="noise levels of the unguided steps after the schedule, comma-separated, "
                        "or 'none' (default: the pipeline's)")
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--sigma-max", type=float, default=SAMPLING_SIGMA_MAX, help="noise level sampling starts at")
    parser.add_argument("--shift", type=float, help="the sampler's schedule shift (default: the training's)")
    parser.add_argument("--stochastic", action="store_true",
                        help="each step draws fresh noise around the predicted clip (stochastic_sampling)")
    parser.add_argument("--size", type=parse_frame_size, default=32,
                        help="native frame size: a side, or WIDTHxHEIGHT (16:9 requests sample 40x24, 9:16 24x40)")
    parser.add_argument("--expert-band", help="for weights with a mid-band expert: the noise levels it denoises, "
                        "low,high, or 'none' to sample without it (default: the band it was trained on)")
    for kind in GUIDES:
        parser.add_argument(f"--{kind}-guidance", type=float, help=f"for weights with a {kind} guide: the largest "
                            "change of a pixel it makes to a step's clean clip, 0 to let it only choose (default: "
                            "the file's)")
    parser.add_argument("--candidates", type=int, help="for weights with a shape guide: clips sampled per prompt "
                        "naming a shape, the one the guides' classifiers find most like it kept "
                        f"(default: {CANDIDATES})")
    parser.add_argument("--guide-along-object", action="store_true", help="the guides change a pixel only along "
                        "the line from the background's colour to the object's (shape_guide.guide)")
    args = parser.parse_args()
    pipe = load_pipeline(args.weights)
    pipe.register_to_config(guide_along_object=args.guide_along_object)
    for key in (*(f"{kind}_guidance" for kind in GUIDES), "candidates"):
        if getattr(args, key) is not None:
            pipe.register_to_config(**{key: getattr(args, key)})
    if args.expert_band is not None:
        band = None if args.expert_band == "none" else tuple(float(v) for v in args.expert_band.split(","))
        pipe.register_to_config(expert_band=band)
    pipe.register_to_config(sigma_max=args.sigma_max)
    if args.guidance_min_sigma is not None:
        pipe.register_to_config(guidance_min_sigma=args.guidance_min_sigma)
    if args.tail is not None:
        tail = () if args.tail == "none" else tuple(float(v) for v in args.tail.split(","))
        pipe.register_to_config(tail_sigmas=tail)
    if args.shift is not None or args.stochastic:
        pipe.scheduler = FlowMatchEulerDiscreteScheduler(shift=args.shift or pipe.scheduler.config.shift,
                                                         stochastic_sampling=args.stochastic)
    grains: list[float] = []
    width, height = frame_size(args.size)

    def generate(prompt: str, seed: int) -> np.ndarray:
        out = pipe(prompt=prompt, width=width, height=height, num_inference_steps=args.steps,
                   guidance_scale=args.guidance, generator=torch.Generator().manual_seed(seed))
        frames = (out.frames[0] * 255).round().astype(np.uint8)
        grains.append(grain(frames))
        return frames

    start = time.perf_counter()
    generate("a red ball bouncing on a blue background", 0)
    sample_s = time.perf_counter() - start
    reports: dict[str, EvalReport] = {split: evaluate(generate, prompts(split, args.prompts, args.seed), args.seed)
                                      for split in ("heldout", "train")}
    stochastic = ", stochastic" if args.stochastic else ""
    scales = {kind: pipe.config[f"{kind}_guidance"] if pipe.classifier(kind) is not None else None for kind in GUIDES}
    print(f"{args.weights.name}: {args.prompts} prompts per split, {args.steps} steps, guidance {args.guidance} "
          f"down to sigma {pipe.config.guidance_min_sigma}, tail {list(pipe.config.tail_sigmas)}, "
          f"sigma_max {args.sigma_max}, expert band {pipe.config.expert_band}, "
          + "".join(f"{kind} guidance {scale}, " for kind, scale in scales.items())
          + f"candidates {pipe.config.candidates}, guides along the object {args.guide_along_object}, "
          f"shift {pipe.scheduler.config.shift}{stochastic}; one 16-frame {width}x{height} clip in {sample_s:.2f} s; "
          f"grain {np.mean(grains[1:]):.4f}")
    print(f"{'attribute':<14}{'held out':>16}{'train':>16}")
    for key in KEYS:
        cells = []
        for split in ("heldout", "train"):
            rate, n = reports[split].rate(key), reports[split].count(key)
            cells.append(f"{rate:6.1%} ({n:3d})" if rate is not None else "—")
        print(f"{key:<14}{cells[0]:>16}{cells[1]:>16}")
    print(f"{'all stated':<14}{reports['heldout'].fully_right():>16.1%}{reports['train'].fully_right():>16.1%}")
    both = reports["heldout"].merged(reports["train"])
    print("per stated value, both splits: right/clips (what the wrong ones showed)")
    for key in ("shape", "size", "motion", "effect"):
        cells = [f"{value} {right}/{total}" + (f" ({', '.join(f'{shown} {n}' for shown, n in wrong.most_common(2))})"
                                               if wrong else "")
                 for value, right, total, wrong in both.by_value(key)]
        print(f"  {key:<8}" + " · ".join(cells))


if __name__ == "__main__":
    main()
