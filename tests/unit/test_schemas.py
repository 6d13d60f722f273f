import pytest
from pydantic import ValidationError

from app.errors import InvalidRequest
from app.schemas import GenerateRequest
from app.service import resolve_request
from models.registry import get_spec


def test_the_documented_request_resolves_every_default():
    req = GenerateRequest.model_validate({"prompt": "Une mer agitée au coucher du soleil", "duration": 15})
    resolved = resolve_request(req, get_spec("ltx-tiny"))
    assert resolved.model_dump() | {"seed": 0} == {
        "prompt": "Une mer agitée au coucher du soleil", "negative_prompt": None, "model": "ltx-tiny",
        "duration": 15.0, "fps": 24, "width": 854, "height": 480, "seed": 0, "steps": 8, "guidance_scale": 3.0,
        "segments": [], "image": None, "image_position": "first", "video": None, "mode": "generate",
        "strength": None, "include_input": True,
    }
    assert 0 <= resolved.seed < 2**32


@pytest.mark.parametrize(("resolution", "aspect", "size"), [
    ("480p", "16:9", (854, 480)), ("720p", "16:9", (1280, 720)), ("1080p", "16:9", (1920, 1080)),
    ("720p", "9:16", (720, 1280)), ("1080p", "1:1", (1080, 1080)),
])
def test_output_size_from_resolution_and_aspect(resolution, aspect, size):
    req = GenerateRequest(prompt="x", resolution=resolution, aspect_ratio=aspect)
    assert req.output_size() == size


def test_explicit_size_wins_and_seed_is_kept():
    req = GenerateRequest(prompt="x", width=640, height=360, seed=7)
    resolved = resolve_request(req, get_spec("ltx-tiny"))
    assert (resolved.width, resolved.height, resolved.seed) == (640, 360, 7)


@pytest.mark.parametrize(("body", "field"), [
    ({"prompt": ""}, "prompt"),
    ({"prompt": "   "}, "prompt"),
    ({}, "prompt"),
    ({"prompt": "x", "duration": 0}, "duration"),
    ({"prompt": "x", "duration": 61}, "duration"),
    ({"prompt": "x", "duration": "long"}, "duration"),
    ({"prompt": "x", "fps": 240}, "fps"),
    ({"prompt": "x", "resolution": "4k"}, "resolution"),
    ({"prompt": "x", "width": 641, "height": 360}, "width"),
    ({"prompt": "x", "width": 640}, None),
    ({"prompt": "x", "width": 1920, "height": 1920}, None),
    ({"prompt": "x", "seed": -1}, "seed"),
    ({"prompt": "x", "colour": "red"}, "colour"),
    ({"prompt": "x" * 4001}, "prompt"),
])
def test_invalid_requests_name_the_offending_field(body, field):
    with pytest.raises(ValidationError) as info:
        GenerateRequest.model_validate(body)
    loc = info.value.errors()[0]["loc"]
    assert (loc[0] if loc else None) == field


def test_a_duration_beyond_the_model_is_a_clear_error():
    req = GenerateRequest(prompt="x", duration=30)
    resolve_request(req, get_spec("ltx-video"))  # LTX chains runs up to a minute
    with pytest.raises(InvalidRequest) as info:
        resolve_request(req, get_spec("wan2.1-t2v-1.3b"))  # Wan runs once: 5 s
    assert info.value.code == "duration_too_long" and info.value.param == "duration"
