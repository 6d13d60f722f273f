"""The worker's view of a model: load it once, then turn a resolved request into native RGB frames.

The generator owns loading and inference; the worker task stays thin and does not know whether the
weights are a tiny preset or a real checkpoint.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import diffusers
import numpy as np
import torch

from kinora.jobs import GenerationRequest
from models.registry import ModelSpec, native_frames, native_size
from models.tiny import PRESETS

log = logging.getLogger(__name__)

StepCallback = Callable[[int, int], None]  # (steps done, total steps)


class WeightsNotFound(FileNotFoundError):
    pass


@dataclass(frozen=True)
class NativeVideo:
    frames: np.ndarray  # (F, H, W, 3) uint8
    fps: int


def pick_device(preference: str) -> str:
    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return preference


class VideoGenerator:
    def __init__(self, spec: ModelSpec, pipe: diffusers.DiffusionPipeline, device: str) -> None:
        self.spec = spec
        self.pipe = pipe
        self.device = device

    @classmethod
    def load(cls, spec: ModelSpec, models_dir: Path, device: str = "auto") -> VideoGenerator:
        device = pick_device(device)
        if spec.is_preset:
            pipe = PRESETS[spec.weights.removeprefix("preset:")]()
        else:
            if missing := spec.missing_weights(models_dir):
                raise WeightsNotFound(f"weights for {spec.name} not found at {missing}")
            path = spec.weights_path(models_dir)
            dtype = torch.bfloat16 if device == "cuda" else torch.float32
            pipe_cls = getattr(diffusers, spec.pipeline)
            pipe = pipe_cls.from_pretrained(path, dtype=dtype, local_files_only=True)
        pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        log.info("loaded model %s on %s", spec.name, device)
        return cls(spec, pipe, device)

    def generate(self, req: GenerationRequest, on_step: StepCallback) -> NativeVideo:
        width, height = native_size(self.spec, req.width, req.height)
        num_frames = native_frames(self.spec, req.duration)
        steps = req.steps

        def callback(pipe: object, i: int, t: object, kwargs: dict) -> dict:
            on_step(i + 1, steps)  # may raise to stop within one step (cancellation)
            return kwargs

        generator = torch.Generator(device="cpu").manual_seed(req.seed)
        extra = {}
        if "frame_rate" in inspect.signature(self.pipe.__call__).parameters:  # LTX conditions on the frame rate
            extra["frame_rate"] = self.spec.native_fps
        with torch.inference_mode():
            out = self.pipe(
                prompt=req.prompt,
                negative_prompt=req.negative_prompt or "",
                width=width,
                height=height,
                num_frames=num_frames,
                **extra,
                num_inference_steps=steps,
                guidance_scale=req.guidance_scale,
                generator=generator,
                output_type="np",
                callback_on_step_end=callback,
            )
        frames = np.asarray(out.frames[0])
        return NativeVideo(frames=(frames.clip(0, 1) * 255).round().astype(np.uint8), fps=self.spec.native_fps)
