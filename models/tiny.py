"""Tiny presets: small configs of the real pipeline classes with fixed seeds, for tests and the embedded mode.

Built the way diffusers' own tests build ``get_dummy_components``. The transformer and VAE have random
weights: the video is noise-like and does not follow the prompt. The text encoder is the real MiniLM.
"""

from __future__ import annotations

import torch
from diffusers import (
    AutoencoderKLLTXVideo,
    AutoencoderKLWan,
    FlowMatchEulerDiscreteScheduler,
    LTXConditionPipeline,
    LTXVideoTransformer3DModel,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
    WanVACEPipeline,
    WanVACETransformer3DModel,
)
from transformers import CLIPVisionConfig, CLIPVisionModel
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from models.kinora_dit.pipeline import load_builtin as load_kinora_dit
from models.text_encoder import HIDDEN_SIZE, load_minilm


def tiny_ltx_components(seed: int = 0) -> dict:
    # patch_size 4 and three spatio-temporal downsamplings give LTX-Video's real compression: 32× in space,
    # 8× in time, so the tiny preset has the same frame (8k+1) and size (×32) rules as the real model.
    torch.manual_seed(seed)
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    torch.manual_seed(seed)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=HIDDEN_SIZE,
    )
    text_encoder, tokenizer = load_minilm()
    return {
        "transformer": transformer,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
    }


WAN_TRANSFORMER = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=2,
    attention_head_dim=12,
    out_channels=16,
    text_dim=HIDDEN_SIZE,
    freq_dim=256,
    ffn_dim=32,
    num_layers=2,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    rope_max_seq_len=32,
)


def tiny_wan_components(seed: int = 0, in_channels: int = 16, image_dim: int | None = None) -> dict:
    # Wan 2.1's compression: 8× in space (×2 patches → sizes multiple of 16) and 4× in time (4k+1 frames).
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    torch.manual_seed(seed)
    transformer = WanTransformer3DModel(in_channels=in_channels, image_dim=image_dim, **WAN_TRANSFORMER)
    text_encoder, tokenizer = load_minilm()
    return {
        "transformer": transformer,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
    }


def tiny_wan_vace_components(seed: int = 0) -> dict:
    """Wan 2.1 VACE: control blocks beside the main ones read frames to keep and a mask of what to make (96
    channels = the frames' latents, kept and to-make parts, 16 + 16, and the mask packed 8×8 → 64)."""
    components = tiny_wan_components(seed)
    torch.manual_seed(seed)
    components["transformer"] = WanVACETransformer3DModel(in_channels=16, vace_layers=[0, 1], vace_in_channels=96,
                                                          **WAN_TRANSFORMER)
    return components


def tiny_wan_i2v_components(seed: int = 0) -> dict:
    """Wan 2.1 image-to-video: the image goes in twice, as VAE latents beside the noise (36 input channels =
    16 noise + 4 mask + 16 image) and as CLIP image features the transformer attends to."""
    components = tiny_wan_components(seed, in_channels=36, image_dim=4)
    torch.manual_seed(seed)
    components["image_encoder"] = CLIPVisionModel(CLIPVisionConfig(
        hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=32,
        intermediate_size=16, patch_size=1))
    components["image_processor"] = CLIPImageProcessorPil(crop_size=32, size=32)
    return components


PRESETS = {  # built-in pipelines: the tiny random ones above, and Kinora's own trained model
    "kinora-dit": load_kinora_dit,
    "ltx-tiny": lambda: LTXConditionPipeline(**tiny_ltx_components()),
    "wan-tiny": lambda: WanPipeline(**tiny_wan_components()),
    "wan-tiny-i2v": lambda: WanImageToVideoPipeline(**tiny_wan_i2v_components()),
    "wan-tiny-vace": lambda: WanVACEPipeline(**tiny_wan_vace_components()),
}
