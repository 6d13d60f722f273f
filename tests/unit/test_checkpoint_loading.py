"""Real checkpoints load with from_pretrained from a local folder; here, the tiny preset saved to disk."""

import dataclasses

import pytest

from models.pipeline import RunInputs, VideoGenerator, WeightsNotFound
from models.registry import get_spec, native_frames
from models.tiny import PRESETS


@pytest.mark.parametrize(("preset", "model", "frames"),
                         [("ltx-tiny", "ltx-video", 17), ("wan-tiny", "wan2.1-t2v-1.3b", 9),
                          ("wan-tiny-vace", "wan2.1-vace-1.3b", 9)])
def test_a_checkpoint_folder_loads_through_the_registry(tmp_path, preset, model, frames):
    spec = dataclasses.replace(get_spec(model), native_area=224 * 128)
    PRESETS[preset]().save_pretrained(tmp_path / spec.weights)
    gen = VideoGenerator.load(spec, tmp_path, device="cpu")
    assert type(gen.pipe).__name__ == spec.pipeline
    run = RunInputs(prompt="a boat", negative_prompt=None, width=224, height=128,
                    num_frames=native_frames(spec, 0.5), seed=1, steps=2, guidance_scale=3.0)
    steps = []
    video = gen.generate_run(run, lambda done, total: steps.append((done, total)))
    assert video.shape == (frames, 128, 224, 3) and video.dtype.name == "uint8"
    assert steps == [(1, 2), (2, 2)]
    # The version fingerprints the folder: stable across loads, changed by a changed weights file.
    assert VideoGenerator.load(spec, tmp_path, device="cpu").version == gen.version
    weights = max((tmp_path / spec.weights).rglob("*.safetensors"), key=lambda p: p.stat().st_size)
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert VideoGenerator.load(spec, tmp_path, device="cpu").version != gen.version


def test_missing_weights_are_a_clear_error(tmp_path):
    with pytest.raises(WeightsNotFound, match="LTX-Video"):
        VideoGenerator.load(get_spec("ltx-video"), tmp_path, device="cpu")
