"""Shape guidance: the classifier, its gradient step, and the sampler that steers towards the shape a prompt names."""

import json

import numpy as np
import pytest
import torch
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from models.kinora_dit.pipeline import (
    CANDIDATES,
    GUIDES,
    SHAPE_GUIDE,
    WEIGHTS,
    attach_expert,
    attach_guide,
    exported_metadata,
    load_pipeline,
    split_expert,
)
from models.kinora_dit.scenes import BACKGROUND_RGB, COLOR_RGB, SHAPES, SIZES, Scene, render
from models.kinora_dit.shape_guide import (
    TURN_GAP,
    TURNING,
    ShapeClassifier,
    as_video,
    attacked,
    batch,
    classifier_from,
    frame_norm,
    guide,
    initial_weights,
    kind_of,
    log_probability,
    make_classifier,
    mottle,
    object_axis,
    silhouette,
    soften,
    turn_batch,
)
from models.kinora_dit.shape_guide import train as train_classifier
from models.kinora_dit.train import (
    ATTRIBUTES,
    UNSTATED,
    export,
    guide_loss,
    guide_match_loss,
    load_config,
    load_guides,
    train,
)

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
    # Clips guided together are each moved as alone: the largest change is per clip.
    pair = torch.cat([clip, clip.flip(-1) * 0.5])
    both = guide(classifier, pair, "ball", 0.01)
    assert torch.allclose(both[:1], moved, atol=1e-6)
    assert (both[1] - pair[1]).abs().max().item() == pytest.approx(0.01)
    with torch.inference_mode():  # as the worker samples
        assert torch.equal(guide(classifier, clip.clone(), "ball", 0.01), moved)


def test_the_guide_changes_a_pixel_only_along_the_line_from_the_background_to_the_object_colour():
    torch.manual_seed(0)
    classifier = ShapeClassifier().eval().requires_grad_(False)
    scene = Scene(shape="ball", color="red", size="large", motion="right", background="blue")
    clip = as_video([render(scene, frames=4, size=(40, 24))])
    axis = object_axis(clip)
    top, bottom = (torch.tensor(rgb, dtype=torch.float32) for rgb in BACKGROUND_RGB["blue"])
    red_from_blue = torch.tensor(COLOR_RGB["red"], dtype=torch.float32) - (top + bottom) / 2
    for frame in range(4):
        assert torch.cosine_similarity(axis[0, :, frame, 0, 0], red_from_blue, dim=0) > 0.98
    change = guide(classifier, clip, "star", 0.1, along_object=True) - clip
    assert change.abs().max().item() == pytest.approx(0.1)
    along = (change * axis).sum(dim=1, keepdim=True) * axis
    assert (change - along).abs().max().item() < 1e-6  # no other colour: no fringes
    before, after = (log_probability(classifier, x, "star") for x in (clip, clip + change))
    assert after > before
    free = guide(classifier, clip, "star", 0.1) - clip  # the full gradient changes colours the axis does not hold
    assert (free - (free * axis).sum(dim=1, keepdim=True) * axis).abs().max().item() > 1e-3


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


def test_the_attack_stays_within_its_radius_per_frame_and_fools_the_shipped_guide_that_robust_training_starts_from():
    shipped = classifier_from(initial_weights(WEIGHTS, "shape"))
    video, labels = batch(np.random.default_rng(3), 8, "shape")
    clips = soften(video, torch.Generator().manual_seed(3))
    changed = attacked(shipped, clips, labels, radius=1.0)
    assert changed.shape == clips.shape and changed.abs().max() <= 1
    assert frame_norm(changed - clips).max() <= 1.0 + 1e-4  # each frame on its own: about 1 % of the range per value
    assert frame_norm(changed - clips).min() > 0.5
    right = (shipped(clips).argmax(1) == labels).sum()
    assert (shipped(changed).argmax(1) == labels).sum() < right  # a change no eye sees misleads it


def test_robust_training_starts_from_a_guide_and_learns_from_attacked_renders(tmp_path):
    shipped = load_file(str(WEIGHTS))["outline_guide.head.weight"]
    assert torch.equal(initial_weights(WEIGHTS, "outline")["head.weight"], shipped)
    out = tmp_path / "robust.safetensors"
    train_classifier(out, steps=2, lr=1e-5, robust=1.0, init=WEIGHTS)
    with safe_open(str(out), framework="pt") as f:
        assert f.metadata() == {"kind": "shape", "robust": "1.0"}
    trained, start = load_file(str(out)), initial_weights(WEIGHTS, "shape")
    assert trained.keys() == start.keys()
    assert not torch.equal(trained["head.weight"], start["head.weight"])
    assert (trained["head.weight"] - start["head.weight"]).abs().max() < 1e-3  # two small steps from the guide
    assert torch.equal(initial_weights(out, "shape")["head.weight"], trained["head.weight"])
    with pytest.raises(ValueError, match="holds no turn classifier"):
        initial_weights(out, "turn")


@pytest.fixture(scope="module")
def guided(tmp_path_factory):
    """Tiny exported weights, the same with a (barely trained) shape guide attached, and the guide's own file."""
    folder = tmp_path_factory.mktemp("guided")
    train(load_config(None) | SMALL | {"steps": 2}, folder / "run", resume=False, minutes=None)
    weights = export(folder / "run", folder / "plain.safetensors")
    train_classifier(folder / "shapes.safetensors", steps=2)
    classifier = folder / "shapes.safetensors"
    return weights, attach_guide(weights, classifier, 5.0, folder / "guided.safetensors"), classifier


def test_guided_steps_are_steered_towards_the_shape_the_prompt_names_and_only_then(guided):
    pipe = load_pipeline(guided[1])
    assert pipe.config.shape_guidance == 5.0
    pipe.register_to_config(candidates=1)
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


def test_the_sampler_guides_along_the_object_when_its_config_says_so(guided, monkeypatch):
    import models.kinora_dit.pipeline as pipeline_module

    pipe = load_pipeline(guided[1])
    pipe.register_to_config(candidates=1)
    assert pipe.config.guide_along_object is False  # the shipped default: the full gradient
    seen = []

    def recording(*args, **kwargs):  # the real guide, its last argument noted
        seen.append(args[4] if len(args) > 4 else kwargs.get("along_object", False))
        return guide(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "guide", recording)

    def sample() -> np.ndarray:
        return pipe(prompt="a red star on a blue background", num_inference_steps=4,
                    generator=torch.Generator().manual_seed(1)).frames[0]

    full = sample()
    pipe.register_to_config(guide_along_object=True)
    along = sample()
    assert seen == [False] * 3 + [True] * 3
    assert not np.array_equal(full, along)


def test_candidates_are_sampled_side_by_side_and_the_one_most_like_the_named_shape_is_kept(guided):
    pipe = load_pipeline(guided[1])
    assert pipe.config.candidates == CANDIDATES
    seen = []
    pipe.shape_guide.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    image = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = pipe(prompt="a red star on a blue background", num_inference_steps=4,
               generator=torch.Generator().manual_seed(1),
               conditions=[LTXVideoCondition(image=Image.fromarray(image), frame_index=0)]).frames[0]
    # Three guided steps steer all candidates at once; then the classifier reads the finished clips.
    assert [x.shape[0] for x in seen] == [CANDIDATES] * 4
    finished = seen[-1]
    assert not torch.equal(finished[0], finished[1])
    best = int(log_probability(pipe.shape_guide, finished, "star").argmax())
    assert np.abs(out - ((finished[best].permute(1, 2, 3, 0).numpy() + 1) / 2)).max() < 1e-6
    assert np.abs((out[0] * 255).round() - image).max() <= 1  # a pinned image pins every candidate
    # A prompt naming no shape has nothing to choose by: one clip, as without candidates.
    seen.clear()
    unnamed = pipe(prompt="something red", num_inference_steps=4, generator=torch.Generator().manual_seed(1))
    assert not seen
    pipe.register_to_config(candidates=1)
    assert np.array_equal(unnamed.frames[0], pipe(prompt="something red", num_inference_steps=4,
                                                  generator=torch.Generator().manual_seed(1)).frames[0])


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
    again = attach_guide(both, guided[2], 2.0, tmp_path / "again.safetensors")
    assert load_file(str(again)).keys() == load_file(str(both)).keys()
    assert load_pipeline(again).config.shape_guidance == 2.0
    with pytest.raises(ValueError, match="no classifier"):
        attach_guide(guided[0], guided[0], 2.0, tmp_path / "bad.safetensors")
    assert not (tmp_path / "bad.safetensors").exists()


def test_the_turn_classifier_reads_pairs_of_frames_and_learns_turning_from_renders(tmp_path):
    labels, clips = [], []
    rng = np.random.default_rng(0)
    for _ in range(4):
        video, label = turn_batch(rng, 8)
        assert video.shape[:3] == (8, 3, 16)
        labels += label.tolist()
        clips.append(video)
    assert 0 < sum(labels) < len(labels)  # both kinds, about half each
    train_classifier(tmp_path / "turns.safetensors", steps=3, kind="turn")
    classifier = classifier_from(load_file(str(tmp_path / "turns.safetensors")), "turn")
    assert classifier.classes == TURNING and classifier.gap == TURN_GAP
    assert classifier.frame_logits(clips[0]).shape == (8, 16 - TURN_GAP, 2)
    assert classifier(clips[0]).shape == (8, 2)


def second_guide(guided, folder, kind: str, scale: float):
    """The shape-guided tiny weights with a (barely trained) guide of ``kind`` attached too, loaded: both guides
    ride beside the networks under their own prefixes, at their own scales."""
    train_classifier(folder / f"{kind}.safetensors", steps=2, kind=kind)
    both = attach_guide(guided[1], folder / f"{kind}.safetensors", scale, folder / "both.safetensors")
    state = load_file(str(both))
    assert {k for k in state if k.startswith(GUIDES[kind])} and {k for k in state if k.startswith(SHAPE_GUIDE)}
    assert split_expert(state)[0].keys() == load_file(str(guided[0])).keys()
    pipe = load_pipeline(both)
    assert pipe.config[f"{kind}_guidance"] == scale and pipe.config.shape_guidance == 5.0
    return pipe


def test_a_turn_guide_steers_only_prompts_that_ask_for_turning(guided, tmp_path):
    pipe = second_guide(guided, tmp_path, "turn", 4.0)
    pipe.register_to_config(candidates=1)
    turns, shapes = [], []
    pipe.turn_guide.register_forward_pre_hook(lambda module, args: turns.append(args[0].shape))
    pipe.shape_guide.register_forward_pre_hook(lambda module, args: shapes.append(args[0].shape))

    def sample(prompt: str) -> np.ndarray:
        return pipe(prompt=prompt, num_inference_steps=4, generator=torch.Generator().manual_seed(1)).frames[0]

    turned = sample("a red star spinning on a blue background")
    assert len(turns) == 3 and len(shapes) == 3  # both guides, at each guided step
    turns.clear()
    sample("a red star moving left on a blue background")
    assert not turns
    pipe.register_to_config(turn_guidance=0.0)
    assert not np.array_equal(turned, sample("a red star spinning on a blue background"))
    assert not turns
    # Among candidates, the one kept is most like the shape and turning together.
    pipe.register_to_config(turn_guidance=4.0, candidates=3)
    seen = []
    pipe.turn_guide.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    out = sample("a red star spinning on a blue background")
    finished = seen[-1]
    score = (log_probability(pipe.shape_guide, finished, "star")
             + log_probability(pipe.turn_guide, finished, "turning"))
    assert score.shape == (3,)
    best = int(score.argmax())
    assert np.abs(out - ((finished[best].permute(1, 2, 3, 0).numpy() + 1) / 2)).max() < 1e-6


def test_the_size_classifier_learns_sizes_from_renders_and_its_file_says_what_it_is(tmp_path):
    rng = np.random.default_rng(0)
    labels = torch.cat([batch(rng, 8, "size")[1] for _ in range(4)])
    assert set(labels.tolist()) == {0, 1, 2}
    train_classifier(tmp_path / "sizes.safetensors", steps=2, kind="size")
    assert kind_of(tmp_path / "sizes.safetensors") == "size"
    classifier = classifier_from(load_file(str(tmp_path / "sizes.safetensors")), "size")
    assert classifier.classes == SIZES and classifier.gap == 0
    assert classifier(torch.zeros(2, 3, 16, 24, 40)).shape == (2, len(SIZES))
    with pytest.raises(ValueError, match="kind"):
        make_classifier("colour")


def test_a_size_guide_steers_and_chooses_for_prompts_stating_a_size_and_at_scale_0_only_chooses(guided, tmp_path):
    pipe = second_guide(guided, tmp_path, "size", 3.0)
    assert pipe.size_guide.classes == SIZES
    seen = []
    pipe.size_guide.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))

    def sample(prompt: str) -> np.ndarray:
        return pipe(prompt=prompt, num_inference_steps=4, generator=torch.Generator().manual_seed(1)).frames[0]

    steered = sample("a small red star moving left on a blue background")
    # Three guided steps steer the candidates; then the kept one is most like a small star.
    assert [x.shape[0] for x in seen] == [CANDIDATES] * 4
    finished = seen[-1]
    score = log_probability(pipe.shape_guide, finished, "star") + log_probability(pipe.size_guide, finished, "small")
    best = int(score.argmax())
    assert np.abs(steered - ((finished[best].permute(1, 2, 3, 0).numpy() + 1) / 2)).max() < 1e-6
    seen.clear()
    sample("a red star moving left on a blue background")  # no size stated: nothing to steer or choose by
    assert not seen
    # At scale 0 it steers nothing and still chooses: one reading of the finished candidates.
    pipe.register_to_config(size_guidance=0.0)
    chosen = sample("a small red star moving left on a blue background")
    assert [x.shape[0] for x in seen] == [CANDIDATES]
    assert not np.array_equal(chosen, steered)


def test_a_silhouette_is_the_object_along_its_colour_line_whatever_the_colours():
    def clip_of(color: str, background: str) -> torch.Tensor:
        scene = Scene(shape="star", color=color, size="large", motion="right", background=background)
        return as_video([render(scene, frames=4, size=(40, 24))])

    clip = clip_of("red", "blue")
    shape = silhouette(clip)
    assert shape.shape == (1, 1, 4, 24, 40) and shape.abs().max() <= 1
    away = (clip - clip.median(dim=4, keepdim=True).values).abs().amax(dim=1, keepdim=True)
    red = clip.permute(1, 0, 2, 3, 4).flatten(1)[:, int(away.argmax())].view(1, 3, 1, 1, 1)  # the object's own colour
    on_object = (clip - red).abs().amax(dim=1, keepdim=True) < 1e-3
    background = away < 1e-3
    assert on_object.any() and background.any()
    assert shape[on_object].min() > 0.9 and shape[background].max() < -0.95  # (the backdrop shades by row)
    # The same star in other colours casts the same silhouette, so a classifier of silhouettes reads the outline alone.
    assert (silhouette(clip_of("yellow", "gray")) - shape).abs().mean() < 0.02
    # A speck of a colour off the line from background to object (a fringe) stays dark; painted in the object's colour
    # it lights up.
    row, column = 2, 1
    assert background[0, 0, 0, row, column]
    axis = object_axis(clip)[0, :, 0, 0, 0]
    off_line = torch.linalg.cross(axis, torch.tensor([0.0, 0.0, 1.0]))
    fringe, painted = clip.clone(), clip.clone()
    fringe[0, :, 0, row, column] += 0.8 * off_line / off_line.norm()
    painted[0, :, 0, row, column] = red.flatten()
    assert silhouette(fringe)[0, 0, 0, row, column] < -0.9
    assert silhouette(painted)[0, 0, 0, row, column] > 0.9
    # A frame without an object (the background alone) is dark, not its noise stretched to white.
    plain = clip.median(dim=4, keepdim=True).values.expand_as(clip) + 0.01 * torch.randn(clip.shape)
    assert silhouette(plain).max() < -0.5


def test_the_outline_classifier_learns_shapes_from_silhouettes_of_blotchy_renders(tmp_path):
    clips = torch.zeros(2, 3, 4, 32, 32)
    blotchy = mottle(clips, torch.Generator().manual_seed(0))
    assert blotchy.shape == clips.shape and blotchy.abs().max() <= 1
    coarse = blotchy - torch.nn.functional.avg_pool3d(blotchy, (1, 3, 3), stride=1, padding=(0, 1, 1))
    assert coarse[..., 1:-1, 1:-1].abs().mean() < 0.2 * blotchy.abs().mean()  # blotches, not pixel noise
    rng = np.random.default_rng(0)
    video, labels = batch(rng, 8, "outline")
    assert set(labels.tolist()) <= set(range(len(SHAPES)))
    train_classifier(tmp_path / "outline.safetensors", steps=2, kind="outline")
    assert kind_of(tmp_path / "outline.safetensors") == "outline"
    classifier = classifier_from(load_file(str(tmp_path / "outline.safetensors")), "outline")
    assert classifier.silhouette and classifier.classes == SHAPES
    assert classifier(video).shape == (8, len(SHAPES))
    # It reads the silhouette: clips casting the same one get the same logits.
    assert torch.allclose(classifier(video), classifier(silhouette(video).expand(-1, 3, -1, -1, -1)), atol=1e-2)


def test_an_outline_classifier_at_scale_0_joins_the_choice_among_candidates_and_above_it_steers(guided, tmp_path):
    pipe = second_guide(guided, tmp_path, "outline", 0.0)
    assert pipe.asked("a red star moving left on a blue background") == {"shape": "star", "outline": "star"}
    seen = []
    pipe.outline_guide.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    out = pipe(prompt="a red star moving left on a blue background", num_inference_steps=4,
               generator=torch.Generator().manual_seed(1)).frames[0]
    assert [x.shape[0] for x in seen] == [CANDIDATES]  # no steering: one reading of the finished candidates
    finished = seen[-1]
    score = log_probability(pipe.shape_guide, finished, "star") + log_probability(pipe.outline_guide, finished, "star")
    best = int(score.argmax())
    assert np.abs(out - ((finished[best].permute(1, 2, 3, 0).numpy() + 1) / 2)).max() < 1e-6
    # Above 0 it steers too: read at each of the three guided steps, then once to choose.
    seen.clear()
    pipe.register_to_config(outline_guidance=3.0)
    steered = pipe(prompt="a red star moving left on a blue background", num_inference_steps=4,
                   generator=torch.Generator().manual_seed(1)).frames[0]
    assert [x.shape[0] for x in seen] == [CANDIDATES] * 4
    assert not np.array_equal(steered, out)


def test_weights_over_latents_are_refused_a_shape_guide(guided, tmp_path):
    metadata, config = exported_metadata(guided[0])
    latent = tmp_path / "latent.safetensors"  # as a network over latents says it is (the refusal reads no tensors)
    save_file(load_file(str(guided[0])), str(latent),
              metadata=metadata | {"config": json.dumps(config | {"latent_channels": 4})})
    with pytest.raises(ValueError, match="pixels"):
        attach_guide(latent, guided[2], 10.0, tmp_path / "out.safetensors")


def test_the_shipped_weights_carry_a_shape_guide_a_turn_guide_and_an_outline_guide_and_their_scales():
    with safe_open(str(WEIGHTS), framework="pt") as f:
        keys = f.keys()
    assert all(any(k.startswith(GUIDES[kind]) for k in keys) for kind in ("shape", "turn", "outline"))
    pipe = load_pipeline(WEIGHTS)
    assert pipe.config.shape_guidance > 0 and pipe.config.turn_guidance > 0 and pipe.config.candidates > 1
    assert pipe.config.outline_guidance > 0 and pipe.outline_guide.silhouette
    assert pipe.turn_guide.classes == TURNING


def _labels(**stated: str) -> torch.Tensor:
    """One row of what a caption states, in ``train.ATTRIBUTES``'s order (unstated where not given)."""
    return torch.tensor([[vocab.index(stated[key]) if key in stated else UNSTATED
                          for key, vocab in ATTRIBUTES.items()]])


def test_the_guide_loss_reads_what_each_caption_asks_of_the_shipped_guides():
    guides = load_guides(WEIGHTS)
    assert set(guides) == {"shape", "turn", "outline"}
    star = Scene(shape="star", color="yellow", size="large", motion="right", background="blue")
    clip = as_video([render(star)]).requires_grad_(True)
    right, wrong = (guide_loss(guides, clip, _labels(shape=name, motion="right")) for name in ("star", "ball"))
    assert right.item() < 0.5 < 2 < wrong.item()
    (grad,) = torch.autograd.grad(right, clip)
    assert grad.abs().sum() > 0  # it trains the network that drew the clip
    # A caption asking none of the guides anything costs nothing (and still carries a graph to backpropagate).
    nothing = guide_loss(guides, clip, _labels(color="yellow", motion="right"))
    assert nothing.item() == 0 and nothing.requires_grad
    # A rotation asks the turn guide for turning: a turning star reads as such, the same star standing still not.
    turning = Scene(shape="star", color="white", size="large", motion="rotate", background="night sky")
    moving, still = (as_video([render(turning, fps=fps)]) for fps in (8.0, 1000.0))
    asks = _labels(motion="rotate")
    assert guide_loss(guides, moving, asks).item() < 0.5 < guide_loss(guides, still, asks).item()


def test_guide_matching_compares_what_the_guides_read_of_the_clip_with_what_they_read_of_the_true_one():
    guides = load_guides(WEIGHTS)
    star = {"shape": "star", "color": "yellow", "size": "large", "motion": "right", "background": "blue"}
    truth = as_video([render(Scene(**star))])
    def cost(**changed) -> float:
        return guide_match_loss(guides, as_video([render(Scene(**star | changed))]), truth).item()
    assert cost() == 0
    # Another shape in the same place costs several times what the same star elsewhere (start, tilt, speed) does.
    assert cost(shape="ball") > 3 * cost(seed=1) > 0
    assert cost(shape="square") > 3 * cost(seed=1)
    assert cost(size="medium") > 0 and cost(effect="rain") > 0  # the true clip's size and rain count too
    clip = as_video([render(Scene(**star | {"shape": "ball"}))]).requires_grad_(True)
    (grad,) = torch.autograd.grad(guide_match_loss(guides, clip, truth), clip)
    assert grad.abs().sum() > 0


def test_a_run_with_the_guide_loss_trains_the_network_through_frozen_guides(tmp_path):
    config = load_config(None) | SMALL | {"steps": 2}
    guided = config | {"guide_loss": 1.0, "guide_weights": str(WEIGHTS)}
    train(config, tmp_path / "a", resume=False, minutes=None)
    train(guided, tmp_path / "b", resume=False, minutes=None)
    train(guided | {"guide_match": True}, tmp_path / "m", resume=False, minutes=None)
    trained = [torch.load(tmp_path / run / "checkpoint.pt", weights_only=False)["model"] for run in "abm"]
    assert trained[0].keys() == trained[1].keys() == trained[2].keys()  # the guides are read, not trained or saved
    for one, other in ((0, 1), (0, 2), (1, 2)):
        assert any(not torch.equal(trained[one][k], trained[other][k]) for k in trained[0])
    save_file({"x": torch.zeros(1)}, str(tmp_path / "none.safetensors"), metadata={"config": "{}"})
    with pytest.raises(ValueError, match="carries no guide"):
        train(guided | {"guide_weights": str(tmp_path / "none.safetensors")}, tmp_path / "c", resume=False,
              minutes=None)
    with pytest.raises(ValueError, match="pixels"):
        train(guided | {"latent_channels": 4, "detail_head": False}, tmp_path / "d", resume=False, minutes=None)
    with pytest.raises(ValueError, match="needs guide_weights"):
        train(guided | {"guide_weights": None}, tmp_path / "e", resume=False, minutes=None)
    with pytest.raises(ValueError, match="guide_match needs guide_loss"):
        train(config | {"guide_match": True}, tmp_path / "f", resume=False, minutes=None)
