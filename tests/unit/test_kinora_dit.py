"""Kinora's own model: patching, the diffusers-shaped sampler, and reproducible, resumable training."""

import json

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file

from models.kinora_dit.autoencoder import FrameAutoencoder, load_autoencoder, save_autoencoder, train_autoencoder
from models.kinora_dit.captions import parse_prompt
from models.kinora_dit.pipeline import (
    LATENT_PATCH,
    SAMPLING_TAIL,
    DetailHead,
    KinoraDiTPipeline,
    ShapeHead,
    TokenPositions,
    attach_expert,
    encode_text,
    load_network,
    load_pipeline,
    make_network,
    make_transformer,
    network_state,
    patchify,
    predict_clean,
    split_expert,
    unpatchify,
)
from models.kinora_dit.scenes import Scene, render, render_with_alpha
from models.kinora_dit.train import (
    ATTRIBUTES,
    UNSTATED,
    batch,
    class_loss,
    export,
    flow_loss,
    learning_rate,
    load_config,
    noise_levels,
    own_inputs,
    pixel_weights,
    train,
)
from models.kinora_dit.train import main as train_main
from models.text_encoder import load_minilm

SMALL = {"width": 64, "depth": 1, "head_dim": 32, "batch": 4, "checkpoint_every": 2, "warmup": 2, "uniform_sigma": 0.5,
         "prediction": "velocity", "pooled_text": True, "text_aux": 1.0, "text_classes": 0.1}


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
    with pytest.raises(ValueError, match="at least 1"):
        pipe(prompt="x", num_frames=0)


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
    # Stopped part way (--until) and resumed, a run with a decaying rate is the run made at once.
    decaying = config | {"steps": 5, "final_lr": 1e-5}
    assert train(decaying, tmp_path / "d", resume=False, minutes=None, until=2)["step"] == 2
    train(decaying, tmp_path / "d", resume=True, minutes=None)
    train(decaying, tmp_path / "e", resume=False, minutes=None)
    assert losses(tmp_path / "d") == losses(tmp_path / "e") and len(losses(tmp_path / "d")) == 5
    weights = export(tmp_path / "a", tmp_path / "w.safetensors")
    state = load_file(str(weights))
    assert all(t.dtype == torch.float16 for t in state.values())
    checkpoint = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    raw = load_file(str(export(tmp_path / "a", tmp_path / "raw.safetensors", raw=True)))
    assert all(torch.equal(raw[k], v.half()) for k, v in checkpoint["model"].items())
    assert any(not torch.equal(state[k], v.half()) for k, v in checkpoint["model"].items())  # the EMA lags
    assert json.loads((tmp_path / "a" / "config.json").read_text())["width"] == 64


def test_the_learning_rate_warms_up_then_stays_or_falls_along_a_cosine():
    config = load_config(None) | {"lr": 1e-3, "warmup": 10, "steps": 110}
    # Warm-up counts from where the run (or its --init) began.
    assert learning_rate(config, 100, warm_from=100) == pytest.approx(1e-4)
    assert learning_rate(config, 4, warm_from=0) == pytest.approx(5e-4)
    assert learning_rate(config, 50, warm_from=0) == learning_rate(config, 109, warm_from=0) == 1e-3
    decay = config | {"final_lr": 1e-4}
    rates = [learning_rate(decay, step, warm_from=0) for step in range(110)]
    assert rates[9] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4)
    assert rates[59] == pytest.approx(5.5e-4)  # half way down the cosine, half way between the two rates
    assert all(a >= b for a, b in zip(rates[9:], rates[10:], strict=False))


def test_noise_levels_lean_towards_pure_noise_and_a_share_comes_unshifted():
    config = load_config(None) | {"sigma_shift": 3.0, "uniform_sigma": 0.25}
    draw = lambda c: noise_levels(200_000, torch.Generator().manual_seed(0), c)  # noqa: E731
    shifted = draw(config)
    assert shifted.min() >= 1e-3 and shifted.max() <= 1 and shifted.median() > 0.7
    low = (shifted < 0.3).float().mean().item()
    assert 0.04 < low < 0.06  # one draw in twenty below 0.3
    mixed = draw(config | {"unshifted_sigma": 0.3})
    # 70 % as before, 30 % uniform on [0, 1]: 0.7 · 5 % + 0.3 · 30 % ≈ 12.6 % below 0.3.
    assert (mixed < 0.3).float().mean().item() == pytest.approx(0.7 * low + 0.3 * 0.3, abs=0.005)
    assert draw(config | {"unshifted_sigma": 1.0}).mean().item() == pytest.approx(0.5, abs=0.005)


def test_the_loss_is_zero_only_for_the_true_clip_at_every_noise_level():
    generator = torch.Generator().manual_seed(0)
    video = torch.rand((4, 3, 2, 8, 8), generator=generator) * 2 - 1
    noise = torch.randn(video.shape, generator=generator)
    sigma = torch.tensor([0.05, 0.2, 0.7, 1.0])  # two below the cap of 0.5, two above
    assert flow_loss(video, video, sigma, 0.5).item() == 0.0
    s = sigma.view(-1, 1, 1, 1, 1)
    noisy = (1 - s) * video + s * noise
    # The network's denoised clip, and a clip pushed past it away from the input, as the capped velocity used
    # to ask for below the cap: the true clip must score best at every level.
    shrunk = video * 0.9
    overshoot = video + 1.5 * (video - noisy)
    for i in range(4):
        one = (video[i:i + 1], sigma[i:i + 1], 0.5)
        assert flow_loss(shrunk[i:i + 1], *one) < flow_loss(overshoot[i:i + 1], *one)
    # Above the cap it is the velocity's error; below, the clip's error over the cap squared.
    high = flow_loss(shrunk[2:], video[2:], sigma[2:], 0.5)
    velocity = (noisy[2:] - shrunk[2:]) / s[2:]
    assert high.item() == pytest.approx(torch.nn.functional.mse_loss(velocity, noise[2:] - video[2:]).item(), rel=1e-5)
    low = flow_loss(shrunk[:2], video[:2], sigma[:2], 0.5)
    assert low.item() == pytest.approx(((shrunk[:2] - video[:2]) / 0.5).square().mean().item(), rel=1e-5)
    # Pixel weights are normalised: even weights change nothing.
    even = torch.full((4, 1, 2, 8, 8), 3.0)
    plain = flow_loss(shrunk, video, sigma, 0.5).item()
    assert flow_loss(shrunk, video, sigma, 0.5, even).item() == pytest.approx(plain)


def test_the_object_and_its_outline_weigh_more_in_the_loss():
    scene = Scene(shape="star", color="red", size="large", motion="right", background="white", seed=3)
    clip, alpha = render_with_alpha(scene)
    assert np.array_equal(clip, render(scene))
    # The red (partly shaded) star on white: covered pixels are not white, uncovered ones are.
    assert (clip[alpha > 0.5][:, 1] < 150).all() and (clip[alpha == 0].min(axis=-1) > 200).all()
    assert pixel_weights(torch.from_numpy(alpha)[None, None], 0.0) is None
    weights = pixel_weights(torch.from_numpy(alpha)[None, None], 10.0)[0, 0].numpy()
    assert np.allclose(weights[alpha >= 0.999], 11.0) and weights.min() == 1.0
    # One pixel around the object weighs as much as the object's edge, two pixels out nothing more.
    ring = (weights > 1) & (alpha == 0)
    assert ring.any() and (weights[ring] > 1.1).all()
    far = ~np.stack([np.pad(f > 0, 2)[2 + dy:34 + dy, 2 + dx:34 + dx] for f in alpha
                     for dy in range(-2, 3) for dx in range(-2, 3)]).reshape(16, 25, 32, 32).any(axis=1)
    assert (weights[far] == 1.0).all()
    # A blinking object weighs as much where it is hidden as where it is shown: drawing it in a hidden frame
    # costs what leaving it out of a shown frame does.
    blinking = Scene(**{**scene.attributes(), "effect": "blink", "seed": 3})
    clip, alpha = render_with_alpha(blinking)
    shown = (clip[..., 1] < 150).any(axis=(1, 2))
    assert shown.any() and not shown.all() and (alpha.sum(axis=(1, 2)) > 20).all()


def test_each_caption_comes_with_what_it_states_and_a_head_learns_to_name_it():
    config = load_config(None) | {"batch": 64, "drop_text": 0.2}
    video, captions, labels, alpha = batch(np.random.default_rng(0), config)
    assert video.shape == (64, 3, 16, 32, 32) and labels.shape == (64, len(ATTRIBUTES))
    assert alpha.shape == (64, 1, 16, 32, 32) and alpha.min() >= 0 and alpha.max() <= 1
    for text, row in zip(captions, labels.tolist(), strict=True):
        stated = {key: vocab[i] for (key, vocab), i in zip(ATTRIBUTES.items(), row, strict=True) if i != UNSTATED}
        assert stated == (parse_prompt(text) if text else {})  # a dropped caption states nothing
    assert 0 < sum(not text for text in captions) < 64
    # The loss counts stated attributes only: perfect logits for them (whatever the rest) cost nothing.
    width = sum(len(vocab) for vocab in ATTRIBUTES.values())
    logits = torch.randn(len(captions), width)
    offsets = np.cumsum([0] + [len(vocab) for vocab in ATTRIBUTES.values()])[:-1]
    for b, row in enumerate(labels.tolist()):
        for offset, i in zip(offsets, row, strict=True):
            if i != UNSTATED:
                logits[b, offset + i] = 100.0
    assert class_loss(torch.nn.Identity(), logits, labels) < 1e-6
    assert class_loss(torch.nn.Identity(), torch.zeros(len(captions), width), labels) > 1.0


def tiny_pipeline() -> KinoraDiTPipeline:
    torch.manual_seed(0)
    text_encoder, tokenizer = load_minilm()
    return KinoraDiTPipeline(make_transformer(64, 1), text_encoder, tokenizer, FlowMatchEulerDiscreteScheduler())


@pytest.mark.parametrize("frame", [0, -1])
def test_a_pinned_image_is_exactly_that_frame_of_the_output(frame):
    # Pixel space makes image conditioning exact, even for an untrained network: the pinned frame ends as the image.
    image = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = tiny_pipeline()(prompt="a red ball", num_inference_steps=4, generator=torch.Generator().manual_seed(0),
                          conditions=[LTXVideoCondition(image=Image.fromarray(image), frame_index=frame)]).frames[0]
    got = (out[frame] * 255).round()
    assert np.abs(got - image).max() <= 1
    assert np.abs((out[frame + 1 if frame == 0 else frame - 1] * 255).round() - image).mean() > 20


def test_a_lead_clip_is_re_created_and_a_short_run_is_cut_from_a_full_length_one():
    lead = [np.full((24, 40, 3), 40 * i, np.uint8) for i in range(4)]
    out = tiny_pipeline()(prompt="a ball", width=40, height=24, num_frames=9, num_inference_steps=3,
                          generator=torch.Generator().manual_seed(0),
                          conditions=[LTXVideoCondition(video=[Image.fromarray(f) for f in lead], frame_index=0)])
    video = (out.frames[0] * 255).round()
    assert video.shape == (9, 24, 40, 3)
    assert all(np.abs(video[i] - lead[i]).max() <= 1 for i in range(4))


class KeepsWhatItSees(torch.nn.Module):
    """A denoiser that calls its input clean: sampling then stays where it starts, so the start can be read."""

    def forward(self, hidden_states, **_):  # type: ignore[no-untyped-def]
        return (hidden_states,)


def test_modify_starts_from_the_noised_source_and_strength_sets_how_far_it_moves():
    text_encoder, tokenizer = load_minilm()
    pipe = KinoraDiTPipeline(KeepsWhatItSees(), text_encoder, tokenizer, FlowMatchEulerDiscreteScheduler())
    source = np.random.default_rng(5).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    latents = pipe.video_to_tensor(source)
    distances, steps = [], []
    for strength in (0.25, 0.5, 1.0):
        taken = []
        out = pipe(prompt="a ball", num_inference_steps=8, latents=latents, denoise_strength=strength,
                   generator=torch.Generator().manual_seed(0),
                   callback_on_step_end=lambda p, i, t, kw, taken=taken: taken.append(i) or kw).frames[0]
        distances.append(np.abs(out * 255 - source).mean())
        steps.append(len(taken))
    assert steps == [2, 4, 8]  # as effective_steps: a strength-s run takes s of the steps
    assert 0 < distances[0] < distances[1] < distances[2]



def test_training_draws_a_frame_size_per_batch_from_sizes_and_the_network_takes_each(tmp_path):
    config = load_config(None) | SMALL | {"sizes": ["32", "40x24", "24x40"]}
    rng = np.random.default_rng(0)
    shapes = {batch(rng, config)[0].shape[-2:] for _ in range(12)}
    assert shapes == {(32, 32), (24, 40), (40, 24)}
    video, _, _, alpha = batch(np.random.default_rng(0), config | {"sizes": ["40x24"]})
    assert video.shape == (4, 3, 16, 24, 40) and alpha.shape == (4, 1, 16, 24, 40)
    result = train(config | {"steps": 4}, tmp_path / "a", resume=False, minutes=None)
    assert result["step"] == 4 and np.isfinite(result["loss_last_100"])
    # Without sizes no size is drawn: the data of earlier runs is unchanged.
    plain = batch(np.random.default_rng(3), load_config(None) | SMALL)[0]
    assert torch.equal(plain, batch(np.random.default_rng(3), load_config(None) | SMALL | {"sizes": None})[0])


def test_training_goes_on_from_exported_weights(tmp_path):
    # Machines keep no checkpoint between sessions: the shipped fp16 weights are where the next run starts.
    config = load_config(None) | SMALL | {"steps": 2}
    train(config, tmp_path / "a", resume=False, minutes=None)
    weights = export(tmp_path / "a", tmp_path / "a.safetensors")
    result = train(config | {"steps": 4}, tmp_path / "b", resume=False, minutes=None, init=weights)
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert result["step"] == 4 and len(state["losses"]) == 2 and state["warm_from"] == 2
    start = load_file(str(weights))
    assert any(not torch.equal(state["model"][k].half(), v) for k, v in start.items())  # it trained from there
    train(config, tmp_path / "c", resume=False, minutes=None, init=weights)  # already at step 2: loaded, saved
    loaded = torch.load(tmp_path / "c" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(loaded[k].half(), v) for k, v in start.items())


def test_the_pooled_prompt_token_positions_and_heads_join_weights_trained_without_them_and_learn(tmp_path):
    config = load_config(None) | SMALL | {"steps": 2, "pooled_text": False}
    train(config, tmp_path / "a", resume=False, minutes=None)
    plain = load_pipeline(export(tmp_path / "a", tmp_path / "a.safetensors"))
    assert plain.text_pooler is None and plain.token_positions is None and plain.detail_head is None
    assert plain.shape_head is None
    # Continued with a pooled prompt, token positions, a detail head and a shape head, the network starts
    # computing exactly what it did.
    extended = config | {"pooled_text": True, "token_positions": True, "detail_head": True, "shape_head": True,
                         "prediction": "clean"}  # the heads correct a predicted clean clip
    network = make_network(extended)
    load_network(network, load_file(str(tmp_path / "a.safetensors")))
    text, mask = encode_text(plain.text_encoder, plain.tokenizer, ["a red ball", ""])
    x, sigma = torch.randn(2, 3, 16, 32, 32), torch.full((2,), 0.7)
    with torch.no_grad():
        before = predict_clean(plain.transformer, x, sigma, text, mask, "clean")
        after = predict_clean(network.transformer, x, sigma, text, mask, "clean", network.pooler(text, mask),
                              network.positions, network.detail, network.shape)
    assert torch.equal(before, after)
    # ... then trains them, and the export carries them to the pipeline.
    train(extended | {"steps": 4}, tmp_path / "b", resume=False, minutes=None, init=tmp_path / "a.safetensors")
    pipe = load_pipeline(export(tmp_path / "b", tmp_path / "b.safetensors"))
    assert pipe.text_pooler.out.weight.abs().sum() > 0 and pipe.token_positions.out.weight.abs().sum() > 0
    assert pipe.detail_head.out.weight.abs().sum() > 0 and pipe.shape_head.out.weight.abs().sum() > 0
    video = pipe(prompt="a red ball", num_inference_steps=2, generator=torch.Generator().manual_seed(0)).frames[0]
    assert video.shape == (16, 32, 32, 3)
    wide = pipe(prompt="a red ball", width=40, height=24, num_inference_steps=2).frames[0]  # any grid has positions
    assert wide.shape == (16, 24, 40, 3)


def test_a_run_can_train_one_part_and_leave_the_rest_as_loaded(tmp_path):
    config = load_config(None) | SMALL | {"steps": 2, "prediction": "clean"}
    train(config, tmp_path / "a", resume=False, minutes=None)
    start = load_file(str(export(tmp_path / "a", tmp_path / "a.safetensors", raw=True)))
    alone = config | {"steps": 4, "shape_head": True, "train_parts": ["shape"]}
    train(alone, tmp_path / "b", resume=False, minutes=None, init=tmp_path / "a.safetensors")
    trained = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(trained[k].half(), v) for k, v in start.items())  # every loaded part as it was
    assert any(trained[k].abs().sum() > 0 for k in trained if k.startswith("shape_head.out."))  # the head moved
    with pytest.raises(ValueError, match="names no part"):
        train(alone | {"train_parts": ["shapes"]}, tmp_path / "c", resume=False, minutes=None)


def test_a_share_of_inputs_is_one_sampler_step_from_the_networks_own_guess_at_a_higher_level(tmp_path):
    config = load_config(None) | SMALL | {"prediction": "clean", "detail_head": True, "own_input": 0.5,
                                          "own_gap": [0.1, 0.3]}
    network = make_network(config)
    video = torch.rand((64, 3, 16, 16, 16), generator=torch.Generator().manual_seed(1)) * 2 - 1
    text, mask = torch.randn(64, 5, 384), torch.ones(64, 5, dtype=torch.long)
    pooled = network.pooler(text, mask)
    sigma = torch.rand(64, generator=torch.Generator().manual_seed(2)) * 0.9
    noisy = (1 - sigma.view(-1, 1, 1, 1, 1)) * video + sigma.view(-1, 1, 1, 1, 1) * torch.randn(video.shape)
    args = (config, text, mask, pooled, network.positions, network.detail, network.shape)
    mixed = own_inputs(network.transformer, video, noisy, sigma, torch.Generator().manual_seed(3), *args)
    assert not mixed.requires_grad  # the guess is made without gradients
    # The same draws again: which clips, the gaps, the noise at the higher level.
    rng = torch.Generator().manual_seed(3)
    chosen = torch.rand(64, generator=rng) < 0.5
    gap = 0.1 + 0.2 * torch.rand(64, generator=rng)
    noise = torch.randn(video.shape, generator=rng)
    assert 20 < chosen.sum() < 44
    assert torch.equal(mixed[~chosen], noisy[~chosen])  # the rest are the plain noisy clips
    for i in chosen.nonzero().flatten()[:3].tolist():
        upper = min(sigma[i].item() + gap[i].item(), 1.0)
        start = (1 - upper) * video[i:i + 1] + upper * noise[i:i + 1]
        with torch.no_grad():
            guess = predict_clean(network.transformer, start, torch.tensor([upper]), text[i:i + 1], mask[i:i + 1],
                                  "clean", pooled[i:i + 1], network.positions, network.detail).clamp(-1, 1)
        expected = guess + sigma[i] / upper * (start - guess)
        assert torch.allclose(mixed[i:i + 1], expected, atol=1e-5)
    # A run trains with them and stays reproducible.
    run = config | {"steps": 2}
    first = train(run, tmp_path / "a", resume=False, minutes=None)
    assert np.isfinite(first["loss_last_100"])
    assert train(run, tmp_path / "b", resume=False, minutes=None) == first


def test_the_detail_head_corrects_the_clip_from_each_pixels_neighbours_in_its_frame():
    head = DetailHead()
    clean = torch.rand(1, 3, 16, 32, 32)
    sigma = torch.tensor([0.2])
    noisy = 0.8 * clean + 0.2 * torch.randn(1, 3, 16, 32, 32)
    with torch.no_grad():
        assert torch.equal(head(noisy, clean, sigma), clean)  # starts at zero
        torch.nn.init.normal_(head.out.weight, std=0.1)
        before = head(noisy, clean, sigma)
        changed = noisy.clone()
        changed[:, :, 5, 10, 20] += 1.0  # one pixel of one frame
        moved = (head(changed, clean, sigma) - before).abs().amax(dim=1)[0] > 0
        level = head(noisy, clean, torch.tensor([0.6]))
    # Four 3×3 convolutions: the pixel reaches four pixels each way, in its own frame only.
    assert moved[5, 6:15, 16:25].all() and moved.sum() == 81
    assert not torch.allclose(level, before)  # the noise level enters too


def test_the_shape_head_sees_about_twenty_pixels_of_its_frame_and_the_prompt():
    head = ShapeHead(text_width=8)
    clean = torch.rand(1, 3, 16, 40, 48)
    sigma, pooled = torch.tensor([0.5]), torch.zeros(1, 8)
    noisy = 0.5 * clean + 0.5 * torch.randn(1, 3, 16, 40, 48)
    with torch.no_grad():
        assert torch.equal(head(noisy, clean, sigma, pooled), clean)  # starts at zero
        for layer in (head.out, head.film):
            torch.nn.init.normal_(layer.weight, std=0.1)
        before = head(noisy, clean, sigma, pooled)
        changed = noisy.clone()
        changed[:, :, 5, 20, 24] += 1.0  # one pixel of one frame
        moved = (head(changed, clean, sigma, pooled) - before).abs().amax(dim=1)[0] > 0
        prompted = head(noisy, clean, sigma, torch.ones(1, 8))
    # Its own frame only, out to about ten pixels each way (the half-resolution level widens the reach).
    rows, cols = moved[5].nonzero().T
    assert moved.sum() == moved[5].sum() and 8 <= rows.max() - 20 <= 12 and 8 <= 20 - rows.min() <= 12
    assert 8 <= cols.max() - 24 <= 12 and moved[5].sum() > 300
    assert not torch.allclose(prompted, before)  # the prompt enters


def test_token_positions_follow_the_patch_order():
    positions = TokenPositions(2)
    with torch.no_grad():
        positions.out.weight[0, 0] = 1.0  # output 0 reads the frame's first feature, sin(π·t), t in (0, 1)
        positions.out.weight[1, 2 * positions.multiples] = 1.0  # output 1 reads the row's
    grid = positions(8, 4, 4).detach().reshape(8, 4, 4, 2)  # frame, row, column: patchify's order
    frame, row = grid[..., 0], grid[..., 1]
    assert torch.allclose(frame, frame[:, :1, :1].expand(8, 4, 4))  # the same across a frame
    assert torch.allclose(row, row[:1, :, :1].expand(8, 4, 4))  # the same along a row, in every frame
    assert torch.allclose(frame[:, 0, 0], torch.sin(torch.pi * (torch.arange(8) + 0.5) / 8))


def test_guidance_stops_below_its_noise_level_and_the_prompt_alone_finishes_the_clip():
    torch.manual_seed(0)
    text_encoder, tokenizer = load_minilm()
    pipe = KinoraDiTPipeline(make_transformer(64, 1), text_encoder, tokenizer, FlowMatchEulerDiscreteScheduler())
    rows = []
    hook = pipe.transformer.register_forward_hook(lambda module, inputs, output: rows.append(output[0].shape[0]))

    def sample(guidance: float, below: float) -> np.ndarray:
        pipe.register_to_config(guidance_min_sigma=below)
        return pipe(prompt="a red ball", num_inference_steps=4, guidance_scale=guidance,
                    generator=torch.Generator().manual_seed(1)).frames[0]

    guided = sample(3.0, 0.0)
    assert rows == [2, 2, 2, 2]  # prompt and negative prompt at every step
    rows.clear()
    partly = sample(3.0, 0.6)
    assert rows == [2, 2, 1, 1]  # the steps at σ = 1, 0.75 guided; 0.5, 0.25 not
    rows.clear()
    assert np.array_equal(sample(3.0, 2.0), sample(1.0, 0.0)) and rows == [1] * 8
    assert not np.array_equal(partly, guided) and not np.array_equal(partly, sample(1.0, 0.0))
    hook.remove()


def test_the_tail_adds_unguided_steps_below_the_schedule_and_callers_still_see_their_step_count():
    torch.manual_seed(0)
    text_encoder, tokenizer = load_minilm()
    pipe = KinoraDiTPipeline(make_transformer(64, 1), text_encoder, tokenizer, FlowMatchEulerDiscreteScheduler(),
                             guidance_min_sigma=0.3, tail_sigmas=(0.4, 0.1, 0.05))
    levels, rows, reported = [], [], []
    hook = pipe.transformer.register_forward_hook(lambda module, inputs, output: rows.append(output[0].shape[0]))
    pre = pipe.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: levels.append(round(float(kwargs["timestep"][0]) / 1000, 3)), with_kwargs=True)
    pipe(prompt="a red ball", num_inference_steps=4, generator=torch.Generator().manual_seed(1),
         callback_on_step_end=lambda p, i, t, kw: reported.append(i) or kw)
    hook.remove()
    pre.remove()
    assert levels == [1.0, 0.75, 0.5, 0.25, 0.1, 0.05]  # 0.4 is above the schedule's last level: not added
    assert rows == [2, 2, 2, 1, 1, 1] and reported == [0, 1, 2, 3]


def test_the_sampler_shifts_its_schedule_as_training_shifted_the_noise_levels(tmp_path):
    config = load_config(None) | SMALL | {"steps": 1, "sigma_shift": 3.0}
    train(config, tmp_path / "a", resume=False, minutes=None)
    pipe = load_pipeline(export(tmp_path / "a", tmp_path / "a.safetensors"))
    taken = []
    pipe(prompt="a red ball", num_inference_steps=4, generator=torch.Generator().manual_seed(0),
         callback_on_step_end=lambda p, i, t, kw: taken.append(round(float(t) / 1000, 4)) or kw)
    plain = np.linspace(1, 0.25, 4)
    assert taken == pytest.approx(3 * plain / (1 + 2 * plain), abs=1e-3)  # [1, 0.9, 0.75, 0.5]: more steps up high


def test_the_gallery_writes_a_clip_a_strip_and_a_verdict_per_prompt(tmp_path):
    from models.kinora_dit.gallery import PROMPTS, write_gallery
    from models.kinora_dit.pipeline import WEIGHTS

    entries = write_gallery(tmp_path, WEIGHTS)
    assert len(entries) == len(PROMPTS) and entries[-1]["held_out"]
    with Image.open(tmp_path / "01.gif") as gif:
        assert gif.n_frames == 16 and gif.size == (128, 128)
    with Image.open(tmp_path / "01.png") as strip:
        assert strip.size == (8 * 128, 128)
    wide = next(n for n, (_, size) in enumerate(PROMPTS, 1) if size == (40, 24))
    with Image.open(tmp_path / f"{wide:02d}.gif") as gif:
        assert gif.size == (160, 96)
    assert all({"color", "motion", "consistency"} <= set(e["verdict"]) for e in entries)
    assert PROMPTS[3][0] in (tmp_path / "README.md").read_text() and "40×24" in (tmp_path / "README.md").read_text()


def test_the_autoencoder_learns_to_give_back_clips_and_its_latents_come_normalised(tmp_path):
    config = load_config(None) | {"batch": 2, "sizes": ["32", "40x24"], "drop_text": 0.0}
    video = batch(np.random.default_rng(9), config | {"sizes": ["40x24"]})[0]
    torch.manual_seed(0)
    with torch.no_grad():
        untrained = (FrameAutoencoder(8).raw_decode(FrameAutoencoder(8).raw_encode(video)) - video).square().mean()
    model, _ = train_autoencoder(60, config, channels=8, lr=3e-3)
    with torch.no_grad():
        error = (model.decode(model.encode(video)) - video).square().mean()
        assert error < 0.5 * untrained
        latent = model.encode(video)
        assert latent.shape == (2, 8, 16, 6, 10)  # a cell per 4×4 pixels, every frame
        assert model.decode(latent).shape == video.shape
        rng = np.random.default_rng(10)  # 128 other clips, the frame sizes mixed as in training
        many = [model.encode(batch(rng, config | {"batch": 16})[0]).transpose(0, 1).flatten(1) for _ in range(8)]
    per_channel = torch.cat(many, dim=1)
    assert per_channel.mean(dim=1).abs().max() < 0.3 and ((per_channel.std(dim=1) - 1).abs() < 0.3).all()
    save_autoencoder(model, str(tmp_path / "ae.safetensors"))
    again = load_autoencoder(load_file(str(tmp_path / "ae.safetensors")))
    assert torch.equal(again.encode(video), model.encode(video)) and not again.mean.requires_grad


def test_latent_patches_round_trip_any_channel_count():
    latent = torch.randn(2, 12, 16, 6, 10)
    tokens = patchify(latent, LATENT_PATCH)
    assert tokens.shape == (2, 8 * 3 * 5, 12 * 2 * 2 * 2)
    assert torch.equal(unpatchify(tokens, 16, 6, 10, LATENT_PATCH), latent)


def test_a_network_over_latents_starts_from_pixel_weights_and_samples_through_the_decoder(tmp_path):
    pixels = load_config(None) | SMALL | {"steps": 2, "prediction": "clean"}
    train(pixels, tmp_path / "a", resume=False, minutes=None)
    start = load_file(str(export(tmp_path / "a", tmp_path / "a.safetensors")))
    autoencoder, _ = train_autoencoder(2, pixels | {"batch": 1}, channels=4)
    save_autoencoder(autoencoder, str(tmp_path / "ae.safetensors"))
    latent = pixels | {"latent_channels": 4}
    with pytest.raises(ValueError, match="autoencoder weights"):
        train(latent, tmp_path / "b", resume=False, minutes=None, init=tmp_path / "a.safetensors")
    with pytest.raises(ValueError, match="detail and shape heads"):
        make_network(latent | {"detail_head": True})
    # Already at step 2: loaded and saved. All but the transformer's input and output layers come from the
    # pixel weights; the autoencoder is the one given.
    train(latent, tmp_path / "c", resume=False, minutes=None, init=tmp_path / "a.safetensors",
          autoencoder=tmp_path / "ae.safetensors")
    loaded = torch.load(tmp_path / "c" / "checkpoint.pt", weights_only=False)["model"]
    fresh = {k for k, v in start.items() if not torch.equal(loaded[k].half(), v)}
    assert fresh == {"proj_in.weight", "proj_out.weight", "proj_out.bias"}
    assert loaded["proj_in.weight"].shape == (64, 4 * 2 * 2 * 2)
    assert all(torch.equal(loaded[f"autoencoder.{k}"], v) for k, v in autoencoder.state_dict().items())
    # It trains (the autoencoder frozen), and the export samples pixels through the decoder.
    train(latent | {"steps": 4}, tmp_path / "d", resume=False, minutes=None, init=tmp_path / "a.safetensors",
          autoencoder=tmp_path / "ae.safetensors")
    trained = torch.load(tmp_path / "d" / "checkpoint.pt", weights_only=False)["model"]
    assert not torch.equal(trained["proj_in.weight"], loaded["proj_in.weight"])
    assert all(torch.equal(trained[f"autoencoder.{k}"], v) for k, v in autoencoder.state_dict().items())
    pipe = load_pipeline(export(tmp_path / "d", tmp_path / "d.safetensors"))
    assert pipe.autoencoder is not None and pipe.patch == LATENT_PATCH
    out = pipe(prompt="a red ball", width=40, height=24, num_inference_steps=2,
               generator=torch.Generator().manual_seed(0)).frames[0]
    assert out.shape == (16, 24, 40, 3) and out.min() >= 0 and out.max() <= 1
    image = np.random.default_rng(3).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    pinned = pipe(prompt="a red ball", width=40, height=24, num_inference_steps=2,
                  generator=torch.Generator().manual_seed(0),
                  conditions=[LTXVideoCondition(image=Image.fromarray(image), frame_index=0)]).frames[0]
    # The pinned frame comes back as the decoder gives its latent back: exactly that decoding.
    with torch.no_grad():
        expected = pipe.autoencoder.decode(pipe.to_space(pipe.video_to_tensor([image])))[0, :, 0]
    assert np.abs(pinned[0] - ((expected.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()).max() < 1e-4


def test_partial_loading_leaves_out_only_layers_whose_shape_differs():
    small = load_config(None) | SMALL | {"prediction": "clean"}
    state = network_state(make_network(small))
    assert load_network(make_network(small | {"latent_channels": 4}), state, partial=True) == [
        "proj_in.weight", "proj_out.bias", "proj_out.weight"]
    with pytest.raises(ValueError, match="do not fit"):  # another depth is not a partial fit
        load_network(make_network(small | {"depth": 2}), state, partial=True)


def test_a_band_of_noise_levels_is_drawn_uniformly_inside_it():
    sigma = noise_levels(100_000, torch.Generator().manual_seed(0), load_config(None) | {"sigma_band": [0.3, 0.9]})
    assert sigma.min() >= 0.3 and sigma.max() <= 0.9
    assert sigma.mean().item() == pytest.approx(0.6, abs=0.005)
    assert (sigma < 0.45).float().mean().item() == pytest.approx(0.25, abs=0.01)


def test_an_expert_trained_on_a_band_denoises_those_levels_and_the_network_the_rest(tmp_path, monkeypatch):
    config = load_config(None) | SMALL | {"prediction": "clean", "steps": 2}
    train(config, tmp_path / "base", resume=False, minutes=None)
    base = export(tmp_path / "base", tmp_path / "base.safetensors")
    train(config | {"steps": 4, "sigma_band": [0.5, 1.0]}, tmp_path / "band", resume=False, minutes=None, init=base)
    combined = tmp_path / "combined.safetensors"
    monkeypatch.setattr("sys.argv", ["train", "--out", str(tmp_path / "band"), "--export", str(combined),
                                     "--expert-for", str(base)])
    train_main()
    pipe = load_pipeline(combined)
    assert pipe.config.expert_band == (0.5, 1.0)
    calls = {"network": [], "expert": []}  # the noise level of each pass through either transformer
    for name, transformer in (("network", pipe.transformer), ("expert", pipe.expert["transformer"])):
        transformer.register_forward_pre_hook(
            lambda module, args, kwargs, name=name: calls[name].append(kwargs["timestep"][0].item() / 1000),
            with_kwargs=True)

    def sample() -> np.ndarray:
        return pipe(prompt="a red ball", num_inference_steps=4, generator=torch.Generator().manual_seed(1)).frames[0]

    with_expert = sample()
    # Unshifted schedule 1, 0.75, 0.5, 0.25, then the tail: the expert takes the first three.
    assert calls["expert"] == pytest.approx([1.0, 0.75, 0.5])
    assert len(calls["network"]) == 1 + len(SAMPLING_TAIL) and max(calls["network"]) == pytest.approx(0.25)
    pipe.register_to_config(expert_band=None)
    calls["expert"].clear()
    without = sample()
    assert not calls["expert"]
    assert np.array_equal(without, load_pipeline(base)(prompt="a red ball", num_inference_steps=4,
                                                       generator=torch.Generator().manual_seed(1)).frames[0])
    assert not np.array_equal(with_expert, without)
    # The expert's weights are its run's, under their own prefix.
    trained = load_file(str(export(tmp_path / "band", tmp_path / "band.safetensors")))
    stored = load_file(str(combined))
    assert all(torch.equal(stored["expert." + k], v) for k, v in trained.items())
    assert all(torch.equal(stored[k], v) for k, v in load_file(str(base)).items())
    # Attached again, the expert replaces the one the file carries; a run on the expert's band goes on from the
    # expert, a run on the levels below it or on all levels from the network.
    again = load_file(str(attach_expert(combined, tmp_path / "band.safetensors", (0.5, 1.0), tmp_path / "again.st")))
    assert again.keys() == stored.keys()
    for name, band, source, step in (("from-expert", [0.5, 1.0], trained, 4),
                                     ("from-network", None, load_file(str(base)), 2),
                                     ("low", [0.0, 0.5], load_file(str(base)), 2)):
        result = train(config | {"steps": step, "sigma_band": band}, tmp_path / name, resume=False, minutes=None,
                       init=combined)
        loaded = torch.load(tmp_path / name / "checkpoint.pt", weights_only=False)["model"]
        assert result["step"] == step
        assert all(torch.equal(loaded[k].half(), v) for k, v in source.items())
    # The low-band run, trained a step, exported as the network beside the combined file's expert (--expert-of).
    train(config | {"steps": 3, "sigma_band": [0.0, 0.5]}, tmp_path / "low", resume=True, minutes=None)
    swapped = tmp_path / "swapped.safetensors"
    monkeypatch.setattr("sys.argv", ["train", "--out", str(tmp_path / "low"), "--export", str(swapped),
                                     "--expert-of", str(combined)])
    train_main()
    low = load_file(str(export(tmp_path / "low", tmp_path / "low.safetensors")))
    network, expert = split_expert(load_file(str(swapped)))
    assert network.keys() == low.keys() and all(torch.equal(network[k], v) for k, v in low.items())
    assert not all(torch.equal(network[k], v) for k, v in load_file(str(base)).items())
    assert all(torch.equal(expert[k], v) for k, v in trained.items())
    assert load_pipeline(swapped).config.expert_band == (0.5, 1.0)
    with safe_open(str(swapped), framework="pt") as f:
        assert (f.metadata()["step"], f.metadata()["expert_step"]) == ("3", "4")


def test_the_shipped_weights_say_where_training_goes_on_from():
    # `--init` with the shipped file continues its expert from the expert's own step, the network from its.
    from models.kinora_dit.pipeline import WEIGHTS

    with safe_open(str(WEIGHTS), framework="pt") as f:
        metadata = f.metadata()
        keys = list(f.keys())
    assert json.loads(metadata["config"]).get("expert_band")
    assert int(metadata["expert_step"]) > int(metadata["step"]) > 0
    assert any(k.startswith("expert.") for k in keys)


def test_an_expert_of_another_design_is_refused(tmp_path):
    config = load_config(None) | SMALL | {"prediction": "clean", "steps": 2}
    train(config, tmp_path / "a", resume=False, minutes=None)
    train(config | {"width": 32}, tmp_path / "b", resume=False, minutes=None)
    with pytest.raises(ValueError, match="design"):
        attach_expert(export(tmp_path / "a", tmp_path / "a.safetensors"),
                      export(tmp_path / "b", tmp_path / "b.safetensors"), (0.5, 1.0), tmp_path / "c.safetensors")
