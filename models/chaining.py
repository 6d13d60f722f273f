"""Plan the model runs that cover a request: one run when it fits, else a chain of runs.

Torch-free and pure. Each chained run is conditioned on the last ``overlap_frames`` native frames before it
(the previous run's tail, or the input clip's tail when extending) and regenerates them, so consecutive runs
share those frames: the worker cross-fades them instead of showing them twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.registry import ModelSpec, frames_for_rule


@dataclass(frozen=True)
class Run:
    prompt: str
    start: int  # native index, on the timeline of new frames, of this run's first generated frame
    frames: int  # frames the model generates in this run (frame_multiple·k + 1)
    overlap: int  # leading frames that re-create frames before ``start + overlap`` (the conditioning tail)
    keep: int  # new frames this run contributes after its overlap

    @property
    def end(self) -> int:
        return self.start + self.overlap + self.keep


def native_frame_count(spec: ModelSpec, seconds: float) -> int:
    """New native frames that cover ``seconds``, one more so the last output instant can be interpolated."""
    return max(1, math.ceil(seconds * spec.native_fps - 1e-9)) + 1


def plan_runs(spec: ModelSpec, segments: list[tuple[str, float]], *, after_input: bool = False) -> list[Run]:
    """Runs that together generate exactly the frames of ``segments`` (prompt, seconds) in order.

    ``after_input``: the first run continues an input clip, so it is conditioned on that clip's tail too.
    """
    total = sum(seconds for _, seconds in segments)
    wanted = native_frame_count(spec, total)
    runs: list[Run] = []
    elapsed, done = 0.0, 0
    for index, (prompt, seconds) in enumerate(segments):
        elapsed += seconds
        end = wanted if index == len(segments) - 1 else min(wanted, round(elapsed * spec.native_fps))
        while done < end:
            overlap = spec.overlap_frames if (runs or after_input) else 0
            frames = min(spec.max_frames, frames_for_rule(spec, overlap + end - done))
            keep = min(frames - overlap, end - done)
            runs.append(Run(prompt=prompt, start=done - overlap, frames=frames, overlap=overlap, keep=keep))
            done += keep
    return runs
