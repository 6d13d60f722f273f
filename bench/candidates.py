"""How well each way of choosing among candidate clips keeps one that is right on every stated attribute.

    OMP_WAIT_POLICY=PASSIVE python bench/candidates.py [--weights models/weights/kinora-dit.safetensors] \\
        [--prompts 96] [--size 32 | 40x24 | 24x40] [--candidates 5] [--save runs/candidates.npz] \\
        [--load runs/candidates.npz] [--judge CLASSIFIER ...] [--guide-along-object] [--split heldout]

The prompts and seeds are ``bench/kinora_dit.py``'s. Each prompt is sampled once with ``--candidates`` clips
side by side (the shipped sampler otherwise: guides at the file's scales), and the checker judges every
candidate on every attribute the prompt states. Then, per split, the share of prompts whose kept clip is right
on all of them, for the first 1, 3, ... candidates (the first k of a batch are the clips a batch of k draws)
and each chooser: the first candidate; each classifier alone; the classifiers the weights carry summed as the
sampler sums them; each ``--judge`` classifier (``shape_guide.train``'s file) added to that sum, then all of
them; and "any": some candidate is right (the most any chooser could keep). Last, per split and attribute, how
many clips are wrong on it: among every candidate, and among the clips the sum keeps from all of them. ``--save``
keeps the candidates for ``--load``, which judges them again without sampling (e.g. with other ``--judge``
classifiers), every split the file holds unless ``--split`` names one. ``--split`` samples one split alone, for
half the time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.kinora_dit import prompts  # noqa: E402
from models.kinora_dit.captions import parse_prompt  # noqa: E402
from models.kinora_dit.checker import read_clip, verdict_of  # noqa: E402
from models.kinora_dit.pipeline import GUIDES, WEIGHTS, KinoraDiTPipeline, load_pipeline  # noqa: E402
from models.kinora_dit.raster import frame_size, parse_frame_size  # noqa: E402
from models.kinora_dit.shape_guide import (  # noqa: E402
    ShapeClassifier,
    asked,
    classifier_from,
    kind_of,
    log_probability,
)

SPLITS = ("heldout", "train")


def sample_candidates(pipe: KinoraDiTPipeline, prompt: str, seed: int, width: int, height: int) -> torch.Tensor:
    """The finished candidate clips (N, 3, F, H, W) in [-1, 1] the sampler chose among, for ``prompt``: what
    the shape classifier reads last; with one candidate (or a prompt naming no shape), the clip itself."""
    seen: list[torch.Tensor] = []
    hook = pipe.shape_guide.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    try:
        out = pipe(prompt=prompt, width=width, height=height, generator=torch.Generator().manual_seed(seed))
    finally:
        hook.remove()
    if pipe.config.candidates == 1 or "shape" not in pipe.asked(prompt):
        return torch.from_numpy(out.frames[0]).permute(3, 0, 1, 2)[None] * 2 - 1
    return seen[-1].clamp(-1, 1)


def frames_of(clip: torch.Tensor) -> np.ndarray:
    """A candidate (3, F, H, W) in [-1, 1] as the pipeline returns it and the bench rounds it: uint8 (F, H, W, 3)."""
    return (((clip[:, :16] + 1) / 2).permute(1, 2, 3, 0).numpy() * 255).round().astype(np.uint8)


def scores(classifiers: dict[str, ShapeClassifier], prompt: str, clips: torch.Tensor) -> dict[str, np.ndarray]:
    """Each classifier's log-probability of what the prompt asks of its kind, per candidate (0 where it asks
    nothing). Keys are kinds, or for ``--judge`` files "kind:file name"."""
    wanted = asked(prompt)
    out = {}
    with torch.no_grad():
        for key, classifier in classifiers.items():
            name = wanted.get(key.split(":")[0])
            out[key] = log_probability(classifier, clips, name).numpy() if name else np.zeros(len(clips))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--prompts", type=int, default=96)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--size", type=parse_frame_size, default=32)
    parser.add_argument("--candidates", type=int, default=5)
    parser.add_argument("--save", type=Path, help="keep the candidates (npz) for --load")
    parser.add_argument("--load", type=Path, help="judge candidates --save kept instead of sampling")
    parser.add_argument("--judge", action="append", default=[], type=Path, metavar="CLASSIFIER",
                        help="a classifier file (shape_guide.train's) whose log-probability is added to the sum")
    parser.add_argument("--split", choices=SPLITS, action="append", help="sample only this split (repeatable; "
                        "default: both)")
    parser.add_argument("--guide-along-object", action="store_true", help="the guides change a pixel only along "
                        "the line from the background's colour to the object's (shape_guide.guide)")
    args = parser.parse_args()
    kept = np.load(args.load) if args.load else None
    splits = tuple(args.split or (kept.files if kept is not None else SPLITS))  # --load: the splits it holds
    pipe = load_pipeline(args.weights)
    pipe.register_to_config(candidates=args.candidates, guide_along_object=args.guide_along_object)
    classifiers = {kind: pipe.classifier(kind) for kind in GUIDES if pipe.classifier(kind) is not None}
    for path in args.judge:
        kind = kind_of(path)
        classifiers[f"{kind}:{path.stem}"] = classifier_from(load_file(str(path)), kind)
    width, height = frame_size(args.size)
    started = time.perf_counter()
    if kept is not None:
        candidates = {split: [torch.from_numpy(c).float() for c in kept[split]] for split in splits}
    else:
        candidates = {split: [sample_candidates(pipe, prompt, args.seed + index, width, height)
                              for index, prompt in enumerate(prompts(split, args.prompts, args.seed))]
                      for split in splits}
        if args.save:
            np.savez_compressed(args.save, **{split: np.stack([c.half().numpy() for c in candidates[split]])
                                              for split in splits})
    sampled = time.perf_counter() - started
    judges = [kind for kind in classifiers if ":" in kind]
    choosers = ["first", *classifiers, "sum", *(f"sum+{judge}" for judge in judges), "sum+judges", "any"]
    print(f"{args.weights.name}, {width}x{height}, {args.prompts} prompts per split, up to {args.candidates} "
          f"candidates ({sampled:.0f} s); every stated attribute right, {' / '.join(splits)}:")
    results: dict[tuple[str, int, str], list[bool]] = {}
    wrong: dict[tuple[str, str], Counter] = {}  # (split, "every" | "kept") -> attribute -> clips wrong on it
    for split in splits:
        for index, prompt in enumerate(prompts(split, args.prompts, args.seed)):
            clips = candidates[split][index]
            stated = parse_prompt(prompt)
            verdicts = [verdict_of(read_clip(frames_of(c)), stated) for c in clips]
            right = np.array([all(verdict.values()) for verdict in verdicts])
            score = scores(classifiers, prompt, clips)
            shipped = sum(score[kind] for kind in score if ":" not in kind)
            kept_by_sum = verdicts[int(np.argmax(shipped))]
            wrong.setdefault((split, "every"), Counter()).update(a for v in verdicts for a, ok in v.items() if not ok)
            wrong.setdefault((split, "kept"), Counter()).update(a for a, ok in kept_by_sum.items() if not ok)
            every = sum(score.values())
            for count in range(1, len(clips) + 1, 2):
                picks = {"first": 0, **{kind: int(np.argmax(s[:count])) for kind, s in score.items()},
                         "sum": int(np.argmax(shipped[:count])), "sum+judges": int(np.argmax(every[:count])),
                         **{f"sum+{judge}": int(np.argmax((shipped + score[judge])[:count])) for judge in judges}}
                for chooser, pick in picks.items():
                    results.setdefault((split, count, chooser), []).append(bool(right[pick]))
                results.setdefault((split, count, "any"), []).append(bool(right[:count].any()))
    counts = sorted({count for _, count, _ in results})
    column = max(len(chooser) for chooser in choosers) + 2
    print(f"{'chooser':<{column}}" + "".join(f"{f'{c} candidates':>22}" for c in counts))
    for chooser in choosers:
        cells = [" / ".join(f"{np.mean(results[(split, c, chooser)]):6.1%}" for split in splits) for c in counts]
        print(f"{chooser:<{column}}" + "".join(f"{cell:>22}" for cell in cells))
    for split in splits:
        every, kept = wrong[(split, "every")], wrong[(split, "kept")]
        tally = ", ".join(f"{attribute} {count} / {kept[attribute]}" for attribute, count in every.most_common())
        print(f"{split}, clips wrong per attribute, every candidate / kept by the sum: {tally}")


if __name__ == "__main__":
    main()
