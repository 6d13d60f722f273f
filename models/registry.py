"""The model registry: a name → the pipeline that runs it, where its weights come from, and its native rules.

Torch-free: the gateway uses it to validate requests and to describe models.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

MAX_REQUEST_SECONDS = 60.0  # longest video one request may ask for; longer than one model run → chained segments


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    pipeline: str  # diffusers pipeline class name
    weights: str  # "preset:<name>" for built-in tiny presets, else a folder name under KINORA_MODELS_DIR
    description: str
    random_weights: bool
    native_fps: int
    frame_multiple: int  # native frame counts are frame_multiple·k + 1
    size_multiple: int  # native width and height are multiples of this
    native_area: int  # pixels per frame the model is made for; sizes keep the aspect ratio around it
    max_frames: int
    default_steps: int
    default_guidance: float
    # What a request may condition on besides text. "image": animate an image; "video": extend or modify a
    # clip. A model that takes video can also chain runs, each conditioned on the tail of the previous one.
    inputs: tuple[str, ...] = ("text",)
    overlap_frames: int = 0  # native frames of the previous run each chained run is conditioned on
    requires_image: bool = False  # an image-to-video model: every request animates an image
    image_positions: tuple[str, ...] = ("first", "last")
    video_modes: tuple[str, ...] = ("extend", "modify")  # what a model that takes video can do with it
    modify_pipeline: str | None = None  # a pipeline on the same components that regenerates a clip (modify)

    @property
    def run_seconds(self) -> float:
        """Longest clip one run of the model makes."""
        return (self.max_frames - 1) / self.native_fps

    @property
    def can_chain(self) -> bool:
        return "video" in self.inputs and self.overlap_frames > 0

    @property
    def max_seconds(self) -> float:
        return MAX_REQUEST_SECONDS if self.can_chain else self.run_seconds

    @property
    def is_preset(self) -> bool:
        return self.weights.startswith("preset:")

    def weights_path(self, models_dir: Path) -> Path | None:
        return None if self.is_preset else Path(models_dir) / self.weights

    def missing_weights(self, models_dir: Path) -> Path | None:
        """The checkpoint folder this model needs when it is not there; None when the weights are at hand."""
        path = self.weights_path(models_dir)
        return path if path is not None and not path.is_dir() else None

    def describe(self, models_dir: Path) -> dict:
        info = asdict(self)
        info["max_seconds"] = round(self.max_seconds, 3)
        info["run_seconds"] = round(self.run_seconds, 3)
        info["inputs"] = list(self.inputs)
        info["image_positions"] = list(self.image_positions)
        info["video_modes"] = list(self.video_modes) if "video" in self.inputs else []
        info["available"] = self.missing_weights(models_dir) is None
        return info


def checkpoint(preset: ModelSpec, name: str, weights: str, description: str, native_area: int,
               default_steps: int) -> ModelSpec:
    """A real checkpoint of a tiny preset's pipeline: the same rules and inputs (the preset stands in for it in
    tests), its own weights, size and steps."""
    return replace(preset, name=name, weights=weights, description=description, random_weights=False,
                   native_area=native_area, default_steps=default_steps)


LTX_TINY = ModelSpec(
    name="ltx-tiny",
    family="ltx",
    pipeline="LTXConditionPipeline",
    weights="preset:ltx-tiny",
    description=(
        "Tiny LTX-Video pipeline with RANDOM transformer and VAE weights (text encoder: the real "
        "all-MiniLM-L6-v2). It exercises the whole service on a CPU in about a second but produces "
        "noise-like video that does not follow the prompt."
    ),
    random_weights=True,
    native_fps=24,
    frame_multiple=8,
    size_multiple=32,
    native_area=224 * 128,
    max_frames=257,  # as LTX-Video: longer requests chain runs
    default_steps=8,
    default_guidance=3.0,
    inputs=("text", "image", "video"),
    overlap_frames=9,
)

WAN_TINY = ModelSpec(
    name="wan-tiny",
    family="wan",
    pipeline="WanPipeline",
    weights="preset:wan-tiny",
    description=(
        "Tiny Wan 2.1 pipeline with RANDOM transformer and VAE weights (text encoder: the real "
        "all-MiniLM-L6-v2), for tests of Wan's frame and size rules: text, or a clip to modify (Wan's "
        "video-to-video pipeline on the same components). Noise-like video."
    ),
    random_weights=True,
    native_fps=16,
    frame_multiple=4,
    size_multiple=16,
    native_area=160 * 96,
    max_frames=81,
    default_steps=4,
    default_guidance=5.0,
    inputs=("text", "video"),
    video_modes=("modify",),
    modify_pipeline="WanVideoToVideoPipeline",
)

WAN_TINY_I2V = ModelSpec(
    name="wan-tiny-i2v",
    family="wan",
    pipeline="WanImageToVideoPipeline",
    weights="preset:wan-tiny-i2v",
    description=(
        "Tiny Wan 2.1 image-to-video pipeline with RANDOM transformer, VAE and CLIP image encoder weights "
        "(text encoder: the real all-MiniLM-L6-v2): every request animates an image. Noise-like video."
    ),
    random_weights=True,
    native_fps=16,
    frame_multiple=4,
    size_multiple=16,
    native_area=160 * 96,
    max_frames=81,
    default_steps=4,
    default_guidance=5.0,
    inputs=("text", "image"),
    requires_image=True,
    image_positions=("first",),
)

WAN_TINY_VACE = ModelSpec(
    name="wan-tiny-vace",
    family="wan",
    pipeline="WanVACEPipeline",
    weights="preset:wan-tiny-vace",
    description=(
        "Tiny Wan 2.1 VACE pipeline with RANDOM weights (text encoder: the real all-MiniLM-L6-v2): Wan's "
        "rules with frames to keep and a mask, so it animates an image at the first or last frame, "
        "extends clips and chains runs up to 60 s. Noise-like video."
    ),
    random_weights=True,
    native_fps=16,
    frame_multiple=4,
    size_multiple=16,
    native_area=160 * 96,
    max_frames=81,
    default_steps=4,
    default_guidance=5.0,
    inputs=("text", "image", "video"),
    overlap_frames=9,
    video_modes=("extend",),
)

KINORA_DIT = ModelSpec(
    name="kinora-dit",
    family="kinora",
    pipeline="KinoraDiTPipeline",
    weights="preset:kinora-dit",
    description=(
        "Kinora's own small video model, the embedded default (models/kinora_dit/MODEL_CARD.md): a "
        "pixel-space diffusion transformer trained here, on a CPU, on generated clips of one shape in one of "
        "eight colours moving over a simple background, from English or French prompts. 32×32 at 8 fps, "
        "brought to the requested size and rate by the worker; seconds on a CPU. It follows the background, "
        "the colour, rain/snow/blinking and the motion nearly always, the shape less than half the time; "
        "anything outside its world comes out as a shape on a background."
    ),
    random_weights=False,
    native_fps=8,
    frame_multiple=1,
    size_multiple=8,
    native_area=32 * 32,
    max_frames=16,  # the clip length it was trained on; longer requests chain runs
    default_steps=20,
    default_guidance=3.0,
    inputs=("text", "image", "video"),
    overlap_frames=4,
)


REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in (
    LTX_TINY,
    checkpoint(
        LTX_TINY,
        name="ltx-video",
        weights="LTX-Video",
        description=(
            "Lightricks LTX-Video (0.9.5 or later, for image and video conditioning) in diffusers format, "
            "loaded from KINORA_MODELS_DIR/LTX-Video "
            "(download it there; nothing is fetched at run time). Needs a GPU for practical speed."
        ),
        native_area=768 * 512,
        default_steps=40,
    ),
    WAN_TINY,
    checkpoint(
        WAN_TINY,
        name="wan2.1-t2v-1.3b",
        weights="Wan2.1-T2V-1.3B-Diffusers",
        description=(
            "Wan 2.1 text-to-video 1.3B in diffusers format, loaded from "
            "KINORA_MODELS_DIR/Wan2.1-T2V-1.3B-Diffusers (download it there; nothing is fetched at run time); "
            "modifies clips with Wan's video-to-video pipeline on the same weights."
        ),
        native_area=832 * 480,
        default_steps=40,
    ),
    WAN_TINY_I2V,
    checkpoint(
        WAN_TINY_I2V,
        name="wan2.1-i2v-14b-480p",
        weights="Wan2.1-I2V-14B-480P-Diffusers",
        description=(
            "Wan 2.1 image-to-video 14B (480p) in diffusers format, loaded from "
            "KINORA_MODELS_DIR/Wan2.1-I2V-14B-480P-Diffusers (download it there; nothing is fetched at run time)."
        ),
        native_area=832 * 480,
        default_steps=50,
    ),
    WAN_TINY_VACE,
    checkpoint(
        WAN_TINY_VACE,
        name="wan2.1-vace-1.3b",
        weights="Wan2.1-VACE-1.3B-diffusers",
        description=(
            "Wan 2.1 VACE 1.3B in diffusers format, loaded from KINORA_MODELS_DIR/Wan2.1-VACE-1.3B-diffusers "
            "(download it there; nothing is fetched at run time): text, an image at the first or last frame, "
            "clip extension, runs chained up to 60 s."
        ),
        native_area=832 * 480,
        default_steps=40,
    ),
    KINORA_DIT,
)}


class UnknownModel(KeyError):
    pass


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownModel(name) from None


# --- native size and frame planning --------------------------------------------------------------------


def round_to_multiple(value: float, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


def frames_for_rule(spec: ModelSpec, at_least: int) -> int:
    """The smallest frame count of the form frame_multiple·k + 1 that is at least ``at_least``."""
    k = max(0, math.ceil((at_least - 1) / spec.frame_multiple))
    return spec.frame_multiple * k + 1


def native_frames(spec: ModelSpec, seconds: float) -> int:
    """Frames one run must produce to cover ``seconds`` at the native rate: the next frame_multiple·k + 1."""
    return frames_for_rule(spec, max(1, math.ceil(seconds * spec.native_fps - 1e-9)))


def native_size(spec: ModelSpec, width: int, height: int) -> tuple[int, int]:
    """The model's native size closest to the requested aspect ratio, about ``native_area`` pixels."""
    aspect = width / height
    w = round_to_multiple(math.sqrt(spec.native_area * aspect), spec.size_multiple)
    h = round_to_multiple(math.sqrt(spec.native_area / aspect), spec.size_multiple)
    return w, h


def output_frame_count(seconds: float, fps: int) -> int:
    return max(1, round(seconds * fps))
