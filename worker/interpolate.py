"""Change a video's frame rate by synthesising in-between frames from optical flow, one frame at a time.

Output frame k shows time k/fps, which falls at input position p = k·native_fps/fps. A whole p is that input
frame, passed on untouched; anything else is made from input frames floor(p) and floor(p)+1 at fraction
t = p − floor(p). Past the end of the input the last frame is held. Input arrives as an iterator and is read
only as far as the current output needs, so a minute of video never sits in memory at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

METHODS = ("flow", "blend", "nearest")
WHOLE_POSITION_TOLERANCE = 1e-6  # k·native/fps is inexact in floating point; this close to a whole frame, it is one
MIN_FLOW_SIDE = 12  # DIS fails on many frames with a side under 12 px, whatever its error says; those get a cross-fade
# DIS blurs motion boundaries over a few pixels, so disagreements this small still count as "same motion".
MOTION_AGREEMENT_PX = 3.0
# FAST took ~40% less time per output frame but lost ~1.6 dB PSNR on the 854×480 bench scene (12 → 60 fps).
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM


def source_position(k: int, native_fps: float, fps: float) -> float:
    """Where output frame ``k`` falls in the input, counted in input frames."""
    return k * native_fps / fps


def retime_frames(
    frames: Iterable[np.ndarray], native_fps: float, fps: float, count: int, *, method: str = "flow"
) -> Iterator[np.ndarray]:
    """Yield exactly ``count`` RGB uint8 frames at ``fps`` made from ``frames`` shot at ``native_fps``.

    ``method``: "flow" warps both neighbours along dense optical flow, "blend" cross-fades them, "nearest"
    repeats or drops whole frames. Frames at whole input positions are the input arrays themselves (not copies),
    so a consumer must not modify what it receives in place.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if native_fps <= 0 or fps <= 0:
        raise ValueError(f"frame rates must be positive, got native_fps={native_fps}, fps={fps}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return _retime(_InputWindow(iter(frames)), native_fps, fps, count, method)


def _retime(window: _InputWindow, native_fps: float, fps: float, count: int, method: str) -> Iterator[np.ndarray]:
    flows = _FlowCache()
    for k in range(count):
        # One call per frame, so no local here keeps an old input frame alive while the window moves on.
        yield _output_frame(window, flows, source_position(k, native_fps, fps), method)


def _output_frame(window: _InputWindow, flows: _FlowCache, position: float, method: str) -> np.ndarray:
    index = math.floor(position + WHOLE_POSITION_TOLERANCE)
    t = position - index
    if t <= WHOLE_POSITION_TOLERANCE:
        t = 0.0
    elif method == "nearest":
        index, t = index + (t >= 0.5), 0.0
    frame = window.frame_at(index)
    following = window.following() if t and window.index == index else None
    if following is None:  # a whole position, or the input ended before it: show the frame as it is
        return frame
    if method == "blend" or min(frame.shape[:2]) < MIN_FLOW_SIDE:
        return cross_fade(frame, following, t)
    return warp_between(frame, following, flows.between(index, frame, following), t)


class _InputWindow:
    """Input frame ``index`` and, once asked for, the one after it; earlier frames are let go."""

    def __init__(self, frames: Iterator[np.ndarray]) -> None:
        self._frames = frames
        self._next: np.ndarray | None = None
        self._ended = False
        self._shape: tuple[int, ...] | None = None
        self.index = -1
        self.current: np.ndarray | None = None

    def frame_at(self, index: int) -> np.ndarray:
        """Input frame ``index``, or the last one when the input ends before it."""
        while self.index < index:
            upcoming = self._next if self._next is not None else self._pull()
            if upcoming is None:
                break
            self.current, self._next, self.index = upcoming, None, self.index + 1
        if self.current is None:
            raise ValueError("retime_frames needs at least one input frame")
        return self.current

    def following(self) -> np.ndarray | None:
        """The input frame after ``current``, or None when the input ends at ``current``."""
        if self._next is None:
            self._next = self._pull()
        return self._next

    def _pull(self) -> np.ndarray | None:
        frame = None if self._ended else next(self._frames, None)
        if frame is None:
            self._ended = True
            return None
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frames must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if self._shape is not None and frame.shape != self._shape:
            raise ValueError(f"frame size changed from {self._shape} to {frame.shape}")
        self._shape = frame.shape
        return frame


def cross_fade(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """(1 − t)·a + t·b, rounded: what interpolation looks like without motion."""
    return cv2.addWeighted(a, 1.0 - t, b, t, 0.0)


@dataclass(frozen=True)
class PairFlow:
    """Dense motion between two consecutive frames, both ways, in pixels."""

    pixels: np.ndarray  # (H, W, 2) float32: each pixel's own (x, y)
    forward: np.ndarray  # (H, W, 2): the point at x in frame 0 is at x + forward[x] in frame 1
    backward: np.ndarray  # (H, W, 2): the point at x in frame 1 is at x + backward[x] in frame 0
    # (H, W): how far a point misses home after going there and back. Large where the point is hidden in the
    # other frame (occluded, or moved out of view), because the flow there describes whatever covers it.
    forward_round_trip: np.ndarray
    backward_round_trip: np.ndarray


def estimate_pair_flow(a: np.ndarray, b: np.ndarray, dis: cv2.DISOpticalFlow) -> PairFlow:
    """Flow both ways between RGB frames ``a`` and ``b``; DIS works on a single 8-bit channel, so on grey."""
    gray_a, gray_b = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    forward, backward = dis.calc(gray_a, gray_b, None), dis.calc(gray_b, gray_a, None)
    pixels = np.indices(a.shape[:2], dtype=np.float32)[::-1].transpose(1, 2, 0).copy()
    return PairFlow(pixels, forward, backward, _round_trip(forward, backward, pixels),
                    _round_trip(backward, forward, pixels))


def warp_between(a: np.ndarray, b: np.ndarray, flow: PairFlow, t: float) -> np.ndarray:
    """The frame at fraction ``t`` between ``a`` and ``b``, each warped toward it along ``flow`` and blended.

    Backward warping: the point at x at time t left frame 0 from about x − t·forward(x) and reaches frame 1 from
    about x − (1 − t)·backward(x) (each frame's flow at x stands in for the unknown flow at time t, exact wherever
    motion is smooth). Near a moving edge one of the two samples is of the wrong thing, so each side's weight
    (1 − t, or t) is scaled by how much it can be trusted there: the point it samples must move the way the flow
    at x says, and must survive the round trip (still be visible in the other frame). Where one frame cannot see
    what is at x the other supplies it; where neither is trusted the weights fall back to a plain cross-fade.
    """
    from_a = flow.pixels - t * flow.forward
    from_b = flow.pixels - (1.0 - t) * flow.backward
    weight_a = (1.0 - t) * (_trust(flow.forward, flow.forward_round_trip, from_a) + 1e-3)
    weight_b = t * (_trust(flow.backward, flow.backward_round_trip, from_b) + 1e-3)
    return cv2.blendLinear(_sample(a, from_a), _sample(b, from_b), weight_a, weight_b)  # Σ w·x / Σ w, rounded


def _trust(flow: np.ndarray, round_trip: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1]: 1 where the point sampled at ``at`` moves like the flow here and is seen both ways."""
    drift = _sample(flow, at) - flow
    error = cv2.magnitude(drift[..., 0], drift[..., 1]) + _sample(round_trip, at)
    return np.exp(-((error / MOTION_AGREEMENT_PX) ** 2))


def _round_trip(there: np.ndarray, back: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    miss = there + _sample(back, pixels + there)
    return cv2.magnitude(miss[..., 0], miss[..., 1])


def _sample(image: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``image`` read at the (x, y) positions in ``at`` (bilinear, edges extended)."""
    return cv2.remap(image, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class _FlowCache:
    """The flow of the pair starting at one input index, kept while several outputs fall between that pair."""

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESET)
        self._start: int | None = None
        self._flow: PairFlow | None = None

    def between(self, start: int, a: np.ndarray, b: np.ndarray) -> PairFlow:
        if self._flow is None or self._start != start:
            self._start, self._flow = start, estimate_pair_flow(a, b, self._dis)
        return self._flow
