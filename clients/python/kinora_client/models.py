"""Typed results built from the server's JSON. Every object keeps the JSON it came from in ``raw``, so fields the
server adds later are readable before this package knows them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})


def _datetime(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class JobError:
    code: str
    message: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobError:
        return cls(code=str(data.get("code", "")), message=str(data.get("message", "")))


@dataclass(frozen=True)
class Output:
    """The finished video: where to download it and what it is."""

    url: str
    content_type: str
    width: int
    height: int
    fps: int
    frames: int
    seconds: float
    bytes: int
    model: str | None = None
    thumbnail_url: str | None = None
    spritesheet_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Output:
        return cls(
            url=data.get("url", ""),
            content_type=data.get("content_type", "video/mp4"),
            width=int(data.get("width", 0)),
            height=int(data.get("height", 0)),
            fps=int(data.get("fps", 0)),
            frames=int(data.get("frames", 0)),
            seconds=float(data.get("seconds", 0)),
            bytes=int(data.get("bytes", 0)),
            model=data.get("model"),
            thumbnail_url=data.get("thumbnail_url"),
            spritesheet_url=data.get("spritesheet_url"),
            raw=data,
        )


@dataclass(frozen=True)
class Job:
    """A generation job. ``request`` is the request as the server resolved it (every default filled in)."""

    id: str
    status: str  # queued, in_progress, completed, failed, cancelled
    progress: int
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    request: dict[str, Any]
    output: Output | None
    error: JobError | None
    cancel_requested: bool
    queue_position: int | None = None  # not every server reports these two
    eta_seconds: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        output, error, position = data.get("output"), data.get("error"), data.get("queue_position")
        return cls(
            id=str(data["id"]),
            status=str(data.get("status", "")),
            progress=int(data.get("progress") or 0),
            created_at=_datetime(data.get("created_at")),
            started_at=_datetime(data.get("started_at")),
            completed_at=_datetime(data.get("completed_at")),
            request=data.get("request") or {},
            output=Output.from_dict(output) if isinstance(output, dict) else None,
            error=JobError.from_dict(error) if isinstance(error, dict) else None,
            cancel_requested=bool(data.get("cancel_requested", False)),
            queue_position=int(position) if isinstance(position, int) and not isinstance(position, bool) else None,
            eta_seconds=_number(data.get("eta_seconds")),
            raw=data,
        )


@dataclass(frozen=True)
class Page:
    """One page of ``GET /jobs``, newest first; pass ``next_cursor`` as ``after`` for the next."""

    data: list[Job]
    has_more: bool
    next_cursor: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Page:
        return cls(data=[Job.from_dict(j) for j in data.get("data", [])], has_more=bool(data.get("has_more")),
                   next_cursor=data.get("next_cursor"), raw=data)

    def __iter__(self) -> Iterator[Job]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)
