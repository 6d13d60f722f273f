"""What the frame autoencoder keeps: the judge on rendered clips and on the same clips through it, side by side.

    python bench/autoencoder.py --weights runs/ae.safetensors [--prompts 240] [--size 32 | 40x24 | 24x40]

For each prompt (``prompt_checker.ground_truth``: captions of random scenes, both splits) the scene is
rendered, and the render encoded to latents and decoded back. The judge checks both against the prompt; an
autoencoder a model can draw through loses nothing the judge reads. Also the round trip's error (PSNR over
all clips) and its time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.prompt_checker import KEYS, EvalReport, evaluate, ground_truth  # noqa: E402
from bench.shape_by_noise import to_frames  # noqa: E402
from models.kinora_dit.autoencoder import FrameAutoencoder, load_autoencoder  # noqa: E402
from models.kinora_dit.pipeline import KinoraDiTPipeline  # noqa: E402
from models.kinora_dit.raster import FrameSize, parse_frame_size  # noqa: E402
from models.kinora_dit.scenes import render  # noqa: E402


def compare(model: FrameAutoencoder, count: int, size: FrameSize = 32,
            seed: int = 0) -> tuple[dict[str, EvalReport], float, float]:
    """The judge's reports on ``count`` rendered clips and on the same through ``model``; the round trip's PSNR
    (dB, 8-bit pixels) and its seconds per clip."""
    truth = ground_truth(count, seed)
    scenes = {prompt: scene for prompt, scene, _ in truth}
    errors: list[float] = []
    seconds = [0.0]

    def rendered(prompt: str, seed: int) -> np.ndarray:
        return render(scenes[prompt], size=size)

    def round_trip(prompt: str, seed: int) -> np.ndarray:
        clip = rendered(prompt, seed)
        video = KinoraDiTPipeline.video_to_tensor(clip)
        start = time.perf_counter()
        with torch.no_grad():
            back = model.decode(model.encode(video))
        seconds[0] += time.perf_counter() - start
        out = to_frames(back)[0]
        errors.append(float(np.mean((out.astype(np.float64) - clip) ** 2)))
        return out

    prompts = [prompt for prompt, _, _ in truth]
    reports = {name: evaluate(generate, prompts, seed)
               for name, generate in (("rendered", rendered), ("round trip", round_trip))}
    return reports, float(10 * np.log10(255**2 / max(np.mean(errors), 1e-12))), seconds[0] / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True, help="an autoencoder's weights, or a model's")
    parser.add_argument("--prompts", type=int, default=240)
    parser.add_argument("--size", type=parse_frame_size, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    state = load_file(str(args.weights))  # the autoencoder's own file, or a model's that holds one
    inside = {k.removeprefix("autoencoder."): v for k, v in state.items() if k.startswith("autoencoder.")}
    model = load_autoencoder(inside or state)
    reports, psnr, seconds = compare(model, args.prompts, args.size, args.seed)
    print(f"{args.weights.name}: {model.channels} channels, {args.prompts} prompts at {args.size}; round trip PSNR "
          f"{psnr:.1f} dB, {1000 * seconds:.1f} ms per 16-frame clip")
    print(f"{'attribute':<14}{'rendered':>12}{'round trip':>12}")
    for key in KEYS:
        cells = [reports[name].rate(key) for name in reports]
        print(f"{key:<14}" + "".join(f"{c:>12.1%}" if c is not None else f"{'—':>12}" for c in cells))
    print(f"{'all stated':<14}" + "".join(f"{r.fully_right():>12.1%}" for r in reports.values()))


if __name__ == "__main__":
    main()
