import numpy as np

from tests.media import decode_mp4, watermark_visible
from worker.encode import encode_mp4
from worker.postprocess import LanczosResizer, output_frames, watermarked
from worker.watermark import render_watermark


def test_encoded_mp4_decodes_back_with_size_rate_metadata_and_faststart(tmp_path):
    rng = np.random.default_rng(0)
    native = rng.integers(0, 255, (9, 64, 96, 3), dtype=np.uint8)
    mark = render_watermark(320, 180, "AI-generated", "bottom-left")
    frames = watermarked(output_frames(native, 24, width=320, height=180, fps=30, count=30,
                                       resizer=LanczosResizer(), interpolation="flow"), mark)
    path = tmp_path / "v.mp4"
    written = encode_mp4(frames, path, fps=30, width=320, height=180, metadata={"comment": "job_id=job_1"})
    video = decode_mp4(path)
    assert written == len(video.frames) == 30
    assert (video.codec, video.pix_fmt, video.width, video.height, video.fps) == ("h264", "yuv420p", 320, 180, 30)
    assert video.faststart
    assert video.metadata["comment"] == "job_id=job_1"
    assert all(watermark_visible(f, 320, 180, "AI-generated", "bottom-left") for f in video.frames)
    assert not watermark_visible(video.frames[0], 320, 180, "AI-generated", "top-right")
