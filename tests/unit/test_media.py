"""Upload validation: every bad input refused with its own code, good ones described truthfully, nothing else raised."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageFile

from kinora import media
from kinora.media import MediaInfo, MediaLimits, MediaRejected, inspect_media, read_image, read_video_frames
from tests.badmedia import (
    BAD_CASES,
    GOOD_CASES,
    encode_video,
    gradient,
    image_bytes,
    random_bytes,
    rotated_jpeg,
    two_hour_mp4,
)

STATUS = {"media_too_large": 413, "media_unsupported_type": 415, "media_unsupported_codec": 415}


def inspect(case, **limits: int | float) -> MediaInfo:  # type: ignore[no-untyped-def]
    return inspect_media(case.data, case.kind, content_type=case.content_type, filename=case.filename,
                         limits=MediaLimits(**limits))


@pytest.mark.parametrize("case", BAD_CASES, ids=[case.name for case in BAD_CASES])
def test_bad_upload_is_refused_with_its_code(case) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MediaRejected) as refused:
        inspect(case)
    assert refused.value.code == case.code, refused.value.message
    assert refused.value.status == STATUS.get(case.code, 422)


@pytest.mark.parametrize("case", GOOD_CASES, ids=[case.name for case in GOOD_CASES])
def test_good_upload_is_described(case) -> None:  # type: ignore[no-untyped-def]
    info = inspect(case)
    assert info.kind == case.kind
    assert {field: getattr(info, field) for field in case.expected} == case.expected
    if info.kind == "video":
        assert info.seconds == pytest.approx(info.frames / info.fps)


def test_names_and_types_are_matched_loosely_where_harmless() -> None:
    png, mp4 = image_bytes("PNG"), encode_video()
    assert inspect_media(png, "image", content_type="IMAGE/PNG; charset=binary", filename=r"C:\me\A.PNG").width == 64
    assert inspect_media(mp4, "video", content_type="video/quicktime", filename="clip.MOV").format == "mp4"
    assert inspect_media(png, "image", content_type="", filename="no-extension").format == "png"


def test_size_limit_answers_413() -> None:
    with pytest.raises(MediaRejected) as refused:
        inspect_media(image_bytes("PNG"), "image", limits=MediaLimits(max_bytes=100))
    assert (refused.value.code, refused.value.status) == ("media_too_large", 413)


@pytest.mark.parametrize(("fmt", "limits"), [
    ("mp4", {"max_video_frames": 5}),  # the header counts 10 frames
    ("webm", {"max_video_frames": 5}),  # WebM headers carry no frame count: found while decoding
    ("webm", {"max_video_seconds": 0.5}),
])
def test_video_limits(fmt: str, limits: dict[str, float]) -> None:
    data = encode_video("libvpx-vp9", "webm") if fmt == "webm" else encode_video()
    with pytest.raises(MediaRejected) as refused:
        inspect_media(data, "video", limits=MediaLimits(**limits))
    assert refused.value.code == "media_too_long"


def test_headers_are_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded before checking the header")

    monkeypatch.setattr(media, "_decode_all_frames", must_not_decode)
    monkeypatch.setattr(ImageFile.ImageFile, "load", must_not_decode)
    big = next(case for case in BAD_CASES if case.name == "jpeg_8k")
    for data, kind, code in [(two_hour_mp4(), "video", "media_too_long"), (big.data, "image", "media_too_many_pixels")]:
        with pytest.raises(MediaRejected) as refused:
            inspect_media(data, kind)
        assert refused.value.code == code


def test_read_image_is_rgb_and_upright() -> None:
    pixels = read_image(image_bytes("PNG"))
    assert pixels.dtype == np.uint8 and pixels.shape == (48, 64, 3)
    assert np.array_equal(pixels, gradient(64, 48))
    assert read_image(rotated_jpeg()).shape == (64, 48, 3)


@pytest.mark.parametrize("case", [case for case in GOOD_CASES if case.kind == "video"], ids=lambda case: case.name)
def test_read_video_frames(case) -> None:  # type: ignore[no-untyped-def]
    frames = list(read_video_frames(case.data, format=inspect(case).format))
    assert len(frames) == 10 and all(f.dtype == np.uint8 and f.shape == (48, 64, 3) for f in frames)
    assert np.abs(frames[0].astype(int) - gradient(64, 48)).mean() < 12  # lossy, but the same picture


def _fuzz_inputs() -> list[tuple[bytes, str]]:
    inputs = [(random_bytes(size, seed), kind) for seed, size in enumerate((1, 7, 64, 999, 5000))
              for kind in ("image", "video")]
    magics = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\0\0\0\0WEBP", b"\0\0\0\x18ftypisom", b"\x1a\x45\xdf\xa3")
    inputs += [(magic + random_bytes(300, seed), "image" if i < 3 else "video")
               for i, magic in enumerate(magics) for seed in range(3)]
    for case in GOOD_CASES:
        rng = np.random.default_rng(len(case.data))
        inputs += [(case.data[:cut], case.kind) for cut in rng.integers(1, len(case.data), 12)]
        for _ in range(6):  # a few bytes flipped anywhere, headers included
            flipped = bytearray(case.data)
            for at in rng.integers(0, len(flipped), 3):
                flipped[at] ^= int(rng.integers(1, 256))
            inputs.append((bytes(flipped), case.kind))
    return inputs


def test_fuzz_never_raises_anything_but_media_rejected() -> None:
    for data, kind in _fuzz_inputs():
        try:
            info = inspect_media(data, kind)
        except MediaRejected as refused:
            assert refused.code.startswith("media_") and refused.status in (413, 415, 422)
        else:
            assert info.width > 0 and info.height > 0
