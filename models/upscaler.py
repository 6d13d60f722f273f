"""A tiny learned super-resolution model for bringing native-size frames to the requested size.

Two FSRCNN-style nets, ×2 and ×4, each a few tens of thousands of parameters. Each predicts a residual over a
bicubic upsampling of its input, so an untrained (zero) residual is plain bicubic and training only has to
learn what bicubic misses. The body runs at the low resolution and a pixel shuffle makes the high-resolution
residual, which keeps the cost per output pixel small enough for CPU inference at native sizes.

Weights are trained by ``models/train_upscaler.py``; see ``models/weights/UPSCALER.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "kinora-sr.safetensors"
SCALES = (2, 4)
MAX_BATCH = 8  # frames per forward pass at small sizes, where batching amortises per-call overhead
# Net-output pixels per forward pass. Past this, batching bought nothing in the bench (the passes are memory
# bound) and one 1080p-bound frame already holds a 3072×1792 intermediate, so big frames go one at a time.
MAX_BATCH_PIXELS = 4_000_000


class SRNet(nn.Module):
    """FSRCNN layout (extract, shrink, map, expand) with an ESPCN pixel-shuffle tail and a bicubic skip."""

    def __init__(self, scale: int, features: int = 32, shrunk: int = 16, mapping: int = 3) -> None:
        super().__init__()
        self.scale = scale
        self.config = {"features": features, "shrunk": shrunk, "mapping": mapping}  # saved with the weights
        layers: list[nn.Module] = [nn.Conv2d(3, features, 5, padding=2), nn.PReLU(features),
                                   nn.Conv2d(features, shrunk, 1), nn.PReLU(shrunk)]
        for _ in range(mapping):
            layers += [nn.Conv2d(shrunk, shrunk, 3, padding=1), nn.PReLU(shrunk)]
        layers += [nn.Conv2d(shrunk, features, 1), nn.PReLU(features)]
        self.body = nn.Sequential(*layers)
        self.tail = nn.Conv2d(features, 3 * scale * scale, 3, padding=1)
        # A near-zero tail makes the fresh net bicubic to within rounding, so training starts from the baseline it
        # must beat; not exactly zero, or the body gets no gradient until the tail has grown.
        nn.init.normal_(self.tail.weight, std=1e-3)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (N, 3, h, w) floats in [0, 1] → (N, 3, h·scale, w·scale), not clamped."""
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + F.pixel_shuffle(self.tail(self.body(x - 0.5)), self.scale)


def plan_passes(width: int, height: int, target_width: int, target_height: int) -> list[int]:
    """The net scales to apply, in order, so the result is at least the target; [] when no upscaling is needed.

    ×2 goes first when the count of doublings is odd: the body runs at its input size, so the cheap pass should
    see the smaller image.
    """
    doublings = 0
    while (width << doublings) < target_width or (height << doublings) < target_height:
        doublings += 1
    return [2] * (doublings % 2) + [4] * (doublings // 2)


def lanczos_resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.LANCZOS))


class LearnedUpscaler:
    """Upscales RGB uint8 frames with the learned nets, then Lanczos to the exact size."""

    def __init__(self, nets: dict[int, SRNet], name: str, device: str = "cpu") -> None:
        self.nets = {scale: net.to(device).eval() for scale, net in nets.items()}
        self.name = name
        self.device = torch.device(device)

    def upscale(self, frame: np.ndarray, width: int, height: int) -> np.ndarray:
        """RGB uint8 (H, W, 3) → exactly (height, width, 3) uint8."""
        return self.upscale_batch([frame], width, height)[0]

    def upscale_batch(self, frames: list[np.ndarray], width: int, height: int) -> list[np.ndarray]:
        """Like ``upscale`` for frames of one size, run through the nets a few at a time."""
        if not frames:
            return []
        first = frames[0]
        if first.dtype != np.uint8 or first.ndim != 3 or first.shape[2] != 3:
            raise ValueError(f"frames must be RGB uint8 (H, W, 3), got {first.dtype} {first.shape}")
        if any(f.shape != first.shape for f in frames):
            raise ValueError("upscale_batch needs frames of one size")
        if width < 1 or height < 1:
            raise ValueError(f"target size must be positive, got {width}x{height}")
        h, w = first.shape[:2]
        passes = plan_passes(w, h, width, height)
        if not passes:
            return [lanczos_resize(f, width, height) for f in frames]
        net_pixels = w * h * math.prod(passes) ** 2
        per_pass = max(1, min(MAX_BATCH, MAX_BATCH_PIXELS // net_pixels))
        out: list[np.ndarray] = []
        for start in range(0, len(frames), per_pass):
            chunk = self._run_nets(np.stack(frames[start:start + per_pass]), passes)
            out.extend(lanczos_resize(f, width, height) for f in chunk)
        return out

    @torch.inference_mode()
    def _run_nets(self, batch: np.ndarray, passes: list[int]) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float().div_(255)
        for scale in passes:
            # Clamp between passes: the next net was trained on images in [0, 1], not on overshoot.
            x = self.nets[scale](x).clamp_(0, 1)
        return x.mul_(255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()


def save_upscaler(nets: dict[int, SRNet], path: Path, name: str) -> None:
    tensors = {f"x{scale}.{key}": value.detach().contiguous().cpu()
               for scale, net in nets.items() for key, value in net.state_dict().items()}
    config = {str(scale): net.config for scale, net in nets.items()}
    save_file(tensors, str(path), metadata={"name": name, "config": json.dumps(config)})


def load_upscaler(path: Path | str = DEFAULT_WEIGHTS, device: str = "cpu") -> LearnedUpscaler:
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    config = json.loads(metadata["config"])
    tensors = load_file(str(path))
    nets: dict[int, SRNet] = {}
    for scale_key, kwargs in config.items():
        scale = int(scale_key)
        net = SRNet(scale, **kwargs)
        prefix = f"x{scale}."
        net.load_state_dict({k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)})
        nets[scale] = net
    missing = set(SCALES) - set(nets)
    if missing:
        raise ValueError(f"{path} has no net for scale(s) {sorted(missing)}")
    return LearnedUpscaler(nets, metadata.get("name", "kinora-sr"), device=device)
