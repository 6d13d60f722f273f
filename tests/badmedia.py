"""Uploads built in memory for media validation tests: a few good files and a corpus of bad ones.

Deterministic, small and fast to build; nothing is checked in. `BAD_CASES` and `GOOD_CASES` are shared with
the HTTP API tests, which loop over them.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import av
import numpy as np
from PIL import Image


class BadCase(NamedTuple):
    name: str
    data: bytes
    kind: str  # what the caller expects: "image" | "video"
    content_type: str | None
    filename: str | None
    code: str  # MediaRejected.code


class GoodCase(NamedTuple):
    name: str
    data: bytes
    kind: str
    content_type: str | None
    filename: str | None
    expected: dict[str, object]  # MediaInfo fields to compare


# --- images -------------------------------------------------------------------------------------------------

def gradient(width: int, height: int) -> np.ndarray:
    """An RGB picture with some structure, so encoders and decoders have real work to do."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], -1).astype(np.uint8)


def image_bytes(pillow_format: str, width: int = 64, height: int = 48, **save: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(gradient(width, height)).save(buf, pillow_format, **save)
    return buf.getvalue()


def rotated_jpeg() -> bytes:
    """64x48 pixels stored, EXIF orientation 6: displayed as 48x64."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return image_bytes("JPEG", exif=exif)


def eight_k_jpeg() -> bytes:
    """A real 7680x4320 JPEG: a plain colour keeps it quick to encode and about half a megabyte."""
    buf = io.BytesIO()
    Image.new("RGB", (7680, 4320), (40, 80, 120)).save(buf, "JPEG", quality=50)
    return buf.getvalue()


def _png_chunk(chunk_type: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", zlib.crc32(chunk_type + body))


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny grayscale PNG declaring width x height; only the first rows are in its IDAT, which is enough to
    blow up a decoder that trusts the header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (width + 1) * 16, 9)  # each row: filter byte 0, then zeros
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


# --- videos -------------------------------------------------------------------------------------------------

def encode_video(codec: str = "libx264", container_format: str = "mp4", *, width: int = 64, height: int = 48,
                 frames: int = 10, fps: int = 10, pts: Sequence[int] | None = None,
                 container_options: dict[str, str] | None = None) -> bytes:
    """A short clip encoded in memory; `pts` (in 1/fps units) spreads the frames out in time."""
    if codec == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints a banner to stderr from C unless told otherwise
    buf = io.BytesIO()
    with av.open(buf, "w", format=container_format, options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps, options={"preset": "ultrafast"} if codec == "libx264" else {})
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        picture = gradient(width, height)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(picture, 4 * i, axis=1), format="rgb24")
            frame.pts = i if pts is None else pts[i]
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buf.getvalue()


def iso_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, start, header size, size) of each ISO BMFF box in data[start:end], 32-bit sizes only."""
    pos, end = start, len(data) if end is None else end
    while pos + 8 <= end:
        size, box_type = struct.unpack_from(">I4s", data, pos)
        yield box_type, pos, 8, size
        pos += size


def find_box(data: bytes, path: Sequence[bytes]) -> list[int]:
    """Start offsets of the boxes along `path` (outermost first), following the first match at each level."""
    starts, begin, end = [], 0, len(data)
    for wanted in path:
        box = next(b for b in iso_boxes(data, begin, end) if b[0] == wanted)
        starts.append(box[1])
        begin, end = box[1] + box[2], box[1] + box[3]
    return starts


def replace_box(data: bytes, path: Sequence[bytes], new_box: bytes) -> bytes:
    """Swap the box at `path` for `new_box`, growing every enclosing box. Needs moov after mdat (our muxer's
    default) so that no chunk offset moves."""
    starts = find_box(data, path)
    old_size = struct.unpack_from(">I", data, starts[-1])[0]
    patched = bytearray(data[:starts[-1]] + new_box + data[starts[-1] + old_size:])
    for start in starts[:-1]:
        struct.pack_into(">I", patched, start, struct.unpack_from(">I", patched, start)[0] + len(new_box) - old_size)
    return bytes(patched)


def external_dref_mp4() -> bytes:
    """A good MP4 whose only data reference says the samples live in another file."""
    location = b"file:///etc/passwd\0"
    url_box = struct.pack(">I4sI", 12 + len(location), b"url ", 0) + location  # flags 0: not self-contained
    dref = struct.pack(">I4sII", 16 + len(url_box), b"dref", 0, 1) + url_box
    return replace_box(encode_video(), (b"moov", b"trak", b"mdia", b"minf", b"dinf", b"dref"), dref)


def truncated_mp4() -> bytes:
    """Cut in the middle of mdat; the moov that follows it is lost with the tail."""
    data = encode_video(frames=30)
    (start,) = find_box(data, (b"mdat",))
    return data[:start + struct.unpack_from(">I", data, start)[0] // 2]


def faststart(data: bytes) -> bytes:
    """moov moved in front of mdat, as `-movflags +faststart` does (that flag needs a real file)."""
    (moov,) = find_box(data, (b"moov",))
    moov_size = struct.unpack_from(">I", data, moov)[0]
    box = bytearray(data[moov:moov + moov_size])
    stco = find_box(bytes(box), (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco"))[-1]
    for i in range(struct.unpack_from(">I", box, stco + 12)[0]):  # every chunk moves by the size of moov
        offset = stco + 16 + 4 * i
        struct.pack_into(">I", box, offset, struct.unpack_from(">I", box, offset)[0] + moov_size)
    (ftyp,) = find_box(data, (b"ftyp",))
    ftyp_end = ftyp + struct.unpack_from(">I", data, ftyp)[0]
    return data[:ftyp_end] + bytes(box) + data[ftyp_end:moov] + data[moov + moov_size:]


def truncated_faststart_mp4() -> bytes:
    """An upload cut short: moov intact up front, mdat cut in the middle."""
    data = faststart(encode_video(frames=30))
    (start,) = find_box(data, (b"mdat",))
    return data[:start + struct.unpack_from(">I", data, start)[0] // 2]


def two_hour_mp4() -> bytes:
    """Two frames 7200 s apart: the header claims two hours, the file is a few hundred bytes."""
    return encode_video(frames=2, fps=10, pts=[0, 72_000])


def truncated_webm() -> bytes:
    data = encode_video("libvpx-vp9", "webm", frames=30)
    return data[:len(data) * 6 // 10]


# --- text that points elsewhere -----------------------------------------------------------------------------

HLS_PLAYLIST = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://169.254.169.254/latest/meta-data\n"
FFCONCAT_SCRIPT = b"ffconcat version 1.0\nfile '/etc/passwd'\nfile 'clip.mp4'\n"
DASH_MANIFEST = (b'<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period><AdaptationSet>'
                 b"<Representation><BaseURL>file:///etc/passwd</BaseURL></Representation></AdaptationSet></Period></MPD>")
SDP_SESSION = b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 10.0.0.1\nt=0 0\nm=video 5004 RTP/AVP 96\n"


def random_bytes(size: int = 4096, seed: int = 7) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def _build_cases() -> tuple[list[GoodCase], list[BadCase]]:
    png, jpeg, webp = image_bytes("PNG"), image_bytes("JPEG"), image_bytes("WEBP", quality=80)
    mp4, webm = encode_video(), encode_video("libvpx-vp9", "webm")
    video_10 = {"width": 64, "height": 48, "frames": 10, "fps": 10.0}
    good = [
        GoodCase("png", png, "image", "image/png", "a.png", {"format": "png", "width": 64, "height": 48}),
        GoodCase("jpeg", jpeg, "image", "image/jpeg", "a.jpeg", {"format": "jpeg", "width": 64, "height": 48}),
        GoodCase("jpg_as_image_jpg", jpeg, "image", "image/jpg; q=1", "A.JPG", {"format": "jpeg"}),
        GoodCase("webp_unnamed", webp, "image", None, None, {"format": "webp", "width": 64, "height": 48}),
        GoodCase("jpeg_exif_rotated", rotated_jpeg(), "image", "image/jpeg", "r.jpg", {"width": 48, "height": 64}),
        GoodCase("h264_mp4", mp4, "video", "video/mp4", "clip.mp4", {"format": "mp4", "codec": "h264", **video_10}),
        GoodCase("h264_m4v_octet", mp4, "video", "application/octet-stream", "clip.m4v", {"format": "mp4"}),
        GoodCase("h264_mp4_faststart", faststart(mp4), "video", "video/mp4", "c.mp4", {"codec": "h264", **video_10}),
        GoodCase("h264_mov", encode_video(container_format="mov"), "video", "video/quicktime", "clip.mov",
                 {"format": "mov", "content_type": "video/quicktime", "codec": "h264", **video_10}),
        GoodCase("av1_mp4", encode_video("libsvtav1"), "video", "video/mp4", "clip.mp4", {"codec": "av1", **video_10}),
        # as browsers record: segment of unknown size, no cues
        GoodCase("vp9_webm_live", encode_video("libvpx-vp9", "webm", container_options={"live": "1"}), "video",
                 "video/webm", "rec.webm", {"format": "webm", "codec": "vp9", **video_10}),
        GoodCase("vp9_webm", webm, "video", "video/webm", "clip.webm", {"format": "webm", "codec": "vp9", **video_10}),
    ]
    bad = [
        BadCase("zero_bytes", b"", "image", "image/png", "empty.png", "media_empty"),
        BadCase("zero_bytes_video", b"", "video", None, None, "media_empty"),
        BadCase("text_named_png", b"hello, this is not a picture\n", "image", "image/png", "cat.png",
                "media_unsupported_type"),
        BadCase("random_bytes", random_bytes(), "video", None, "clip.mp4", "media_unsupported_type"),
        BadCase("gif", image_bytes("GIF"), "image", "image/gif", "a.gif", "media_unsupported_type"),
        BadCase("bmp", image_bytes("BMP"), "image", "image/bmp", "a.bmp", "media_unsupported_type"),
        BadCase("pdf", b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n", "image", "application/pdf", "a.pdf",
                "media_unsupported_type"),
        BadCase("matroska_not_webm", encode_video(container_format="matroska"), "video", "video/webm", "a.webm",
                "media_unsupported_type"),
        BadCase("hls_named_mp4", HLS_PLAYLIST, "video", "video/mp4", "clip.mp4", "media_external_reference"),
        BadCase("ffconcat_named_mp4", FFCONCAT_SCRIPT, "video", "video/mp4", "clip.mp4", "media_external_reference"),
        BadCase("dash_named_webm", DASH_MANIFEST, "video", "video/webm", "clip.webm", "media_external_reference"),
        BadCase("sdp_named_mov", SDP_SESSION, "video", None, "clip.mov", "media_external_reference"),
        BadCase("mp4_external_dref", external_dref_mp4(), "video", "video/mp4", "clip.mp4",
                "media_external_reference"),
        BadCase("png_sent_as_video", png, "video", "image/png", "a.png", "media_wrong_kind"),
        BadCase("mp4_sent_as_image", mp4, "image", "video/mp4", "clip.mp4", "media_wrong_kind"),
        BadCase("png_named_jpg", png, "image", None, "photo.jpg", "media_type_mismatch"),
        BadCase("png_declared_jpeg", png, "image", "image/jpeg", None, "media_type_mismatch"),
        BadCase("webm_declared_mp4", webm, "video", "video/mp4", None, "media_type_mismatch"),
        BadCase("mp4_named_webm", mp4, "video", None, "clip.webm", "media_type_mismatch"),
        BadCase("png_bomb_50k", png_bomb(), "image", "image/png", "bomb.png", "media_too_many_pixels"),
        BadCase("png_bomb_10k", png_bomb(10_000, 10_000), "image", "image/png", "bomb.png", "media_too_many_pixels"),
        BadCase("jpeg_8k", eight_k_jpeg(), "image", "image/jpeg", "8k.jpg", "media_too_many_pixels"),
        BadCase("mp4_frame_over_1080p", encode_video(width=2048, height=1152, frames=1), "video", "video/mp4",
                "big.mp4", "media_too_many_pixels"),
        BadCase("mp4_two_hours", two_hour_mp4(), "video", "video/mp4", "long.mp4", "media_too_long"),
        BadCase("mpeg4_part2_mp4", encode_video("mpeg4"), "video", "video/mp4", "old.mp4", "media_unsupported_codec"),
        BadCase("mjpeg_mov", encode_video("mjpeg", "mov"), "video", "video/quicktime", "cam.mov",
                "media_unsupported_codec"),
        BadCase("truncated_jpeg", jpeg[:len(jpeg) // 2], "image", "image/jpeg", "cut.jpg", "media_corrupt"),
        BadCase("truncated_png", png[:len(png) // 2], "image", "image/png", "cut.png", "media_corrupt"),
        BadCase("truncated_mp4", truncated_mp4(), "video", "video/mp4", "cut.mp4", "media_corrupt"),
        BadCase("truncated_faststart_mp4", truncated_faststart_mp4(), "video", "video/mp4", "cut.mp4",
                "media_corrupt"),
        BadCase("truncated_webm", truncated_webm(), "video", "video/webm", "cut.webm", "media_corrupt"),
    ]
    return good, bad


GOOD_CASES, BAD_CASES = _build_cases()
