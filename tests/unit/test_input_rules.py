"""Which inputs a model takes, checked in the gateway before anything is stored."""

import pytest

from app.errors import InvalidRequest
from app.inputs import check_combination
from app.schemas import GenerateRequest
from models.registry import get_spec

IMAGE = "data:image/png;base64,AAAA"


@pytest.mark.parametrize(("model", "body", "code"), [
    ("wan-tiny", {"image": IMAGE}, "input_not_supported"),
    ("wan-tiny", {"video": "job_x"}, "input_not_supported"),
    ("wan-tiny-i2v", {}, "image_required"),
    ("wan-tiny-i2v", {"image": IMAGE, "image_position": "last"}, "input_not_supported"),
    ("wan-tiny-i2v", {"video": "job_x"}, "input_not_supported"),
    ("ltx-tiny", {"image": IMAGE, "video": "job_x"}, "conflicting_inputs"),
    ("ltx-tiny", {"mode": "modify"}, "video_required"),
    ("wan-tiny-vace", {"video": "job_x", "mode": "modify", "strength": 0.3}, "input_not_supported"),
])
def test_inputs_a_model_cannot_take_are_refused(model, body, code):
    with pytest.raises(InvalidRequest) as info:
        check_combination(GenerateRequest(prompt="x", **body), {}, get_spec(model))
    assert info.value.code == code


@pytest.mark.parametrize(("model", "body"), [
    ("wan-tiny-i2v", {"image": IMAGE}),
    ("ltx-tiny", {"image": IMAGE, "image_position": "last"}),
    ("ltx-tiny", {"video": "job_x", "mode": "modify", "strength": 0.3}),
    ("wan-tiny", {}),
    ("wan-tiny-vace", {"video": "job_x"}),
    ("wan-tiny", {"video": "job_x", "mode": "modify", "strength": 0.5}),
    ("wan-tiny-vace", {"image": IMAGE, "image_position": "last"}),
    ("kinora-dit", {"video": "job_x", "mode": "modify", "strength": 0.3}),
])
def test_inputs_a_model_takes_pass(model, body):
    check_combination(GenerateRequest(prompt="x", **body), {}, get_spec(model))
