"""Kinora's own small video model: a pixel-space diffusion transformer served as a diffusers pipeline.

The transformer is diffusers' ``LTXVideoTransformer3DModel`` at a small size, working on pixel patches
(``PATCH`` frames × pixels × pixels, 3 channels) instead of VAE latents: at 32×32 a VAE buys little and costs
coherence. Text conditioning is the frozen all-MiniLM-L6-v2's token states through cross-attention (its
pooled vector barely separates "red ball on blue" from "blue ball on red"). Trained with rectified flow, the
network predicts the clean clip; sampling converts that to the flow velocity for a diffusers Euler
scheduler. Model card: ``models/kinora_dit/MODEL_CARD.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler, LTXVideoTransformer3DModel
from safetensors import safe_open
from safetensors.torch import load_file

from models.text_encoder import HIDDEN_SIZE, load_minilm

PATCH = (2, 8, 8)  # frames, height, width per token
MAX_TOKENS = 32  # caption tokens kept (the captions are short)


def make_transformer(width: int = 192, depth: int = 6, head_dim: int = 32) -> LTXVideoTransformer3DModel:
    channels = 3 * PATCH[0] * PATCH[1] * PATCH[2]
    return LTXVideoTransformer3DModel(
        in_channels=channels, out_channels=channels, patch_size=1, patch_size_t=1,
        num_attention_heads=width // head_dim, attention_head_dim=head_dim, cross_attention_dim=width,
        num_layers=depth, caption_channels=HIDDEN_SIZE,
    )


def patchify(video: torch.Tensor) -> torch.Tensor:
    """(B, 3, F, H, W) → (B, tokens, 3·pt·ph·pw), tokens in frame-row-column order."""
    b, c, f, h, w = video.shape
    pt, ph, pw = PATCH
    x = video.reshape(b, c, f // pt, pt, h // ph, ph, w // pw, pw)
    return x.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(b, (f // pt) * (h // ph) * (w // pw), c * pt * ph * pw)


def unpatchify(tokens: torch.Tensor, frames: int, height: int, width: int) -> torch.Tensor:
    b = tokens.shape[0]
    pt, ph, pw = PATCH
    x = tokens.reshape(b, frames // pt, height // ph, width // pw, 3, pt, ph, pw)
    return x.permute(0, 4, 1, 5, 2, 6, 3, 7).reshape(b, 3, frames, height, width)


def predict_clean(transformer: LTXVideoTransformer3DModel, noisy: torch.Tensor, sigma: torch.Tensor,
                  text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The clean clip the network sees in ``noisy`` (B, 3, F, H, W) at noise level ``sigma`` (B,)."""
    _, _, f, h, w = noisy.shape
    out = transformer(hidden_states=patchify(noisy), encoder_hidden_states=text, timestep=sigma * 1000,
                      encoder_attention_mask=mask, num_frames=f // PATCH[0], height=h // PATCH[1],
                      width=w // PATCH[2], rope_interpolation_scale=(1.0, 1.0, 1.0), return_dict=False)[0]
    return unpatchify(out, f, h, w)


def encode_text(text_encoder, tokenizer, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
    """MiniLM token states (B, MAX_TOKENS, 384) and their attention mask; the encoder stays frozen."""
    batch = tokenizer(prompts, padding="max_length", truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    with torch.no_grad():
        states = text_encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
    return states, batch["attention_mask"]


@dataclass
class KinoraDiTOutput:
    frames: list[np.ndarray]  # one (F, H, W, 3) float array in [0, 1] per prompt, as diffusers pipelines return


class KinoraDiTPipeline(DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->transformer"

    def __init__(self, transformer: LTXVideoTransformer3DModel, text_encoder, tokenizer,  # type: ignore[no-untyped-def]
                 scheduler: FlowMatchEulerDiscreteScheduler) -> None:
        super().__init__()
        self.register_modules(transformer=transformer, text_encoder=text_encoder, tokenizer=tokenizer,
                              scheduler=scheduler)

    def check_inputs(self, height: int, width: int, num_frames: int) -> None:
        if height % PATCH[1] or width % PATCH[2] or num_frames % PATCH[0]:
            raise ValueError(f"size must be a multiple of {PATCH[1]} and frames of {PATCH[0]}")

    @torch.no_grad()
    def __call__(self, prompt: str, negative_prompt: str = "", width: int = 32, height: int = 32,
                 num_frames: int = 16, num_inference_steps: int = 20, guidance_scale: float = 3.0,
                 generator: torch.Generator | None = None, output_type: str = "np",
                 callback_on_step_end: Callable | None = None, image: np.ndarray | None = None,
                 image_frame: int = 0, **_: object) -> KinoraDiTOutput:
        # 1. Check inputs before any work.
        self.check_inputs(height, width, num_frames)
        if image is not None and image.shape != (height, width, 3):
            raise ValueError(f"image must be ({height}, {width}, 3) uint8, got {image.shape}")
        # 2. Text: the prompt and, for guidance, the negative prompt (empty by default).
        text, mask = encode_text(self.text_encoder, self.tokenizer, [prompt, negative_prompt or ""])
        # 3. Noise and the schedule.
        x = torch.randn((1, 3, num_frames, height, width), generator=generator)
        self.scheduler.set_timesteps(num_inference_steps)
        # An image pinned at a frame (pixel space makes this exact): after every step that frame is set to the
        # image noised to the next step's level, so the model fills in the rest around it.
        pinned = None
        if image is not None:
            pinned = torch.from_numpy(image).float().div(127.5).sub(1).permute(2, 0, 1)
            pin_noise = torch.randn(pinned.shape, generator=generator)
        # 4. Denoise: the network predicts the clean clip; its flow velocity is (x - clean) / sigma.
        for i, t in enumerate(self.scheduler.timesteps):
            sigma = t / 1000
            both = predict_clean(self.transformer, x.repeat(2, 1, 1, 1, 1), sigma.repeat(2), text, mask)
            clean = both[1:] + guidance_scale * (both[:1] - both[1:])
            x = self.scheduler.step((x - clean) / sigma.clamp(min=1e-3), t, x, return_dict=False)[0]
            if pinned is not None:
                next_sigma = self.scheduler.sigmas[i + 1]
                x[0, :, image_frame] = (1 - next_sigma) * pinned + next_sigma * pin_noise
            if callback_on_step_end is not None:
                callback_on_step_end(self, i, t, {})
        # 5. Frames in [0, 1], (F, H, W, 3).
        video = ((x[0].clamp(-1, 1) + 1) / 2).permute(1, 2, 3, 0).cpu().numpy()
        return KinoraDiTOutput(frames=[video])


def load_pipeline(weights: str | Path) -> KinoraDiTPipeline:
    """The pipeline from exported weights (fp16 safetensors with the training config in their metadata)."""
    with safe_open(str(weights), framework="pt") as f:
        config = json.loads(f.metadata()["config"])
    transformer = make_transformer(config["width"], config["depth"], config["head_dim"])
    transformer.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()})
    text_encoder, tokenizer = load_minilm()
    return KinoraDiTPipeline(transformer.eval(), text_encoder, tokenizer, FlowMatchEulerDiscreteScheduler())
