"""How often the automatic judge is right, on clips whose truth is known; and the harness for model outputs.

    OMP_WAIT_POLICY=PASSIVE python bench/prompt_checker.py [--prompts 240] [--size 32 | 40x24] [--frames 16] [--seed 0]

Prompts are captions (English and French alternating) of random scenes, half from the training split and half
held out. For each prompt the attributes it states are parsed back (``parse_prompt``) and the judge checks a
clip against them. Four columns:

* right: the clip is the prompt's own scene, rendered; the share of checks the judge calls right;
* wrong: the clip is the scene with that one attribute changed to another valid value (for consistency: the
  object vanishes for six frames or jumps half a frame sideways); the share the judge calls wrong;
* each clean, and degraded like imperfect model output (2x down/up-sample, Gaussian blur of 1 pixel per 32,
  noise of 8 grey levels).

``evaluate(generate, prompts)`` is the part a model's sampler plugs into: ``generate(prompt, seed)`` returns a
(frames, height, width, 3) uint8 clip; the report holds every verdict. Here the "model" is the renderer.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.kinora_dit.captions import caption, parse_prompt
from models.kinora_dit.checker import CHECKED, judge, read_clip, verdict_of
from models.kinora_dit.counterfactuals import inconsistent_clip, wrong_scene
from models.kinora_dit.degrade import degrade
from models.kinora_dit.raster import FrameSize, frame_size, parse_frame_size
from models.kinora_dit.scenes import Scene, render, sample_scene

Generate = Callable[[str, int], np.ndarray]
KEYS = (*CHECKED, "consistency")


@dataclass
class EvalReport:
    """Every verdict of one ``evaluate`` run: per prompt, and pooled per attribute."""

    prompts: list[tuple[str, dict[str, bool]]] = field(default_factory=list)
    checks: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    # (stated value, value read from the clip) counts per attribute: what the model drew instead.
    confusion: dict[str, Counter[tuple[str, str | None]]] = field(default_factory=lambda: defaultdict(Counter))

    def rate(self, key: str) -> float | None:
        """Share of ``key`` checks the judge passed, or None if no prompt stated ``key``."""
        verdicts = self.checks.get(key, [])
        return sum(verdicts) / len(verdicts) if verdicts else None

    def count(self, key: str) -> int:
        return len(self.checks.get(key, []))

    def by_value(self, key: str) -> list[tuple[str, int, int, Counter[str | None]]]:
        """Per stated value of ``key``: (value, clips right, clips, what the wrong ones showed)."""
        values: dict[str, tuple[int, int, Counter[str | None]]] = {}
        for (stated, read), n in sorted(self.confusion[key].items(), key=lambda item: str(item[0])):
            right, total, wrong = values.get(stated, (0, 0, Counter()))
            if read != stated:
                wrong[read] += n
            values[stated] = (right + n * (read == stated), total + n, wrong)
        return [(value, *counts) for value, counts in values.items()]

    def merged(self, other: EvalReport) -> EvalReport:
        both = EvalReport(self.prompts + other.prompts)
        for report in (self, other):
            for key, verdicts in report.checks.items():
                both.checks[key] += verdicts
            for key, counts in report.confusion.items():
                both.confusion[key] += counts
        return both

    def fully_right(self) -> float:
        """Share of prompts whose clip passed every check."""
        return sum(all(v.values()) for _, v in self.prompts) / max(len(self.prompts), 1)


def evaluate(generate: Generate, prompts: Sequence[str], seed: int = 0) -> EvalReport:
    """Generate a clip for each prompt (``generate(prompt, seed + index)``) and judge it against what the
    prompt states (``parse_prompt``); attributes the prompt leaves out are not checked, consistency always is."""
    report = EvalReport()
    for index, prompt in enumerate(prompts):
        stated, reading = parse_prompt(prompt), read_clip(generate(prompt, seed + index))
        verdict = verdict_of(reading, stated)
        report.prompts.append((prompt, verdict))
        for key, ok in verdict.items():
            report.checks[key].append(ok)
        for key in CHECKED:
            if key in stated:
                report.confusion[key][stated[key], getattr(reading, key)] += 1
    return report


def ground_truth(count: int, seed: int) -> list[tuple[str, Scene, str]]:
    """(prompt, scene, split) triples: captions alternating English and French, train and held-out scenes."""
    rng = np.random.default_rng(seed)
    out = []
    for index in range(count):
        split = "train" if index % 2 == 0 else "heldout"
        scene = sample_scene(rng, split)
        out.append((caption(scene, rng, "en" if index % 4 < 2 else "fr"), scene, split))
    return out


def _renderer(scenes: dict[str, Scene], frames: int, size: FrameSize, degraded: bool,
              change: Callable[[Scene, np.random.Generator], Scene | np.ndarray] | None = None) -> Generate:
    """A stand-in for a model: renders the prompt's scene, optionally changed, optionally degraded."""
    def generate(prompt: str, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        made = change(scenes[prompt], rng) if change else scenes[prompt]
        clip = made if isinstance(made, np.ndarray) else render(made, frames=frames, size=size)
        return degrade(clip, np.random.default_rng(seed + 100_000)) if degraded else clip
    return generate


def _wrong_rates(truth: list[tuple[str, Scene, str]], frames: int, size: FrameSize, degraded: bool,
                 seed: int) -> dict[str, tuple[float | None, int]]:
    scenes = {prompt: scene for prompt, scene, _ in truth}
    out: dict[str, tuple[float | None, int]] = {}
    for key in KEYS:
        if key == "consistency":
            prompts = list(scenes)
            def change(scene: Scene, rng: np.random.Generator) -> np.ndarray:
                return inconsistent_clip(scene, rng, frames, size)
        else:
            prompts = [p for p in scenes if key in parse_prompt(p)]
            def change(scene: Scene, rng: np.random.Generator, key: str = key) -> Scene:  # type: ignore[misc]
                return wrong_scene(scene, key, rng)
        report = evaluate(_renderer(scenes, frames, size, degraded, change), prompts, seed)
        passed = report.rate(key)
        out[key] = (None if passed is None else 1.0 - passed, report.count(key))
    return out


def _cell(rate: float | None, count: int) -> str:
    return f"{'-':>7s} ({count:4d})" if rate is None else f"{100 * rate:6.1f}% ({count:4d})"


def _pooled(rates: dict[str, tuple[float | None, int]]) -> tuple[float | None, int]:
    total = sum(n for _, n in rates.values())
    hits = sum(r * n for r, n in rates.values() if r is not None)
    return (hits / total if total else None), total


def _timings(truth: list[tuple[str, Scene, str]], frames: int, size: FrameSize) -> tuple[float, float]:
    """Median milliseconds to render one clip and to judge one clip (best of three passes per clip)."""
    render_ms, judge_ms = [], []
    for _, scene, _ in truth[:40]:
        best_render = best_judge = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            clip = render(scene, frames=frames, size=size)
            middle = time.perf_counter()
            judge(clip, scene.attributes())
            best_render = min(best_render, middle - start)
            best_judge = min(best_judge, time.perf_counter() - middle)
        render_ms.append(1000 * best_render)
        judge_ms.append(1000 * best_judge)
    return statistics.median(render_ms), statistics.median(judge_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=240, help="ground-truth prompts (half train, half held out)")
    parser.add_argument("--size", type=parse_frame_size, default=32,
                        help="frame side in pixels, or WIDTHxHEIGHT (e.g. 40x24, what 16:9 requests are sampled at)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    truth = ground_truth(args.prompts, args.seed)
    scenes = {prompt: scene for prompt, scene, _ in truth}
    columns: dict[str, dict[str, tuple[float | None, int]]] = {}
    splits: dict[str, dict[str, float | None]] = {}
    for degraded in (False, True):
        condition = "degraded" if degraded else "clean"
        right = evaluate(_renderer(scenes, args.frames, args.size, degraded), list(scenes), args.seed)
        columns[f"{condition} right"] = {key: (right.rate(key), right.count(key)) for key in KEYS}
        columns[f"{condition} wrong"] = _wrong_rates(truth, args.frames, args.size, degraded, args.seed)
        for split in ("train", "heldout"):
            chosen = [i for i, (_, _, s) in enumerate(truth) if s == split]
            verdicts = [ok for i in chosen for ok in right.prompts[i][1].values()]
            splits.setdefault(split, {})[condition] = sum(verdicts) / len(verdicts)
        splits.setdefault("prompts fully right", {})[condition] = right.fully_right()

    width, height = frame_size(args.size)
    print(f"{len(truth)} prompts, {args.frames} frames of {width}x{height}; "
          "share of checks judged right (right columns) or wrong (wrong columns), (number of checks)")
    print(f"{'attribute':14s}" + "".join(f"{name:>18s}" for name in columns))
    for key in KEYS:
        print(f"{key:14s}" + "".join(f"{_cell(*column[key]):>18s}" for column in columns.values()))
    print(f"{'all checks':14s}" + "".join(f"{_cell(*_pooled(column)):>18s}" for column in columns.values()))
    print()
    print("right columns by split: " + "; ".join(
        f"{split} " + ", ".join(f"{cond} {100 * rate:.1f}%" for cond, rate in by_condition.items())
        for split, by_condition in splits.items()))
    render_ms, judge_ms = _timings(truth, args.frames, args.size)
    print(f"median time per clip on this machine: render {render_ms:.1f} ms, judge {judge_ms:.1f} ms; "
          f"whole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
