"""Shape guidance: the classifier, its gradient step, and the sampler that steers towards the shape a prompt names."""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from models.kinora_dit.pipeline import (
    SHAPE_GUIDE,
    WEIGHTS,
    attach_expert,
    attach_shape_guide,
    exported_metadata,
    load_pipeline,
    split_expert,
)
from models.kinora_dit.scenes import SHAPES
from models.kinora_dit.shape_guide import ShapeClassifier, classifier_from, guide, soften
from models.kinora_dit.shape_guide import train as train_classifier
from models.kinora_dit.train import export, load_config, train

SMALL = {"width": 64, "depth": 1, "head_dim": 32, "batch": 4, "checkpoint_every": 2, "warmup": 2,
         "pooled_text": True, "prediction": "clean"}


def test_the_guide_moves_a_clip_up_the_log_probability_of_the_shape_and_no_pixel_further_than_its_scale():
    torch.manual_seed(0)
    classifier = ShapeClassifier().eval().requires_grad_(False)
    clip = torch.rand(1, 3, 4, 24, 40) * 2 - 1
    for shape in ("star", "ball"):
        moved = guide(classifier, clip, shape, 0.01)
        assert (moved - clip).abs().max().item() == pytest.approx(0.01)
        before, after = (torch.log_softmax(classifier(x), dim=1)[0, SHAPES.index(shape)] for x in (clip, moved))
        assert after > before
    assert not moved.requires_grad
    with torch.inference_mode():  # as the worker samples
        assert torch.equal(guide(classifier, clip.clone(), "ball", 0.01), moved)


def test_the_classifier_trains_on_softened_renders_and_reads_clips_of_any_frame_size(tmp_path):
    clips = torch.rand(8, 3, 4, 32, 32) * 2 - 1
    softened = soften(clips, torch.Generator().manual_seed(0))
    assert softened.shape == clips.shape and softened.abs().max() <= 1
    assert not torch.equal(softened, clips)
    result = train_classifier(tmp_path / "shapes.safetensors", steps=3)
    assert result["steps"] == 3
    classifier = classifier_from(load_file(str(tmp_path / "shapes.safetensors")))
    for height, width in ((32, 32), (24, 40), (40, 24)):
        assert classifier(torch.zeros(2, 3, 16, height, width)).shape == (2, len(SHAPES))


@pytest.fixture(scope="module")
def guided(tmp_path_factory):
    """Tiny exported weights, the same with a (barely trained) shape guide attached, and the guide's own file."""
    folder = tmp_path_factory.mktemp("guided")
    train(load_config(None) | SMALL | {"steps": 2}, folder / "run", resume=False, minutes=None)
    weights = export(folder / "run", folder / "plain.safetensors")
    train_classifier(folder / "shapes.safetensors", steps=2)
    classifier = folder / "shapes.safetensors"
    return weights, attach_shape_guide(weights, classifier, 5.0, folder / "guided.safetensors"), classifier


def test_guided_steps_are_steered_towards_the_shape_the_prompt_names_and_only_then(guided):
    pipe = load_pipeline(guided[1])
    assert pipe.config.shape_guidance == 5.0
    calls = []
    pipe.shape_guide.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape))

    def sample(prompt: str, **options) -> np.ndarray:
        return pipe(prompt=prompt, num_inference_steps=4, generator=torch.Generator().manual_seed(1),
                    **options).frames[0]

    steered = sample("a red star on a blue background")
    # Guided steps are those at or above the guidance's lowest level (0.3): three of the four shifted ones.
    assert len(calls) == 3 and calls[0] == (1, 3, 16, 32, 32)
    calls.clear()
    assert not np.array_equal(steered, sample("a red star on a blue background", guidance_scale=1.0))
    assert not calls  # unguided sampling is not steered either
    unnamed = sample("something red on a blue background")
    assert not calls
    pipe.register_to_config(shape_guidance=0.0)
    assert np.array_equal(unnamed, sample("something red on a blue background"))
    assert not np.array_equal(steered, sample("a red star on a blue background"))
    assert not calls
    # Without a guide in the file the sampler is the one it was.
    assert np.array_equal(sample("une étoile rouge"), load_pipeline(guided[0])(
        prompt="une étoile rouge", num_inference_steps=4, generator=torch.Generator().manual_seed(1)).frames[0])


def test_the_guide_travels_in_the_weights_file_beside_the_networks_and_stays_out_of_their_way(guided, tmp_path):
    plain, with_guide = (load_file(str(path)) for path in guided[:2])
    guide_keys = {k for k in with_guide if k.startswith(SHAPE_GUIDE)}
    assert guide_keys and with_guide.keys() - guide_keys == plain.keys()
    trained = load_file(str(guided[2]))
    assert all(torch.equal(with_guide[SHAPE_GUIDE + k], v) for k, v in trained.items())
    assert split_expert(with_guide)[0].keys() == plain.keys()
    # Training goes on from it as from the plain file; an expert attached to it keeps the guide.
    config = load_config(None) | SMALL | {"steps": 3}
    assert train(config, tmp_path / "more", resume=False, minutes=None, init=guided[1])["step"] == 3
    both = attach_expert(guided[1], guided[0], (0.5, 1.0), tmp_path / "both.safetensors")
    pipe = load_pipeline(both)
    assert pipe.shape_guide is not None and pipe.config.shape_guidance == 5.0
    assert pipe.config.expert_band == (0.5, 1.0)
    # Attached again, the new guide and scale replace the old; a file that is no classifier is refused.
    again = attach_shape_guide(both, guided[2], 2.0, tmp_path / "again.safetensors")
    assert load_file(str(again)).keys() == load_file(str(both)).keys()
    assert load_pipeline(again).config.shape_guidance == 2.0
    with pytest.raises(RuntimeError):
        attach_shape_guide(guided[0], guided[0], 2.0, tmp_path / "bad.safetensors")
    assert not (tmp_path / "bad.safetensors").exists()


def test_weights_over_latents_are_refused_a_shape_guide(guided, tmp_path):
    metadata, config = exported_metadata(guided[0])
    latent = tmp_path / "latent.safetensors"  # as a network over latents says it is (the refusal reads no tensors)
    save_file(load_file(str(guided[0])), str(latent),
              metadata=metadata | {"config": json.dumps(config | {"latent_channels": 4})})
    with pytest.raises(ValueError, match="pixels"):
        attach_shape_guide(latent, guided[2], 10.0, tmp_path / "out.safetensors")


def test_the_shipped_weights_carry_a_shape_guide_and_its_scale():
    with safe_open(str(WEIGHTS), framework="pt") as f:
        keys = f.keys()
    assert any(k.startswith(SHAPE_GUIDE) for k in keys)
    assert load_pipeline(WEIGHTS).config.shape_guidance > 0
