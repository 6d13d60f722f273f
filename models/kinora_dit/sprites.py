"""The shapes as outlines in unit coordinates, shared by the renderer and the judge's shape templates.

A sprite is centred on the origin with y pointing down; its nominal radius is 1, so a scene's ``size`` (a
diameter as a fraction of the frame) maps to pixels by one scale factor. Each sprite is a list of primitives:
``("poly", (N, 2) array)`` or ``("circle", (cx, cy, r))``. ``body`` is everything the object covers; ``shade``
is the part drawn darker, always enclosed by the body: the ball's spot shows that it turns, and a car reads
as a car with dark hubcaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Primitive = tuple[str, object]


@dataclass(frozen=True)
class Sprite:
    body: tuple[Primitive, ...]
    shade: tuple[Primitive, ...] = ()


def _regular(n: int, radius: float, start_deg: float) -> np.ndarray:
    angles = np.deg2rad(start_deg + 360.0 * np.arange(n) / n)
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star(points: int, outer: float, inner: float) -> np.ndarray:
    tips = _regular(points, outer, -90.0)
    notches = _regular(points, inner, -90.0 + 180.0 / points)
    return np.stack([tips, notches], axis=1).reshape(-1, 2)


def _sun_rays(rays: int, base: float, tip: float, half_width_deg: float) -> tuple[Primitive, ...]:
    out = []
    for k in range(rays):
        mid = np.deg2rad(360.0 * k / rays)
        w = np.deg2rad(half_width_deg)
        pts = np.array([[base * np.cos(mid - w), base * np.sin(mid - w)],
                        [tip * np.cos(mid), tip * np.sin(mid)],
                        [base * np.cos(mid + w), base * np.sin(mid + w)]])
        out.append(("poly", pts))
    return tuple(out)


_CAR_BODY = np.array([[-1.1, -0.05], [0.75, -0.05], [1.1, 0.1], [1.1, 0.42], [-1.1, 0.42]])
_CAR_CABIN = np.array([[-0.7, -0.05], [-0.45, -0.55], [0.3, -0.55], [0.6, -0.05]])
_CAR_WHEELS = (("circle", (-0.6, 0.45, 0.27)), ("circle", (0.6, 0.45, 0.27)))
_CAR_SHIFT = np.array([0.0, -0.08])  # centres the car's bounding box on the origin

SPRITES: dict[str, Sprite] = {
    # a disc with a dark spot off its centre: a plain disc would look the same at every angle, and a spot
    # (unlike a seam across it) never cuts the ball in two where the dark shade is close to the background
    "ball": Sprite(body=(("circle", (0.0, 0.0, 1.0)),), shade=(("circle", (0.4, -0.1, 0.27)),)),
    "square": Sprite(body=(("poly", _regular(4, 1.13, 45.0)),)),
    "triangle": Sprite(body=(("poly", _regular(3, 1.15, -90.0) + [0.0, 0.12]),)),
    "star": Sprite(body=(("poly", _star(5, 1.15, 0.48)),)),
    # a disc in a ring of short rays with a gap between: the gap survives blur, so a blurry sun is still no
    # ball; seven rays, an odd count, keep a turn between frames from matching the rays' own symmetry
    "sun": Sprite(body=(("circle", (0.0, 0.0, 0.5)), *_sun_rays(7, 0.72, 1.15, 16.0))),
    "car": Sprite(body=(("poly", _CAR_BODY + _CAR_SHIFT), ("poly", _CAR_CABIN + _CAR_SHIFT),
                        *(("circle", (x, y - 0.08, r)) for _, (x, y, r) in _CAR_WHEELS)),
                  shade=tuple(("circle", (x, y - 0.08, r * 0.62)) for _, (x, y, r) in _CAR_WHEELS)),
}


def place(primitives: tuple[Primitive, ...], centre: tuple[float, float], radius: float, angle_deg: float,
          mirror: bool = False) -> list[Primitive]:
    """Primitives in pixel coordinates: mirrored (a car facing left), turned by ``angle_deg``, scaled, moved."""
    c, s = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    turn = np.array([[c, -s], [s, c]])
    flip = -1.0 if mirror else 1.0
    out: list[Primitive] = []
    for kind, data in primitives:
        if kind == "poly":
            pts = np.asarray(data) * [flip, 1.0]
            out.append(("poly", pts @ turn.T * radius + centre))
        else:
            cx, cy, r = data  # type: ignore[misc]
            x, y = turn @ np.array([cx * flip, cy])
            out.append(("circle", (centre[0] + x * radius, centre[1] + y * radius, r * radius)))
    return out
