"""Image and video conditioning reach the model, checked in latent space.

The tiny preset's VAE has random weights, so decoded pixels barely depend on the latents and no pixel
measure can show that an output frame "is" the input image. What the service controls is that the right
frames are encoded and pinned at the right place, and that is exact in latent space: the conditioned latent
frames equal the VAE encoding of the input, while an unconditioned run's do not.
"""

import numpy as np
import pytest
import torch

from models.pipeline import RunInputs, VideoGenerator
from models.registry import get_spec

W, H = 96, 64


@pytest.fixture(scope="module")
def gen():
    gen = VideoGenerator.load(get_spec("ltx-tiny"), models_dir=None, device="cpu")
    # The pipeline encodes conditions by sampling the VAE posterior; with random weights its spread is about 1.
    # Collapse it (log-variance -40) so that an encoding is one point and can be compared exactly.
    conv = gen.pipe.vae.encoder.conv_out.conv
    with torch.no_grad():
        conv.weight[-1].zero_()
        conv.bias[-1] = -40.0
    return gen


def picture(seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def latents(gen, run, **extra):
    with torch.inference_mode():
        return gen.pipe(**gen.pipe_arguments(run), output_type="latent", **extra).frames


def run_inputs(**kw):
    base = dict(prompt="a red ball", negative_prompt=None, width=W, height=H, num_frames=25, seed=1, steps=3,
                guidance_scale=3.0)
    return RunInputs(**(base | kw))


def close(a, b):
    return float((a - b).abs().max())


def test_an_image_is_pinned_as_the_first_latent_frame(gen):
    image = picture(0)
    encoded = gen._encode_video([image], W, H)[:, :, 0]
    pinned = latents(gen, run_inputs(image=image), image_cond_noise_scale=0.0)[:, :, 0]
    free = latents(gen, run_inputs(), image_cond_noise_scale=0.0)[:, :, 0]
    assert close(pinned, encoded) < 1e-4
    assert close(free, encoded) > 0.5


def test_a_lead_clip_is_pinned_at_the_start(gen):
    lead = [picture(i) for i in range(9)]  # 9 frames = 2 latent frames (1 + 8)
    encoded = gen._encode_video(lead, W, H)
    out = latents(gen, run_inputs(lead=lead), image_cond_noise_scale=0.0)
    assert close(out[:, :, :2], encoded) < 1e-4
    assert close(out[:, :, 2:], encoded[:, :, -1:].expand_as(out[:, :, 2:])) > 0.5


def test_modify_strength_sets_how_far_the_result_moves_from_the_source(gen):
    source = [picture(i) for i in range(25)]
    encoded = gen._encode_video(source, W, H)
    distance = {s: close(latents(gen, run_inputs(source=source, strength=s, steps=10)), encoded)
                for s in (0.2, 0.6, 1.0)}
    assert distance[0.2] < distance[0.6] < distance[1.0]


def test_a_model_without_conditioning_refuses_inputs():
    wan = VideoGenerator.load(get_spec("wan-tiny"), models_dir=None, device="cpu")
    with pytest.raises(ValueError, match="cannot be conditioned"):
        wan.pipe_arguments(run_inputs(image=picture(0)))


def test_wan_vace_keeps_the_conditioning_frames_and_masks_the_rest():
    vace = VideoGenerator.load(get_spec("wan-tiny-vace"), models_dir=None, device="cpu")
    lead = [picture(i) for i in range(9)]
    args = vace.pipe_arguments(RunInputs(prompt="x", negative_prompt=None, width=W, height=H, num_frames=17, seed=0,
                                         steps=2, guidance_scale=5.0, lead=lead, image=picture(20), image_index=16))
    masks = [np.asarray(m) for m in args["mask"]]
    assert [int(m.max()) for m in masks] == [0] * 9 + [255] * 7 + [0]
    assert np.array_equal(np.asarray(args["video"][3]), lead[3]) and np.array_equal(np.asarray(args["video"][16]),
                                                                                    picture(20))
    assert np.asarray(args["video"][10]).std() == 0  # grey where frames are to be made
    with pytest.raises(ValueError, match="cannot be conditioned"):
        vace.pipe_arguments(RunInputs(prompt="x", negative_prompt=None, width=W, height=H, num_frames=17, seed=0,
                                      steps=2, guidance_scale=5.0, source=lead))
