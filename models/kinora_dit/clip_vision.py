"""Find the background and the one object in a clip: the measurements the judge decides from.

Everything runs on a 64x64 copy of the clip (a copy of the same area, for a clip that is not square), so
thresholds and kernel sizes are in one unit whatever the input size. The background is a plane (per colour
channel) fitted to the border of the per-pixel temporal median: the procedural backgrounds are vertical
gradients, and a plane also absorbs the slow shading a model tends to produce. The object is, in each frame,
the blob that differs from that plane with the most pixels of the object's colour; rain streaks, snowflakes
and stars are too thin to count as blobs at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.kinora_dit.scenes import COLOR_RGB

WORK = 64  # side of the working copy (of a square of its area, for a clip that is not square)
BORDER = 3  # pixels of the working copy that make the background's border ring
MIN_AREA = 20  # pixels of the working copy: smaller blobs are particles or noise
NEAR = 4  # pixels: pieces of the object this close to its biggest piece join it...
PIECE = 0.35  # ...if they are at least this big relative to it (a snowflake is not)
GROW = 4  # pixels around the blob where a blurred object's edge still adds to its mask
OFF_LINE, OFF_LINE_SHARE = 30.0, 0.25  # how far (RGB, or share of the pixel's distance from the background)
# a pixel may lie off the background-to-object colour line and still count as object
_KERNEL = np.ones((3, 3), np.uint8)
_THICK = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))  # a blob must hold this disc somewhere
_PALETTE = [np.array(rgb, np.float32) for rgb in COLOR_RGB.values()]


@dataclass(frozen=True)
class Background:
    image: np.ndarray  # (h, w, 3) float32, the fitted plane over the working copy
    top: np.ndarray  # (3,) colour along the top edge
    bottom: np.ndarray  # (3,) colour along the bottom edge


@dataclass(frozen=True)
class ObjectTrack:
    present: np.ndarray  # (F,) bool
    x: np.ndarray  # (F,) centroid, fraction of the width (nan where absent)
    y: np.ndarray  # (F,) centroid, fraction of the height
    area: np.ndarray  # (F,) soft area, fraction of the frame (0 where absent)
    alpha: np.ndarray  # (F, h, w) float32 soft mask of the object in the working copy, 0 away from it
    color: np.ndarray  # (3,) the object's colour (see ``object_color``), nan if no object was found
    region: np.ndarray  # (F, h, w) bool, where alpha > 0


def work_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) of the working copy of a clip: WORK × WORK for a square, the same area and aspect otherwise."""
    k = WORK / np.sqrt(height * width)
    return round(height * k), round(width * k)


def working_copy(clip: np.ndarray) -> np.ndarray:
    """(F, h, w, 3) float32 (``work_size``) from any (F, H, W, 3) uint8 clip."""
    if clip.ndim != 4 or clip.shape[-1] != 3:
        raise ValueError(f"expected a (frames, height, width, 3) clip, got shape {clip.shape}")
    h, w = work_size(clip.shape[1], clip.shape[2])
    shrink = clip.shape[1] > h or clip.shape[2] > w
    method = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    frames = [cv2.resize(np.ascontiguousarray(f), (w, h), interpolation=method) for f in clip]
    return np.stack(frames).astype(np.float32)


def fit_background(frames: np.ndarray) -> Background:
    """A robust per-channel plane through the border ring of the temporal median."""
    median = np.median(frames, axis=0)
    h, w = median.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ring = np.zeros((h, w), bool)
    ring[:BORDER], ring[-BORDER:], ring[:, :BORDER], ring[:, -BORDER:] = True, True, True, True
    design = np.stack([np.ones(ring.sum(), np.float32), xx[ring] / w, yy[ring] / h], axis=1)
    values = median[ring]
    keep = np.ones(len(values), bool)
    for _ in range(3):  # drop stars and whatever touches the edge, then refit
        coef, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
        residual = np.linalg.norm(values - design @ coef, axis=1)
        keep = residual <= max(10.0, 2.5 * float(np.median(residual[keep])))
    grid = np.stack([np.ones_like(xx), (xx + 0.5) / w, (yy + 0.5) / h], axis=-1)
    image = (grid @ coef).astype(np.float32)
    top = coef[0] + 0.5 * coef[1]
    return Background(image=image, top=top, bottom=top + coef[2])


def _blobs(distance: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Connected blobs of pixels far from the background, (labels, sizes), keeping only blobs thick enough
    somewhere to survive an erosion: raindrops, snowflakes and stars go, while the blobs kept stay whole
    (an opening would shave the star's points and the sun's rays)."""
    mask = (distance > threshold).astype(np.uint8)
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    thick = np.unique(labels[cv2.erode(mask, _THICK) > 0])
    thick = thick[thick > 0]
    kept = np.zeros(count, np.int32)
    kept[thick] = np.arange(1, len(thick) + 1)
    labels = kept[labels]
    return labels, np.bincount(labels.ravel(), minlength=len(thick) + 1)[1:].astype(np.int32)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every region it encloses added: the ball's spot and the car's hubcaps are object."""
    outside = np.zeros((mask.shape[0] + 4, mask.shape[1] + 4), np.uint8)
    padded = np.pad(mask.astype(np.uint8), 1)
    cv2.floodFill(padded, outside, (0, 0), 2)
    return padded[1:-1, 1:-1] != 2


def color_fit(pixels: np.ndarray, behind: np.ndarray, color: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(along, on_line) for pixels (..., 3) over background colours ``behind``: how far along the line from
    the background colour to ``color`` each pixel is (0..1), and whether it lies close to that line. A pixel
    at an object's edge is a mix of the two colours and lies part-way along."""
    offset, towards = pixels - behind, color - behind
    length2 = np.maximum(np.einsum("...c,...c->...", towards, towards), 400.0)
    along = np.clip(np.einsum("...c,...c->...", offset, towards) / length2, 0.0, 1.0)
    miss = offset - along[..., None] * towards
    tolerance2 = np.maximum(OFF_LINE**2, OFF_LINE_SHARE**2 * np.einsum("...c,...c->...", offset, offset))
    return along, np.einsum("...c,...c->...", miss, miss) <= tolerance2


def color_alpha(pixels: np.ndarray, behind: np.ndarray, color: np.ndarray) -> np.ndarray:
    """How much of each pixel is ``color`` over its background: along the line if on it, else 0."""
    along, on_line = color_fit(pixels, behind, color)
    return np.where(on_line, along, 0.0)


def _object_blob(frame: np.ndarray, background: np.ndarray, labels: np.ndarray, color: np.ndarray,
                 min_size: float) -> np.ndarray | None:
    """The blob with the most pixels of the object's colour (or mixes of it with the background), with the
    blobs of that colour right next to it. Counting coloured pixels rather than blob pixels keeps a raindrop
    that touches the object, or a cluster of snowflakes, from winning or from spoiling the object's blob."""
    coloured = color_alpha(frame, background, color) >= 0.3
    counts = np.bincount(labels[coloured], minlength=int(labels.max()) + 1)[1:]
    order = np.argsort(-counts)
    if len(order) == 0 or counts[order[0]] < min_size:
        return None
    blob = labels == order[0] + 1
    near = cv2.dilate(blob.astype(np.uint8), _KERNEL, iterations=NEAR).astype(bool)
    for index in order[1:]:
        if counts[index] < PIECE * counts[order[0]]:
            break
        piece = labels == index + 1
        if (piece & near).any():
            blob |= piece
    return blob


def _soft_mask(frame: np.ndarray, background: np.ndarray, color: np.ndarray, blob: np.ndarray) -> np.ndarray:
    """How much of each pixel is object: where the pixel lies on the line from the background colour to the
    object colour (mixed edge pixels lie part-way). Pixels off that line count as background (a raindrop or
    a snowflake beside the object) unless object surrounds them (its dark spot or hubcaps, a raindrop in
    front of it) or the blob encloses them: those count as object, so the area is what the outline holds."""
    along, on_line = color_fit(frame, background, color)
    surrounded = cv2.blur((on_line & (along >= 0.5)).astype(np.float32), (5, 5)) >= 0.5
    enclosed = _fill_holes(blob) & ~blob
    alpha = np.where((surrounded & ~on_line) | enclosed, 1.0, np.where(on_line, along, 0.0)).astype(np.float32)
    grown = cv2.dilate(blob.astype(np.uint8), _KERNEL, iterations=GROW) > 0
    return cv2.morphologyEx(alpha, cv2.MORPH_CLOSE, _KERNEL) * grown


def track_object(frames: np.ndarray, background: Background) -> ObjectTrack:
    """Per frame, the blob most like the object; its soft mask, centroid and area."""
    smooth = np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in frames])
    distance = np.linalg.norm(smooth - background.image, axis=-1)
    threshold = float(np.clip(0.35 * np.percentile(distance, 99.7), 28.0, 60.0))
    blobs = [_blobs(d, threshold) for d in distance]
    # first pass: the biggest blob per frame; the object's colour from the frames where it is biggest
    biggest = np.array([sizes.max(initial=0) for _, sizes in blobs])
    strong = [f for f in np.argsort(-biggest)[: max(1, len(frames) // 2)] if biggest[f] >= MIN_AREA]
    color = object_color(frames[strong], background.image,
                         [blobs[f][0] == 1 + int(np.argmax(blobs[f][1])) for f in strong])
    reference = float(np.percentile(biggest[biggest >= MIN_AREA], 75)) if strong else 0.0
    # second pass: the object's blob in every frame where it is there
    n, h, w = frames.shape[:3]
    present = np.zeros(n, bool)
    xs, ys, areas = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n)
    alpha = np.zeros((n, h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    for f, (labels, _) in enumerate(blobs):
        blob = (_object_blob(smooth[f], background.image, labels, color, 0.5 * max(MIN_AREA, 0.25 * reference))
                if strong else None)
        if blob is None:
            continue
        soft = _soft_mask(smooth[f], background.image, color, blob).astype(np.float32)
        mass = float(soft.sum())
        if mass <= 0.0:
            continue
        present[f], alpha[f] = True, soft
        xs[f], ys[f] = float((soft * xx).sum() / mass) / w, float((soft * yy).sum() / mass) / h
        areas[f] = mass / (h * w)
    return ObjectTrack(present=present, x=xs, y=ys, area=areas, alpha=alpha, color=color, region=alpha > 0)


def object_color(frames: np.ndarray, background: np.ndarray, blobs: list[np.ndarray]) -> np.ndarray:
    """The object's colour from its blobs. Edge pixels are mixtures of object and background, so each
    palette colour is scored by how many blob pixels lie on the line from the background to it, weighted by
    how far along; the winner is refined to the median of the pixels near its end of the line."""
    if not blobs:
        return np.full(3, np.nan, np.float32)
    pixels = np.concatenate([frame[blob] for frame, blob in zip(frames, blobs, strict=True)])
    behind = np.concatenate([background[blob] for blob in blobs])
    scores = [color_alpha(pixels, behind, rgb) for rgb in _PALETTE]
    best = int(np.argmax([float(along[along >= 0.3].sum()) for along in scores]))
    pure = pixels[scores[best] >= 0.95]
    return np.median(pure, axis=0) if len(pure) >= 20 else _PALETTE[best].copy()
