"""Planning chained runs, and streaming their frames with cross-faded seams."""

import numpy as np
import pytest

from models.chaining import native_frame_count, plan_runs
from models.registry import REGISTRY, frames_for_rule, get_spec
from worker.chain import FrameWindow, cross_fade

CHAINING = [name for name, spec in REGISTRY.items() if spec.can_chain]


@pytest.mark.parametrize("name", CHAINING)
@pytest.mark.parametrize("seconds", [0.5, 5, 15, 20, 20.01, 33.3, 60])
def test_runs_cover_exactly_the_frames_needed(name, seconds):
    spec = get_spec(name)
    runs = plan_runs(spec, [("p", seconds)])
    assert sum(r.keep for r in runs) == native_frame_count(spec, seconds)
    assert runs[0].start == 0 and runs[0].overlap == 0
    for before, run in zip(runs, runs[1:], strict=False):
        # each run re-creates the previous tail, then continues where it ended
        assert run.overlap == spec.overlap_frames and run.start + run.overlap == before.end
    for run in runs:
        assert (run.frames - 1) % spec.frame_multiple == 0 and run.frames <= spec.max_frames
        assert 0 < run.keep <= run.frames - run.overlap


def test_a_minute_of_ltx_tiny_is_six_runs():
    runs = plan_runs(get_spec("ltx-tiny"), [("p", 60)])
    assert [(r.frames, r.overlap, r.keep) for r in runs] == [(257, 0, 257)] + [(257, 9, 248)] * 4 + [(201, 9, 192)]


def test_segments_get_their_own_runs_in_order():
    spec = get_spec("ltx-tiny")
    runs = plan_runs(spec, [("a red ball", 2), ("a blue square", 3)])
    assert [r.prompt for r in runs] == ["a red ball", "a blue square"]
    assert runs[0].keep == 48  # 2 s at 24 fps
    assert runs[1].overlap == 9 and sum(r.keep for r in runs) == native_frame_count(spec, 5)


def test_an_extension_conditions_its_first_run_on_the_input():
    run, = plan_runs(get_spec("ltx-tiny"), [("p", 5)], after_input=True)
    assert run.overlap == 9 and run.start == -9 and run.keep == 121


def test_frames_follow_the_rule():
    spec = get_spec("ltx-tiny")
    assert [frames_for_rule(spec, n) for n in (1, 2, 9, 10, 17)] == [1, 9, 9, 17, 17]


def test_frame_window_slides_and_repeats_the_last_frame():
    pulled = []

    def stream():
        for i in range(10):
            pulled.append(i)
            yield np.full((1, 1, 3), i, np.uint8)

    window = FrameWindow(stream())
    assert [int(f[0, 0, 0]) for f in window.get(0, 4)] == [0, 1, 2, 3]
    assert len(pulled) == 4  # lazy
    assert [int(f[0, 0, 0]) for f in window.get(2, 6)] == [2, 3, 4, 5]
    assert [int(f[0, 0, 0]) for f in window.get(8, 12)] == [8, 9, 9, 9]


def test_cross_fade_moves_from_old_to_new():
    old = [np.zeros((2, 2, 3), np.uint8)] * 3
    new = np.full((3, 2, 2, 3), 200, np.uint8)
    values = [int(f[0, 0, 0]) for f in cross_fade(old, new)]
    assert values == [50, 100, 150]
