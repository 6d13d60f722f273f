"""The README's gallery: what the shipped model makes for a few prompts, as GIFs and frame strips.

    OMP_WAIT_POLICY=PASSIVE python -m models.kinora_dit.gallery [--out docs/gallery] [--weights PATH]

Each prompt is sampled once (fixed seed, the registry's default steps and guidance) at a native size (32×32;
two at 40×24 and 24×40, what 16:9 and 9:16 requests sample) and 8 fps, enlarged 4× (nearest neighbour: the
pixels it made), and written as ``NN.gif`` and ``NN.png`` (8 of the 16 frames side by side).
``README.md`` in the output folder lists the prompts with the judge's verdict on each stated attribute, so the
gallery shows misses as well as hits.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from models.kinora_dit.checker import judge
from models.kinora_dit.pipeline import WEIGHTS, load_pipeline
from models.kinora_dit.prompt_parser import parse_prompt
from models.kinora_dit.raster import FrameSize, frame_size
from models.kinora_dit.scenes import HELD_OUT
from models.registry import get_spec

PROMPTS: tuple[tuple[str, FrameSize], ...] = (
    ("a red ball bouncing on a blue background", 32),
    ("a yellow star rotating in the night sky", 32),
    ("a green car moving right on a white background, in the rain", 32),
    ("une balle blanche qui tombe sur fond noir", 32),
    ("un carré violet qui grandit sous la neige, sur fond gris", 32),
    ("a red ball bouncing on a blue background", (40, 24)),  # as a 16:9 request samples it
    ("a yellow star rotating in the night sky", (24, 40)),  # as a 9:16 request samples it
    ("a blue star moving right on a brown background", 32),  # a held-out colour × shape × motion triple
)
SCALE = 4


def enlarge(frame: np.ndarray) -> Image.Image:
    h, w = frame.shape[:2]
    return Image.fromarray(frame).resize((w * SCALE, h * SCALE), Image.Resampling.NEAREST)


def write_gallery(out: Path, weights: Path, seed: int = 0) -> list[dict]:
    spec = get_spec("kinora-dit")
    pipe = load_pipeline(weights)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for number, (prompt, size) in enumerate(PROMPTS, 1):
        width, height = frame_size(size)
        video = pipe(prompt=prompt, width=width, height=height, num_inference_steps=spec.default_steps,
                     guidance_scale=spec.default_guidance, generator=torch.Generator().manual_seed(seed)).frames[0]
        clip = (video * 255).round().astype(np.uint8)
        frames = [enlarge(f) for f in clip]
        frames[0].save(out / f"{number:02d}.gif", save_all=True, append_images=frames[1:],
                       duration=int(1000 / spec.native_fps), loop=0)
        strip = np.concatenate([np.asarray(f) for f in frames[::2]], axis=1)
        Image.fromarray(strip).save(out / f"{number:02d}.png")
        attributes = parse_prompt(prompt)
        triple = (attributes.get("color"), attributes.get("shape"), attributes.get("motion"))
        entries.append({"number": number, "prompt": prompt, "size": f"{width}×{height}",
                        "verdict": judge(clip, attributes), "held_out": triple in HELD_OUT})
    (out / "README.md").write_text(_markdown(entries, weights))
    return entries


def _markdown(entries: list[dict], weights: Path) -> str:
    lines = ["# kinora-dit gallery", "",
             f"Made by `python -m models.kinora_dit.gallery` from `{weights.name}` (seed 0, native size and "
             "8 fps, shown 4× larger). Verdicts are the automatic judge's (`models/kinora_dit/checker.py`).", "",
             "| # | prompt | size | clip | frames | judge |", "|---|---|---|---|---|---|"]
    for e in entries:
        verdict = ", ".join(f"{k} {'✓' if ok else '✗'}" for k, ok in e["verdict"].items())
        note = " (held-out combination)" if e["held_out"] else ""
        n = f"{e['number']:02d}"
        lines.append(f"| {e['number']} | {e['prompt']}{note} | {e['size']} | ![]({n}.gif) | ![]({n}.png) | {verdict} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/gallery"))
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    args = parser.parse_args()
    for entry in write_gallery(args.out, args.weights):
        print(entry["number"], entry["prompt"], entry["verdict"])


if __name__ == "__main__":
    main()
