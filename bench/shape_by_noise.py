"""At which noise level Kinora's own model loses an object's shape: true clips noised to σ, denoised in one pass.

    OMP_WAIT_POLICY=PASSIVE python bench/shape_by_noise.py [--weights A.safetensors --weights B.safetensors] \\
        [--clips 8] [--sigmas 0.9,0.7,0.5,0.3,0.2,0.1] [--shapes star,sun,ball] [--size 32] [--seed 0] \\
        [--say sun]

For each shape, ``--clips`` training-split scenes are redrawn with that shape, rendered, noised to each σ (the
same noise for every weights file) and given to the network with their English captions; the judge
(``models/kinora_dit/checker.py``) reads the shape of the network's clean clip. Printed per shape: how often
the clean render itself reads right (the judge's ceiling), then per σ how often the network's clip does and
its mean squared error (pixels in [−1, 1]; a network over latents is noised and denoised in latents, its
clip decoded). Sampling from pure noise settles the shape somewhere on the way
down: a shape right at σ = 0.2 and wrong at 0.5 is drawn only if the sampler's clip at 0.5 already shows it.
Several ``--weights`` are measured one after the other on the same clips, so their rows compare directly.
``--say SHAPE`` captions every clip with that shape instead of its own (the same words otherwise), and each cell
shows first how often the clip was read as that shape: how much the shape word itself decides what the network
draws at each level, against the clip in front of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.kinora_dit.captions import caption  # noqa: E402
from models.kinora_dit.checker import read_clip  # noqa: E402
from models.kinora_dit.pipeline import WEIGHTS, KinoraDiTPipeline, encode_text, load_pipeline, predict_clean  # noqa: E402
from models.kinora_dit.raster import FrameSize, parse_frame_size  # noqa: E402
from models.kinora_dit.scenes import SHAPES, Scene, render, sample_scene  # noqa: E402


def scenes_of(shape: str, count: int, seed: int) -> list[Scene]:
    """``count`` training-split scenes with their shape replaced by ``shape`` (colour, size, motion, background
    and effect as drawn; the shape does not change which colours suit a background)."""
    rng = np.random.default_rng([seed, SHAPES.index(shape)])
    return [dataclasses.replace(sample_scene(rng, "train"), shape=shape) for _ in range(count)]


def to_frames(clips: torch.Tensor) -> np.ndarray:
    """(B, 3, F, H, W) in [−1, 1] → (B, F, H, W, 3) uint8."""
    return ((clips.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 4, 1).numpy()


@torch.no_grad()
def readings(pipe: KinoraDiTPipeline, scenes: list[Scene], sigmas: list[float], size: FrameSize,
             seed: int, say: str | None = None) -> dict[float, tuple[Counter, float]]:
    """Per σ: the shapes the judge reads off the network's clean clips, and their mean squared error.
    ``say``: the shape the captions name (default: each clip's own)."""
    clips = torch.cat([KinoraDiTPipeline.video_to_tensor(render(s, size=size)) for s in scenes])
    said = [dataclasses.replace(s, shape=say) if say else s for s in scenes]
    captions = [caption(s, np.random.default_rng([seed, i]), "en") for i, s in enumerate(said)]
    text, mask = encode_text(pipe.text_encoder, pipe.tokenizer, captions)
    target = pipe.to_space(clips)  # the network's own space: the clips themselves, or their latents
    noise = torch.randn(target.shape, generator=torch.Generator().manual_seed(seed))  # the same at every level
    out = {}
    for sigma in sigmas:
        level = torch.full((len(scenes),), sigma)
        net = pipe.network_at(sigma)  # with a mid-band expert, what the sampler would use at this level
        pooled = net.pooler(text, mask) if net.pooler is not None else None
        clean = predict_clean(net.transformer, (1 - sigma) * target + sigma * noise, level, text, mask,
                              pipe.config.prediction, pooled, net.positions, net.detail, net.shape, pipe.patch)
        clean = (pipe.autoencoder.decode(clean) if pipe.autoencoder is not None else clean).clamp(-1, 1)
        out[sigma] = (Counter(read_clip(frames).shape for frames in to_frames(clean)),
                      float((clean - clips).square().mean()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, action="append", help="repeat to compare (default: the shipped)")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--sigmas", default="0.9,0.7,0.5,0.3,0.2,0.1")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--size", type=parse_frame_size, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--say", choices=SHAPES, help="the shape every caption names (default: the clip's own)")
    args = parser.parse_args()
    sigmas = [float(s) for s in args.sigmas.split(",")]
    shapes = args.shapes.split(",")
    unknown = set(shapes) - set(SHAPES)
    if unknown:
        parser.error(f"--shapes: unknown {sorted(unknown)} (known: {', '.join(SHAPES)})")
    scenes = {shape: scenes_of(shape, args.clips, args.seed) for shape in shapes}
    said = f", captions say {args.say} (cells: read as {args.say}|as the clip's own shape)" if args.say else ""

    def told(seen: Counter, shape: str) -> str:
        return f"{seen[args.say]}|" if args.say and args.say != shape else ""

    print(f"{args.clips} clips per shape, size {args.size}{said}; per σ: clean clips read as the shape (error)")
    cell = 20 if args.say else 16
    print(f"{'weights':<28}{'shape':<10}{'render':>8}" + "".join(f"{f'σ={s}':>{cell}}" for s in sigmas))
    for weights in args.weights or [WEIGHTS]:
        pipe = load_pipeline(weights)
        for shape in shapes:
            ceiling = sum(read_clip(render(s, size=args.size)).shape == shape for s in scenes[shape])
            cells = [f"{told(seen, shape)}{seen[shape]}/{args.clips} ({error:.4f})"
                     for seen, error in readings(pipe, scenes[shape], sigmas, args.size, args.seed,
                                                      args.say).values()]
            row = f"{weights.name:<28}{shape:<10}{f'{ceiling}/{args.clips}':>8}"
            print(row + "".join(f"{c:>{cell}}" for c in cells))


if __name__ == "__main__":
    main()
