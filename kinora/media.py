"""Validation of user uploads (images and videos) before any GPU work, and decoding them for the worker.

Torch-free: the gateway imports this to refuse bad uploads while the client is still connected. The real
type comes from magic bytes, never from names; every header limit is checked before pixels are decoded;
videos are opened from memory with the demuxer forced to the sniffed format, so ffmpeg never probes a
playlist or concat script and never opens another file or URL.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PureWindowsPath

import av
import numpy as np
from PIL import ExifTags, Image, ImageOps

logger = logging.getLogger(__name__)


class MediaRejected(Exception):
    """A user upload we refuse. `code` is machine-readable, `status` the HTTP status to answer with."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class MediaLimits:
    max_bytes: int = 200 * 1024 * 1024
    max_image_pixels: int = 4096 * 4096  # per image
    max_video_pixels: int = 1920 * 1088  # per frame
    max_video_seconds: float = 60.0
    max_video_frames: int = 60 * 60  # 60 s at 60 fps


@dataclass(frozen=True)
class MediaInfo:
    kind: str  # "image" | "video"
    format: str  # "png" | "jpeg" | "webp" | "mp4" | "mov" | "webm"
    content_type: str  # "image/png", "video/mp4", "video/quicktime", "video/webm", ...
    extension: str  # ".png", ".mp4", ...
    width: int  # images: as displayed, EXIF orientation applied (the shape read_image returns)
    height: int
    frames: int | None = None  # videos: decoded frame count
    fps: float | None = None
    seconds: float | None = None
    codec: str | None = None  # videos: "h264" | "hevc" | "vp9" | "av1"


@dataclass(frozen=True)
class _Format:
    kind: str
    content_type: str
    extensions: tuple[str, ...]  # the first is the canonical one
    family: str  # formats of one family may be named as each other (same bytes layout, same reader)
    aliases: tuple[str, ...] = ()  # other content types seen in the wild for this format


_FORMATS = {
    "png": _Format("image", "image/png", (".png",), "png"),
    "jpeg": _Format("image", "image/jpeg", (".jpg", ".jpeg"), "jpeg", ("image/jpg", "image/pjpeg")),
    "webp": _Format("image", "image/webp", (".webp",), "webp"),
    # MP4 and QuickTime differ only by brand; phones and editors mix up the names, ffmpeg reads both alike.
    "mp4": _Format("video", "video/mp4", (".mp4", ".m4v"), "iso-bmff", ("video/x-m4v",)),
    "mov": _Format("video", "video/quicktime", (".mov",), "iso-bmff"),
    "webm": _Format("video", "video/webm", (".webm",), "webm"),
}
_PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_VIDEO_CODECS = frozenset({"h264", "hevc", "vp9", "av1"})
# ISO BMFF major brands of still images (HEIF/AVIF): the container is right, the kind of content is not.
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})
# Text that makes a demuxer fetch other files or URLs: HLS, ffconcat, DASH, SMIL, ASX, PLS (SDP is told by its start).
_PLAYLIST_MARKERS = (b"#extm3u", b"#ext-x-", b"ffconcat version", b"<mpd", b"<smil", b"<asx", b"[playlist]")
_DREF_PATH = (b"moov", b"trak", b"mdia", b"minf", b"dinf", b"dref")
_DREF_ENTRIES = frozenset({b"url ", b"urn ", b"alis"})
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE = 0x4282
_EBML_SEGMENT = 0x18538067


def _corrupt(message: str) -> MediaRejected:
    return MediaRejected("media_corrupt", message)


def inspect_media(data: bytes, kind: str, *, content_type: str | None = None, filename: str | None = None,
                  limits: MediaLimits = MediaLimits()) -> MediaInfo:
    """Check an upload the caller expects to be of `kind` ("image" or "video"); raise MediaRejected if refused."""
    if kind not in ("image", "video"):
        raise ValueError(f"kind must be 'image' or 'video', not {kind!r}")
    if not data:
        raise MediaRejected("media_empty", "the upload is empty")
    if len(data) > limits.max_bytes:
        raise MediaRejected("media_too_large", f"the upload is over {limits.max_bytes} bytes", 413)
    try:
        fmt = sniff_format(data)
        if _FORMATS[fmt].kind != kind:
            raise MediaRejected("media_wrong_kind", f"expected {kind}; the file is {fmt} ({_FORMATS[fmt].kind})")
        _check_declared_type(fmt, content_type, filename)
        return _inspect_image(data, fmt, limits) if kind == "image" else _inspect_video(data, fmt, limits)
    except MediaRejected:
        raise
    except Exception as exc:  # the contract: whatever the bytes, callers only ever see MediaRejected
        logger.warning("unexpected error while inspecting a %s upload", kind, exc_info=True)
        raise _corrupt("the file could not be read") from exc


def sniff_format(data: bytes) -> str:
    """The format named by the file's magic bytes, one of the allowed ones, or MediaRejected."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] not in _IMAGE_BRANDS:
        return "mov" if data[8:12] == b"qt  " else "mp4"
    if data.startswith(_EBML_MAGIC):
        if _ebml_doctype(data) == b"webm":
            return "webm"
        raise MediaRejected("media_unsupported_type", "Matroska files are not supported, only WebM", 415)
    if _references_elsewhere(data[:4096]):
        raise MediaRejected("media_external_reference", "playlists and scripts that reference other files are refused")
    raise MediaRejected("media_unsupported_type", "allowed: PNG, JPEG, WebP images; MP4, MOV, WebM videos", 415)


def _references_elsewhere(head: bytes) -> bool:
    """Playlists, manifests and scripts, which a demuxer would follow; also any other text naming a URL or file."""
    lowered = head.lower()
    sdp = lowered.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"v=0")  # after any UTF-8 byte order mark
    if sdp or any(marker in lowered for marker in _PLAYLIST_MARKERS):
        return True
    if b"\0" in head:
        return False  # binary: a URL in its metadata (XMP in a GIF, say) makes it no script
    try:
        text = lowered.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(lowered) - 3:  # not text; a character cut at the 4 KiB boundary is fine
            return False
        text = lowered[:exc.start].decode("utf-8")
    return "://" in text or any(line.lstrip().startswith("file ") for line in text.splitlines())


def _check_declared_type(fmt: str, content_type: str | None, filename: str | None) -> None:
    family = [spec for spec in _FORMATS.values() if spec.family == _FORMATS[fmt].family]
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in ("", "application/octet-stream") and not any(
        declared == spec.content_type or declared in spec.aliases for spec in family
    ):
        raise MediaRejected("media_type_mismatch", f"declared as {declared} but the file is {fmt}")
    suffix = PureWindowsPath(filename or "").suffix.lower()  # Windows paths also split on "/"
    if suffix and not any(suffix in spec.extensions for spec in family):
        raise MediaRejected("media_type_mismatch", f"named {suffix} but the file is {fmt}")


def _inspect_image(data: bytes, fmt: str, limits: MediaLimits) -> MediaInfo:
    try:
        # Pillow warns (then refuses) on huge images from the header alone: its warning becomes an error here.
        # Its other warnings (damaged EXIF, say) are about the user's file, so they go to the debug log.
        # catch_warnings is process-wide: a concurrent thread's warnings may land in this list for a moment.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[fmt]]) as image:
                width, height = image.size
                if width * height > limits.max_image_pixels:
                    raise MediaRejected("media_too_many_pixels",
                                        f"{width}x{height} is over {limits.max_image_pixels} pixels")
                image.load()
                orientation = image.getexif().get(ExifTags.Base.Orientation)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRejected("media_too_many_pixels", str(exc)) from exc
    except MediaRejected:
        raise
    except Exception as exc:
        raise _corrupt(f"the {fmt} image could not be decoded: {exc}") from exc
    for warning in caught:
        logger.debug("reading a %s upload: %s", fmt, warning.message)
    if orientation in (5, 6, 7, 8):  # EXIF orientations that rotate by 90 degrees
        width, height = height, width
    spec = _FORMATS[fmt]
    return MediaInfo("image", fmt, spec.content_type, spec.extensions[0], width, height)


def _inspect_video(data: bytes, fmt: str, limits: MediaLimits) -> MediaInfo:
    if _FORMATS[fmt].family == "iso-bmff":
        _check_iso_bmff(data)
    else:
        _check_ebml_segment(data)
    try:
        with _open_video(data, fmt) as container:
            if not container.streams.video:
                raise MediaRejected("media_wrong_kind", "the file holds no video stream")
            stream = container.streams.video[0]
            context = stream.codec_context
            codec = context.codec.canonical_name if context is not None else "unknown"
            if codec not in _VIDEO_CODECS:
                raise MediaRejected("media_unsupported_codec",
                                    f"video codec {codec} is not supported (h264, hevc, vp9, av1)", 415)
            width, height = context.width, context.height
            _check_frame_size(width, height, limits)
            claimed = _claimed_seconds(container, stream)
            if (claimed or 0) > limits.max_video_seconds or (stream.frames or 0) > limits.max_video_frames:
                raise MediaRejected("media_too_long", f"the header claims {claimed or 0:.1f} s, {stream.frames} frames;"
                                    f" the limit is {limits.max_video_seconds} s, {limits.max_video_frames} frames")
            frames = _decode_all_frames(container, stream, limits)
            fps = float(stream.average_rate or stream.guessed_rate or 0) or None
    except MediaRejected:
        raise
    except av.FFmpegError as exc:
        raise _corrupt(f"the {fmt} video could not be decoded: {exc}") from exc
    seconds = claimed or (frames / fps if fps else None)
    spec = _FORMATS[fmt]
    return MediaInfo("video", fmt, spec.content_type, spec.extensions[0], width, height,
                     frames=frames, fps=fps, seconds=seconds, codec=codec)


def _check_frame_size(width: int, height: int, limits: MediaLimits) -> None:
    if width <= 0 or height <= 0:
        raise _corrupt("the video stream has no frame size")
    if width * height > limits.max_video_pixels:
        raise MediaRejected("media_too_many_pixels", f"{width}x{height} is over {limits.max_video_pixels} pixels")


def _claimed_seconds(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    claims = []
    if container.duration:
        claims.append(container.duration / av.time_base)
    if stream.duration and stream.time_base:
        claims.append(float(stream.duration * stream.time_base))
    return max(claims, default=None)


def _decode_all_frames(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                       limits: MediaLimits) -> int:
    """Decode every frame to prove the file intact; headers can lie, so the limits are checked again here."""
    stream.thread_type = "AUTO"
    count, first_time = 0, None
    for frame in container.decode(stream):
        count += 1
        first_time = frame.time if first_time is None else first_time
        elapsed = (frame.time or 0) - (first_time or 0)
        if count > limits.max_video_frames or elapsed > limits.max_video_seconds:
            raise MediaRejected("media_too_long", f"the video runs past {limits.max_video_seconds} s or "
                                f"{limits.max_video_frames} frames")
        _check_frame_size(frame.width, frame.height, limits)  # a new sequence header may change the size
    if count == 0:
        raise _corrupt("no frame of the video could be decoded")
    return count


def _open_video(data: bytes, fmt: str) -> av.container.InputContainer:
    options = {"enable_drefs": "0", "use_absolute_path": "0"} if _FORMATS[fmt].family == "iso-bmff" else {}
    return av.open(io.BytesIO(data), format=fmt, container_options=options, io_open=_refuse_nested_open,
                   metadata_errors="replace")  # tags are the user's bytes: damaged text must not stop us


def _refuse_nested_open(url: str, flags: int, options: dict[str, str]) -> io.BytesIO:
    raise MediaRejected("media_external_reference", f"the file tried to open {url!r}")


def _iso_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body start, box end) of each box in data[start:end]; a box running past the end is truncation."""
    pos = start
    while pos + 8 <= end:
        size, box_type = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:  # "to the end of the file"
            size = end - pos
        if size < header or pos + size > end:
            raise _corrupt(f"the {box_type!r} box runs past its end: the file is truncated or damaged")
        yield box_type, pos + header, pos + size
        pos += size


def _check_iso_bmff(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> None:
    """Refuse truncated files and tracks whose data lives in another file (a dref entry not self-contained)."""
    for box_type, body, box_end in _iso_boxes(data, start, len(data) if end is None else end):
        if box_type != _DREF_PATH[depth]:
            continue
        if depth + 1 < len(_DREF_PATH):
            _check_iso_bmff(data, body, box_end, depth + 1)
            continue
        for entry_type, entry_body, entry_end in _iso_boxes(data, body + 8, box_end):  # skip version, count
            self_contained = entry_end >= entry_body + 4 and data[entry_body + 3] & 1
            if entry_type in _DREF_ENTRIES and not self_contained:
                raise MediaRejected("media_external_reference", "a track's data lives in another file")


def _ebml_vint(data: bytes, pos: int, *, keep_marker: bool = False) -> tuple[int, int, bool]:
    """(value, next position, all value bits set) of the EBML variable-length integer at pos."""
    if pos >= len(data) or data[pos] == 0:
        raise _corrupt("the EBML header is damaged")
    length = 9 - data[pos].bit_length()
    if pos + length > len(data):
        raise _corrupt("the EBML header is truncated")
    raw = int.from_bytes(data[pos:pos + length], "big")
    value_mask = (1 << (7 * length)) - 1
    return (raw if keep_marker else raw & value_mask), pos + length, raw & value_mask == value_mask


def _ebml_elements(data: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int, bool]]:
    """(id, body start, declared size, size unknown) of each element from pos until end."""
    while pos < end:
        element_id, pos, _ = _ebml_vint(data, pos, keep_marker=True)
        size, pos, unknown = _ebml_vint(data, pos)
        yield element_id, pos, size, unknown
        pos += size


def _ebml_doctype(data: bytes) -> bytes | None:
    _, body, size, _ = next(_ebml_elements(data, 0, 1))
    for element_id, child, child_size, _ in _ebml_elements(data, body, min(body + size, len(data))):
        if element_id == _EBML_DOCTYPE:
            return data[child:child + child_size].rstrip(b"\0")
    return None


def _check_ebml_segment(data: bytes) -> None:
    """A Segment whose declared size runs past the data is a truncated upload (live recordings leave it unknown)."""
    _, body, size, _ = next(_ebml_elements(data, 0, 1))
    for element_id, segment_body, segment_size, unknown in _ebml_elements(data, body + size, body + size + 1):
        if element_id == _EBML_SEGMENT and not unknown and segment_body + segment_size > len(data):
            raise _corrupt("the WebM segment runs past the end of the file: it is truncated")


def read_video_frames(data: bytes, *, format: str | None = None) -> Iterator[np.ndarray]:
    """Decoded frames of an inspected video, one by one, as RGB uint8 (H, W, 3)."""
    fmt = format or sniff_format(data)
    if fmt not in _FORMATS or _FORMATS[fmt].kind != "video":
        raise ValueError(f"not a video format: {fmt!r}")
    try:
        with _open_video(data, fmt) as container:
            for frame in container.decode(container.streams.video[0]):
                yield frame.to_ndarray(format="rgb24")
    except av.FFmpegError as exc:
        raise _corrupt(f"the {fmt} video could not be decoded: {exc}") from exc


def read_image(data: bytes) -> np.ndarray:
    """The pixels of an inspected image as RGB uint8 (H, W, 3), turned upright by its EXIF orientation."""
    fmt = sniff_format(data)
    if _FORMATS[fmt].kind != "image":
        raise MediaRejected("media_wrong_kind", f"expected an image, got {fmt}")
    with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[fmt]]) as image:
        return np.array(ImageOps.exif_transpose(image).convert("RGB"))  # a writable copy, unlike np.asarray
