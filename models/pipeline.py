"""The worker's view of a model: load it once, then turn a resolved request into native RGB frames.

The generator owns loading and inference; the worker task stays thin and does not know whether the
weights are a tiny preset or a real checkpoint.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import diffusers
import numpy as np
import torch
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
from PIL import Image

from models.registry import ModelSpec
from models.tiny import PRESETS

log = logging.getLogger(__name__)

StepCallback = Callable[[int, int], None]  # (steps done, total steps)


class WeightsNotFound(FileNotFoundError):
    pass


def pick_device(preference: str) -> str:
    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return preference


def weights_version(pipe: diffusers.DiffusionPipeline, folder: Path | None) -> str:
    """A short fingerprint of the weights, so a job says exactly which ones made it.

    A checkpoint folder: its files' names, sizes and first and last MiB (reading gigabytes in full would slow
    every worker start). A built-in preset: every parameter of its networks, which are small.
    """
    digest = hashlib.sha256()
    if folder is not None:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            size = path.stat().st_size
            digest.update(f"{path.relative_to(folder)}:{size}".encode())
            with path.open("rb") as f:
                digest.update(f.read(1 << 20))
                f.seek(max(0, size - (1 << 20)))
                digest.update(f.read(1 << 20))
    else:
        for name, component in sorted(pipe.components.items()):
            if isinstance(component, torch.nn.Module):
                for key, tensor in sorted(component.state_dict().items()):
                    digest.update(f"{name}.{key}".encode())
                    digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return "sha256:" + digest.hexdigest()[:16]


class VideoGenerator:
    def __init__(self, spec: ModelSpec, pipe: diffusers.DiffusionPipeline, device: str, version: str = "") -> None:
        self.spec = spec
        self.pipe = pipe
        self.device = device
        self.version = version
        # A model whose main pipeline cannot regenerate a clip gets the one that can, on the same components.
        self.modify_pipe = getattr(diffusers, spec.modify_pipeline).from_pipe(pipe) if spec.modify_pipeline else None

    def pipe_for(self, run: RunInputs) -> diffusers.DiffusionPipeline:
        return self.modify_pipe if run.source is not None and self.modify_pipe is not None else self.pipe

    @classmethod
    def load(cls, spec: ModelSpec, models_dir: Path, device: str = "auto") -> VideoGenerator:
        device = pick_device(device)
        path = None
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
        if hasattr(getattr(pipe, "vae", None), "use_framewise_decoding"):
            # Decode a run a few frames at a time: the decoder's memory then no longer grows with the run length.
            pipe.vae.use_framewise_decoding = True
        version = weights_version(pipe, path)
        log.info("loaded model %s (%s) on %s", spec.name, version, device)
        return cls(spec, pipe, device, version)

    def generate_run(self, run: RunInputs, on_step: StepCallback) -> np.ndarray:
        """One model run → (F, H, W, 3) uint8 frames at the native size."""
        steps = effective_steps(run.steps, run.strength if run.source is not None else 1.0)

        def callback(pipe: object, i: int, t: object, kwargs: dict) -> dict:
            on_step(i + 1, steps)  # may raise to stop within one step (cancellation)
            return kwargs

        with torch.inference_mode():
            out = self.pipe_for(run)(**self.pipe_arguments(run), output_type="np", callback_on_step_end=callback)
        frames = np.asarray(out.frames[0])
        return (frames.clip(0, 1) * 255).round().astype(np.uint8)

    def pipe_arguments(self, run: RunInputs) -> dict:
        """The diffusers call for a run: prompt, sizes, seed, and its image/video conditions."""
        params = inspect.signature(self.pipe_for(run).__call__).parameters
        args: dict = dict(
            prompt=run.prompt, negative_prompt=run.negative_prompt or "", width=run.width, height=run.height,
            num_frames=run.num_frames, num_inference_steps=run.steps, guidance_scale=run.guidance_scale,
            generator=torch.Generator(device="cpu").manual_seed(run.seed),
        )
        if "frame_rate" in params:  # LTX conditions on the frame rate
            args["frame_rate"] = self.spec.native_fps
        conditions = run.conditions()
        if "conditions" in params:  # LTX: images and clips pinned at frame indexes
            if conditions:
                args["conditions"] = [_ltx_condition(c) for c in conditions]
        elif "strength" in params and run.source is not None and not conditions:  # Wan video-to-video
            args["video"] = [Image.fromarray(f).resize((run.width, run.height), Image.Resampling.LANCZOS)
                             for f in run.source]
            args["strength"] = run.strength
            del args["num_frames"]  # the source clip's length
            return args
        elif "mask" in params and run.source is None:  # Wan VACE: frames to keep, black in a mask of what to make
            if conditions:
                args["video"], args["mask"] = _vace_frames(conditions, run)
        elif "image" in params and [(c.is_image, c.index) for c in conditions] == [(True, 0)] and not run.source:
            args["image"] = Image.fromarray(conditions[0].frames[0])  # Wan image-to-video: the first frame
        elif conditions or run.source is not None or "image" in params or "mask" in params:
            raise ValueError(f"{self.spec.name} cannot be conditioned this way (its inputs: "
                             f"{', '.join(self.spec.inputs)}; image at: {', '.join(self.spec.image_positions)})")
        if run.source is not None:  # modify: start from the noised source clip instead of pure noise
            with torch.inference_mode():
                args["latents"] = self._encode_video(run.source, run.width, run.height)
            args["denoise_strength"] = run.strength
        return args

    def _encode_video(self, frames: list[np.ndarray], width: int, height: int) -> torch.Tensor:
        """Normalised VAE latents of a clip, the form the pipeline's denoising starts from (pixels for a
        pixel-space model)."""
        pipe = self.pipe
        if getattr(pipe, "vae", None) is None:
            return pipe.video_to_tensor([np.asarray(Image.fromarray(f).resize((width, height))) for f in frames])
        video = pipe.video_processor.preprocess_video([Image.fromarray(f) for f in frames], height, width)
        vae = pipe.vae
        latents = vae.encode(video.to(self.device, dtype=vae.dtype)).latent_dist.mode()
        return pipe._normalize_latents(latents, vae.latents_mean, vae.latents_std).float()


def effective_steps(steps: int, strength: float) -> int:
    """Denoising steps a run really takes: a modify run of strength s skips the first (1 - s) of them."""
    return max(1, min(int(steps * strength), steps))


@dataclass(frozen=True)
class Condition:
    """Frames the generated clip must show at ``index``: one image, or a clip starting there."""

    frames: list[np.ndarray]
    index: int = 0
    is_image: bool = False


@dataclass
class RunInputs:
    prompt: str
    negative_prompt: str | None
    width: int
    height: int
    num_frames: int
    seed: int
    steps: int
    guidance_scale: float
    lead: list[np.ndarray] | None = None  # frames the run continues from (its first frames re-create them)
    image: np.ndarray | None = None
    image_index: int = 0
    source: list[np.ndarray] | None = None  # modify: the clip to regenerate
    strength: float = 1.0

    def conditions(self) -> list[Condition]:
        found = []
        if self.lead:
            found.append(Condition(frames=self.lead))
        if self.image is not None:
            found.append(Condition(frames=[self.image], index=self.image_index, is_image=True))
        return found


def _ltx_condition(condition: Condition) -> LTXVideoCondition:
    if condition.is_image:
        return LTXVideoCondition(image=Image.fromarray(condition.frames[0]), frame_index=condition.index)
    return LTXVideoCondition(video=[Image.fromarray(f) for f in condition.frames], frame_index=condition.index)


def _vace_frames(conditions: list[Condition], run: RunInputs) -> tuple[list[Image.Image], list[Image.Image]]:
    """VACE's inputs for a run: the conditioning frames where they belong and grey elsewhere, and a mask that
    is black on the frames to keep and white on those to make."""
    size = (run.width, run.height)
    video = [Image.new("RGB", size, (128, 128, 128))] * run.num_frames
    keep = [False] * run.num_frames
    for condition in conditions:
        start = condition.index % run.num_frames if condition.index < 0 else condition.index
        for offset, frame in enumerate(condition.frames[: max(0, run.num_frames - start)]):
            video[start + offset] = Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS)
            keep[start + offset] = True
    return video, [Image.new("L", size, 0 if kept else 255) for kept in keep]
