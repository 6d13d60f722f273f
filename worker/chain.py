"""Turn a request's runs into one stream of new native frames, run after run.

Each run after the first is conditioned on the tail of what came before it and re-creates that tail; the
re-created frames are cross-faded with the ones they stand for, so a seam is neither a jump nor a repeat.
Frames leave as soon as they are final: memory holds one run, never the whole video.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from kinora.jobs import GenerationRequest
from models.chaining import Run
from models.pipeline import RunInputs, VideoGenerator, effective_steps

Progress = Callable[[int, int], None]  # (steps done, total steps) over the whole job


@dataclass
class Conditioning:
    """Decoded inputs at the native size and rate."""

    lead: list[np.ndarray] | None = None  # extend: the input clip's last frames
    image: np.ndarray | None = None
    source: FrameWindow | None = None  # modify: the input clip


class FrameWindow:
    """Random access to a moving window of a lazy frame stream; frames before the window are let go."""

    def __init__(self, frames: Iterator[np.ndarray]) -> None:
        self._frames = frames
        self._buffer: list[tuple[int, np.ndarray]] = []
        self._next = 0  # index of the next frame the stream will give
        self._last: np.ndarray | None = None

    def get(self, start: int, stop: int) -> list[np.ndarray]:
        """Frames start..stop-1 (start never moves back); past the end of the stream the last frame repeats."""
        self._buffer = [(i, f) for i, f in self._buffer if i >= start]
        while self._next < stop:
            frame = next(self._frames, None)
            if frame is None:
                break
            if self._next >= start:
                self._buffer.append((self._next, frame))
            self._last, self._next = frame, self._next + 1
        if self._last is None:
            raise ValueError("the source video has no frames")
        window = [f for i, f in self._buffer if i < stop]
        return window + [self._last] * (stop - start - len(window))


def cross_fade(old: list[np.ndarray], new: np.ndarray) -> Iterator[np.ndarray]:
    """Move from the frames already planned to the re-created ones, weight rising frame by frame."""
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        w = (i + 1) / (len(old) + 1)
        yield ((1 - w) * a.astype(np.float32) + w * b.astype(np.float32)).round().astype(np.uint8)


def generate_frames(
    gen: VideoGenerator, req: GenerationRequest, runs: list[Run], size: tuple[int, int], inputs: Conditioning,
    on_step: Progress, *, image_index: int = 0,
) -> Iterator[np.ndarray]:
    """New native frames for the whole request, in order."""
    width, height = size
    total = sum(effective_steps(req.steps, req.strength if inputs.source else 1.0) for _ in runs)
    steps_before = 0
    tail = list(inputs.lead or [])
    held: list[np.ndarray] = []  # the last frames of the previous run, until the next run re-creates them
    # An image pinned last goes into the run that makes that frame new (not one that only re-creates it).
    last_image_run = next((i for i, r in enumerate(runs) if r.start + r.overlap <= image_index < r.end),
                          len(runs) - 1)
    for index, run in enumerate(runs):
        is_last = index == len(runs) - 1
        image, at = None, 0
        if inputs.image is not None and req.image_position == "first" and index == 0:
            image = inputs.image
        elif inputs.image is not None and req.image_position == "last" and index == last_image_run:
            image, at = inputs.image, min(max(image_index - run.start, run.overlap), run.overlap + run.keep - 1)
        run_inputs = RunInputs(
            prompt=run.prompt, negative_prompt=req.negative_prompt, width=width, height=height,
            num_frames=run.frames, seed=req.seed + index, steps=req.steps, guidance_scale=req.guidance_scale,
            lead=tail[-run.overlap:] if run.overlap else None,
            image=image, image_index=at,
            source=inputs.source.get(run.start, run.start + run.frames) if inputs.source else None,
            strength=req.strength if inputs.source and req.strength is not None else 1.0,
        )
        base = steps_before
        frames = gen.generate_run(run_inputs, lambda done, _total, base=base: on_step(base + done, total))
        steps_before += effective_steps(req.steps, run_inputs.strength)
        head, body = frames[: run.overlap], list(frames[run.overlap: run.overlap + run.keep])
        if held:  # re-created frames of the previous run: blend instead of showing them twice
            yield from cross_fade(held, head[len(head) - len(held):])
        tail = (tail + body)[-max(1, gen.spec.overlap_frames):]
        keep_back = 0 if is_last else min(runs[index + 1].overlap, len(body))
        yield from body[: len(body) - keep_back]
        held = body[len(body) - keep_back:]
    yield from held
