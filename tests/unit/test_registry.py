import pytest

from kinora.config import Settings
from models.registry import REGISTRY, get_spec, native_frames, native_size, output_frame_count


@pytest.mark.parametrize("name", list(REGISTRY))
def test_native_frames_follow_the_k_plus_1_rule_and_cover_the_duration(name):
    spec = get_spec(name)
    for seconds in (0.1, 1, 2.5, 5, spec.run_seconds):
        frames = native_frames(spec, seconds)
        assert (frames - 1) % spec.frame_multiple == 0
        assert frames >= seconds * spec.native_fps
        assert frames - spec.frame_multiple < seconds * spec.native_fps + 1


def test_fifteen_seconds_at_24_fps_needs_361_native_frames():
    assert native_frames(get_spec("ltx-tiny"), 15) == 361


@pytest.mark.parametrize(("w", "h"), [(854, 480), (480, 854), (480, 480), (1920, 1080), (64, 1920)])
def test_native_size_is_a_multiple_of_32_with_the_requested_aspect(w, h):
    spec = get_spec("ltx-video")
    nw, nh = native_size(spec, w, h)
    assert nw % 32 == 0 and nh % 32 == 0
    assert (nw > nh) == (w > h) or w == h
    if w / h < 4:
        assert abs(nw / nh - w / h) / (w / h) < 0.2


def test_native_16_9_sizes_of_the_real_models():
    assert native_size(get_spec("ltx-video"), 1280, 720) == (832, 480)
    assert native_size(get_spec("wan2.1-t2v-1.3b"), 1280, 720) == (848, 480)


def test_family_rules():
    names = ("ltx-tiny", "ltx-video", "wan-tiny", "wan2.1-t2v-1.3b")
    assert [get_spec(n).frame_multiple for n in names] == [8, 8, 4, 4]
    assert [get_spec(n).size_multiple for n in names] == [32, 32, 16, 16]
    assert native_frames(get_spec("wan-tiny"), 5) == 81  # Wan's 81 frames at 16 fps
    assert native_size(get_spec("wan-tiny"), 854, 480)[0] % 16 == 0


def test_output_frame_count():
    assert output_frame_count(15, 24) == 360
    assert output_frame_count(2.5, 30) == 75


def test_the_tiny_preset_says_its_weights_are_random():
    spec = get_spec("ltx-tiny")
    assert spec.random_weights and "RANDOM" in spec.description
    assert spec.run_seconds == get_spec("ltx-video").run_seconds  # the same per-run limit as the real model
    assert spec.max_seconds == 60 and spec.can_chain  # longer requests chain runs


def test_checkpoints_take_the_same_inputs_as_the_tiny_preset_of_their_pipeline():
    # A tiny preset stands in for its checkpoint in tests, so they must agree on what a request may send.
    fields = lambda s: (s.inputs, s.requires_image, s.image_positions, s.overlap_frames, s.video_modes)  # noqa: E731
    presets = {s.pipeline: s for s in REGISTRY.values() if s.random_weights}
    for spec in REGISTRY.values():
        if not spec.is_preset:
            assert fields(spec) == fields(presets[spec.pipeline]), spec.name
    assert not get_spec("wan2.1-t2v-1.3b").requires_image and get_spec("wan2.1-i2v-14b-480p").requires_image


def test_the_embedded_default_is_the_model_trained_here(monkeypatch):
    # Tests pin the tiny preset through the environment (conftest); without it, a fresh install serves kinora-dit.
    monkeypatch.delenv("KINORA_DEFAULT_MODEL")
    spec = get_spec(Settings(_env_file=None).default_model)
    assert spec.name == "kinora-dit" and not spec.random_weights and spec.max_seconds == 60
    assert set(spec.inputs) == {"text", "image", "video"}
