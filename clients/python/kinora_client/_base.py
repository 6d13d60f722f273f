"""What the sync and async clients share: settings, the retry policy, and building requests."""

from __future__ import annotations

import email.utils
import json
import mimetypes
import os
import random
import re
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union
from urllib.parse import urlsplit

import httpx

from kinora_client._version import __version__
from kinora_client.models import Job

DEFAULT_BASE_URL = "http://localhost:8000"
DEFAULT_TIMEOUT = 60.0
RETRY_STATUSES = frozenset({429, 503})
MAX_BACKOFF_S = 30.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = f"kinora-client/{__version__} python-httpx/{httpx.__version__}"

# An input: a path, bytes, an open binary file, a job id (``job_…``), a data: or http(s) URL, or a reference
# object such as ``{"job_id": "job_…"}``.
MediaInput = Union[str, os.PathLike[str], bytes, bytearray, IO[bytes], dict[str, str]]  # noqa: UP007

# Errors where the request never reached the server, so even a non-idempotent request may be sent again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_JOB_ID = re.compile(r"job_[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Config:
    base_url: str
    api_key: str | None

    @classmethod
    def resolve(cls, base_url: str | None, api_key: str | None) -> Config:
        base = base_url or os.environ.get("KINORA_BASE_URL") or DEFAULT_BASE_URL
        return cls(base_url=base.rstrip("/"), api_key=api_key or os.environ.get("KINORA_API_KEY") or None)

    def headers(self, url: str | None = None) -> dict[str, str]:
        """The key goes only to the API's own origin, never to a presigned storage URL it redirects to."""
        if self.api_key is None or (url is not None and not same_origin(url, self.base_url)):
            return {}
        return {"Authorization": f"Bearer {self.api_key}"}


def same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return not a.netloc or (a.scheme, a.netloc) == (b.scheme, b.netloc)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff(attempt: int, retry_after: str | None = None) -> float:
    """Seconds before retry number ``attempt + 1``: the server's Retry-After when it gives one, otherwise
    exponential backoff (0.5 s, 1 s, 2 s, … up to 30 s) with jitter so that clients do not retry in step."""
    seconds = retry_after_seconds(retry_after)
    if seconds is not None:
        return seconds
    return min(MAX_BACKOFF_S, 0.5 * 2.0**attempt) * random.uniform(0.5, 1.0)


def should_retry_exception(exc: httpx.TransportError, idempotent: bool) -> bool:
    """Connection failures are always retried; a broken exchange only when repeating it is harmless; a request
    this client could not even form (a URL without http://, say) never."""
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return False
    return isinstance(exc, NOT_SENT) or idempotent


def job_id(job: Job | str) -> str:
    return job.id if isinstance(job, Job) else job


def progress_key(job: Job) -> tuple[str, int, int | None, float | None]:
    return job.status, job.progress, job.queue_position, job.eta_seconds


def build_create(prompt: str, fields: dict[str, Any], inputs: dict[str, MediaInput | None],
                 idempotency_key: str | None) -> dict[str, Any]:
    """Keyword arguments for ``httpx`` to POST /generate: JSON, or multipart when an input is a file.

    Files are read into memory here so that a retried request sends the same bytes again.
    """
    body: dict[str, Any] = {"prompt": prompt}
    body |= {name: value for name, value in fields.items() if value is not None}
    if isinstance(body.get("segments"), list):
        body["segments"] = [_segment(s) for s in body["segments"]]
    files: dict[str, tuple[str, bytes, str]] = {}
    for name, value in inputs.items():
        if value is None:
            continue
        media = _media(name, value)
        if isinstance(media, tuple):
            files[name] = media
        else:
            body[name] = media
    headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    if not files:
        return {"json": body, "headers": headers}
    return {"data": _form_fields(body), "files": files, "headers": headers}


def _segment(segment: Any) -> dict[str, Any]:
    if isinstance(segment, dict):
        return segment
    prompt, duration = segment  # a (prompt, duration) pair
    return {"prompt": prompt, "duration": duration}


def _media(name: str, value: MediaInput) -> tuple[str, bytes, str] | str | dict[str, str]:
    """A file part (filename, bytes, content type), or a reference the server resolves itself."""
    if isinstance(value, bytes | bytearray | memoryview):
        return name, bytes(value), "application/octet-stream"
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        if value[:5].lower() == "data:" or value.lower().startswith(("http://", "https://")):
            return value
        if not Path(value).is_file() and _JOB_ID.fullmatch(value):
            return value
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        if not path.is_file():
            raise FileNotFoundError(f"{name}: no such file {str(path)!r} (nor a job id, data: URL or http(s) URL)")
        return path.name, path.read_bytes(), _content_type(path.name)
    if hasattr(value, "read"):  # an open binary file
        filename = Path(str(getattr(value, "name", name))).name
        return filename, value.read(), _content_type(filename)
    raise TypeError(f"{name}: expected a path, bytes, a file object or a job id, not {type(value).__name__}")


def _content_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _form_fields(body: dict[str, Any]) -> dict[str, str]:
    """Multipart text fields: booleans as true/false, segments as JSON, a reference object as ``name[key]``."""
    form: dict[str, str] = {}
    for name, value in body.items():
        if isinstance(value, bool):
            form[name] = "true" if value else "false"
        elif isinstance(value, dict):
            form |= {f"{name}[{k}]": str(v) for k, v in value.items()}
        elif isinstance(value, list):
            form[name] = json.dumps(value)
        else:
            form[name] = str(value)
    return form


def target_path(path: str | os.PathLike[str], job: str, content_type: str | None) -> Path:
    """Where a download goes: ``path``, or ``<job id>.<ext>`` inside it when it is a folder."""
    target = Path(path)
    if target.is_dir():
        extension = {"image/webp": ".webp", "image/jpeg": ".jpg"}.get((content_type or "").split(";")[0], ".mp4")
        target = target / f"{job}{extension}"
    return target


class AtomicFile:
    """A temporary file beside ``target``, renamed over it only once fully written: no half-written video is
    ever left under the requested name."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> Any:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.target.with_name(f".{self.target.name}.{uuid.uuid4().hex[:8]}.part")
        self.file = self.tmp.open("xb")
        return self.file

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.file.close()
        if exc_type is None:
            self.tmp.replace(self.target)
        else:
            with suppress(OSError):
                self.tmp.unlink()
