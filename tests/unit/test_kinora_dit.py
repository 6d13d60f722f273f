"""Kinora's own model: patching, the diffusers-shaped sampler, and reproducible, resumable training."""

import json

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from safetensors.torch import load_file

from models.kinora_dit.pipeline import KinoraDiTPipeline, make_transformer, patchify, unpatchify
from models.kinora_dit.train import export, load_config, train
from models.text_encoder import load_minilm

SMALL = {"width": 64, "depth": 1, "head_dim": 32, "batch": 4, "checkpoint_every": 2, "warmup": 2}


def test_patches_round_trip_and_keep_neighbours_together():
    video = torch.randn(2, 3, 16, 32, 32)
    tokens = patchify(video)
    assert tokens.shape == (2, 8 * 4 * 4, 3 * 2 * 8 * 8)
    assert torch.equal(unpatchify(tokens, 16, 32, 32), video)
    first = tokens[0, 0].reshape(3, 2, 8, 8)
    assert torch.equal(first, video[0, :, :2, :8, :8])


def test_the_pipeline_samples_a_clip_in_the_diffusers_shape():
    torch.manual_seed(0)
    text_encoder, tokenizer = load_minilm()
    pipe = KinoraDiTPipeline(make_transformer(64, 1), text_encoder, tokenizer, FlowMatchEulerDiscreteScheduler())
    steps = []
    out = pipe(prompt="a red ball bouncing", num_inference_steps=3, generator=torch.Generator().manual_seed(1),
               callback_on_step_end=lambda p, i, t, kw: steps.append(i) or kw)
    video = out.frames[0]
    assert video.shape == (16, 32, 32, 3) and video.min() >= 0 and video.max() <= 1
    assert steps == [0, 1, 2]
    again = pipe(prompt="a red ball bouncing", num_inference_steps=3, generator=torch.Generator().manual_seed(1))
    assert np.array_equal(again.frames[0], video)
    with pytest.raises(ValueError, match="multiple"):
        pipe(prompt="x", width=30)


def test_training_is_reproducible_and_resumes_where_it_stopped(tmp_path):
    config = load_config(None) | SMALL | {"steps": 3}
    first = train(config, tmp_path / "a", resume=False, minutes=None)
    train(config, tmp_path / "b", resume=False, minutes=None)
    losses = lambda run: torch.load(run / "checkpoint.pt", weights_only=False)["losses"]  # noqa: E731
    assert first["step"] == 3 and losses(tmp_path / "a") == losses(tmp_path / "b")
    # Resuming the 3-step run to 5 steps gives the same losses as running 5 steps at once.
    train(config | {"steps": 5}, tmp_path / "a", resume=True, minutes=None)
    train(config | {"steps": 5}, tmp_path / "c", resume=False, minutes=None)
    assert losses(tmp_path / "a") == losses(tmp_path / "c") and len(losses(tmp_path / "a")) == 5
    weights = export(tmp_path / "a", tmp_path / "w.safetensors")
    state = load_file(str(weights))
    assert all(t.dtype == torch.float16 for t in state.values())
    assert json.loads((tmp_path / "a" / "config.json").read_text())["width"] == 64


@pytest.mark.parametrize("frame", [0, -1])
def test_a_pinned_image_is_exactly_that_frame_of_the_output(frame):
    # Pixel space makes image conditioning exact, even for an untrained network: the pinned frame ends as the image.
    torch.manual_seed(0)
    text_encoder, tokenizer = load_minilm()
    pipe = KinoraDiTPipeline(make_transformer(64, 1), text_encoder, tokenizer, FlowMatchEulerDiscreteScheduler())
    image = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = pipe(prompt="a red ball", num_inference_steps=4, image=image, image_frame=frame,
               generator=torch.Generator().manual_seed(0)).frames[0]
    got = (out[frame] * 255).round()
    assert np.abs(got - image).max() <= 1
    assert np.abs((out[frame + 1 if frame == 0 else frame - 1] * 255).round() - image).mean() > 20
