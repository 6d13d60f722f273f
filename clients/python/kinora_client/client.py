"""``Kinora`` (sync) and ``AsyncKinora`` (async): the Kinora API as methods, with retries.

Both retry 429 and 503 (waiting what ``Retry-After`` says, else exponential backoff with jitter) and connection
failures, up to ``max_retries`` times; no other 4xx is ever retried. Every ``create`` carries an
``Idempotency-Key`` so that a server honouring it never turns the client's own retries into two jobs.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from kinora_client._base import (
    DEFAULT_TIMEOUT,
    REDIRECT_STATUSES,
    RETRY_STATUSES,
    USER_AGENT,
    AtomicFile,
    Config,
    MediaInput,
    backoff,
    build_create,
    job_id,
    progress_key,
    should_retry_exception,
    target_path,
)
from kinora_client.errors import JobFailed, KinoraConnectionError, KinoraTimeout, error_from_response
from kinora_client.models import Job, Page

log = logging.getLogger("kinora_client")

ProgressCallback = Callable[[Job], Any]


def _create_fields(duration: float | None, fps: int | None, resolution: str | None, aspect_ratio: str | None,
                   width: int | None, height: int | None, model: str | None, seed: int | None, steps: int | None,
                   guidance_scale: float | None, negative_prompt: str | None, mode: str | None,
                   strength: float | None, include_input: bool | None, segments: builtins.list[Any] | None,
                   image_position: str | None) -> dict[str, Any]:
    return {"duration": duration, "fps": fps, "resolution": resolution, "aspect_ratio": aspect_ratio,
            "width": width, "height": height, "model": model, "seed": seed, "steps": steps,
            "guidance_scale": guidance_scale, "negative_prompt": negative_prompt, "mode": mode,
            "strength": strength, "include_input": include_input, "segments": segments,
            "image_position": image_position}


class Kinora:
    """A synchronous client. ``base_url`` and ``api_key`` default to ``KINORA_BASE_URL`` (else
    ``http://localhost:8000``) and ``KINORA_API_KEY``. ``sleep`` is what waits between retries and polls."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT, max_retries: int = 5, *,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None) -> None:
        self.config = Config.resolve(base_url, api_key)
        self.max_retries = max_retries
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.config.base_url, timeout=timeout, transport=transport,
                                  headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Kinora:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, *, idempotent: bool = True, stream: bool = False,
              headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """One request with retries; an error response is raised as its ``KinoraError``."""
        headers = {**self.config.headers(url), **(headers or {})}
        for attempt in range(self.max_retries + 1):
            request = self._http.build_request(method, url, headers=headers, **kwargs)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt == self.max_retries or not should_retry_exception(exc, idempotent):
                    raise KinoraConnectionError(f"{method} {request.url}: {exc or type(exc).__name__}") from exc
                delay = backoff(attempt)
                log.info("%s %s failed (%s); retrying in %.2f s", method, request.url, exc, delay)
            else:
                if response.status_code not in RETRY_STATUSES or attempt == self.max_retries:
                    if response.is_error:
                        response.read()
                        response.close()
                        raise error_from_response(response)
                    return response
                delay = backoff(attempt, response.headers.get("retry-after"))
                response.close()
                log.info("%s %s answered %d; retrying in %.2f s", method, request.url, response.status_code, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        return self._send(method, url, **kwargs).json()

    # -- the API -----------------------------------------------------------------------------------------------

    def create(self, prompt: str, *, duration: float | None = None, fps: int | None = None,
               resolution: str | None = None, aspect_ratio: str | None = None, width: int | None = None,
               height: int | None = None, model: str | None = None, seed: int | None = None,
               steps: int | None = None, guidance_scale: float | None = None, negative_prompt: str | None = None,
               image: MediaInput | None = None, video: MediaInput | None = None, mode: str | None = None,
               strength: float | None = None, include_input: bool | None = None,
               segments: builtins.list[Any] | None = None, image_position: str | None = None,
               idempotency_key: str | None = None) -> Job:
        """Queue a job. ``image``/``video``: a path, bytes, an open file, or a job id (a completed job's video)."""
        fields = _create_fields(duration, fps, resolution, aspect_ratio, width, height, model, seed, steps,
                                guidance_scale, negative_prompt, mode, strength, include_input, segments,
                                image_position)
        body = build_create(prompt, fields, {"image": image, "video": video}, idempotency_key)
        return Job.from_dict(self._json("POST", "/generate", idempotent=True, **body))

    def get(self, job: Job | str) -> Job:
        return Job.from_dict(self._json("GET", f"/jobs/{job_id(job)}"))

    def list(self, limit: int = 20, after: str | None = None) -> Page:
        """One page of your jobs, newest first."""
        params: dict[str, Any] = {"limit": limit} | ({"after": after} if after else {})
        return Page.from_dict(self._json("GET", "/jobs", params=params))

    def iter_jobs(self, page_size: int = 20) -> Iterator[Job]:
        """Every job, newest first, following ``next_cursor`` page after page."""
        after: str | None = None
        while True:
            page = self.list(limit=page_size, after=after)
            yield from page.data
            if not page.has_more or not page.next_cursor:
                return
            after = page.next_cursor

    def cancel(self, job: Job | str) -> Job:
        return Job.from_dict(self._json("POST", f"/jobs/{job_id(job)}/cancel"))

    def wait(self, job: Job | str, *, timeout: float | None = None, poll_interval: float = 1.0,
             on_progress: ProgressCallback | None = None) -> Job:
        """Poll until the job is completed, failed or cancelled, and return it (a failure is not raised here).

        ``on_progress(job)`` is called with the first state and whenever status, progress, queue position or
        ETA change. Raises ``KinoraTimeout`` after ``timeout`` seconds.
        """
        current = job if isinstance(job, Job) else self.get(job)
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = None
        while True:
            if on_progress is not None and progress_key(current) != seen:
                seen = progress_key(current)
                on_progress(current)
            if current.is_terminal:
                return current
            delay = poll_interval
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise KinoraTimeout(current, timeout or 0)
                delay = min(delay, remaining)
            self._sleep(delay)
            current = self.get(current.id)

    def download(self, job: Job | str, path: str | os.PathLike[str], variant: str = "video") -> Path:
        """Stream the video (or ``variant`` ``thumbnail`` / ``spritesheet``) to ``path``; returns the path written.

        A ``302`` to a presigned storage URL is followed without sending the API key there.
        """
        ident = job_id(job)
        response = self._send("GET", f"/jobs/{ident}/content", params={"variant": variant}, stream=True)
        try:
            if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                location = str(response.url.join(response.headers["location"]))
                response.close()
                response = self._send("GET", location, stream=True)
            target = target_path(path, ident, response.headers.get("content-type"))
            with AtomicFile(target) as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        finally:
            response.close()
        return target

    def generate(self, prompt: str, path: str | os.PathLike[str], *, on_progress: ProgressCallback | None = None,
                 timeout: float | None = None, poll_interval: float = 1.0, **create_kwargs: Any) -> Job:
        """create → wait → download. Raises ``JobFailed`` when the job failed or was cancelled."""
        job = self.wait(self.create(prompt, **create_kwargs), timeout=timeout, poll_interval=poll_interval,
                        on_progress=on_progress)
        if job.status != "completed":
            raise JobFailed(job)
        self.download(job, path)
        return job


class AsyncKinora:
    """The asynchronous client: the same methods as ``Kinora``, as coroutines (``iter_jobs`` is an async
    iterator). ``sleep`` is what waits between retries and polls."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT, max_retries: int = 5, *,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = Config.resolve(base_url, api_key)
        self.max_retries = max_retries
        self._sleep = sleep
        self._http = httpx.AsyncClient(base_url=self.config.base_url, timeout=timeout, transport=transport,
                                       headers={"User-Agent": USER_AGENT})

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncKinora:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _send(self, method: str, url: str, *, idempotent: bool = True, stream: bool = False,
                    headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.config.headers(url), **(headers or {})}
        for attempt in range(self.max_retries + 1):
            request = self._http.build_request(method, url, headers=headers, **kwargs)
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt == self.max_retries or not should_retry_exception(exc, idempotent):
                    raise KinoraConnectionError(f"{method} {request.url}: {exc or type(exc).__name__}") from exc
                delay = backoff(attempt)
                log.info("%s %s failed (%s); retrying in %.2f s", method, request.url, exc, delay)
            else:
                if response.status_code not in RETRY_STATUSES or attempt == self.max_retries:
                    if response.is_error:
                        await response.aread()
                        await response.aclose()
                        raise error_from_response(response)
                    return response
                delay = backoff(attempt, response.headers.get("retry-after"))
                await response.aclose()
                log.info("%s %s answered %d; retrying in %.2f s", method, request.url, response.status_code, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")

    async def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        return (await self._send(method, url, **kwargs)).json()

    async def create(self, prompt: str, *, duration: float | None = None, fps: int | None = None,
                     resolution: str | None = None, aspect_ratio: str | None = None, width: int | None = None,
                     height: int | None = None, model: str | None = None, seed: int | None = None,
                     steps: int | None = None, guidance_scale: float | None = None,
                     negative_prompt: str | None = None, image: MediaInput | None = None,
                     video: MediaInput | None = None, mode: str | None = None, strength: float | None = None,
                     include_input: bool | None = None, segments: builtins.list[Any] | None = None,
                     image_position: str | None = None, idempotency_key: str | None = None) -> Job:
        fields = _create_fields(duration, fps, resolution, aspect_ratio, width, height, model, seed, steps,
                                guidance_scale, negative_prompt, mode, strength, include_input, segments,
                                image_position)
        body = build_create(prompt, fields, {"image": image, "video": video}, idempotency_key)
        return Job.from_dict(await self._json("POST", "/generate", idempotent=True, **body))

    async def get(self, job: Job | str) -> Job:
        return Job.from_dict(await self._json("GET", f"/jobs/{job_id(job)}"))

    async def list(self, limit: int = 20, after: str | None = None) -> Page:
        params: dict[str, Any] = {"limit": limit} | ({"after": after} if after else {})
        return Page.from_dict(await self._json("GET", "/jobs", params=params))

    async def iter_jobs(self, page_size: int = 20) -> AsyncIterator[Job]:
        after: str | None = None
        while True:
            page = await self.list(limit=page_size, after=after)
            for job in page.data:
                yield job
            if not page.has_more or not page.next_cursor:
                return
            after = page.next_cursor

    async def cancel(self, job: Job | str) -> Job:
        return Job.from_dict(await self._json("POST", f"/jobs/{job_id(job)}/cancel"))

    async def wait(self, job: Job | str, *, timeout: float | None = None, poll_interval: float = 1.0,
                   on_progress: ProgressCallback | None = None) -> Job:
        current = job if isinstance(job, Job) else await self.get(job)
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = None
        while True:
            if on_progress is not None and progress_key(current) != seen:
                seen = progress_key(current)
                result = on_progress(current)
                if asyncio.iscoroutine(result):  # an async callback is awaited
                    await result
            if current.is_terminal:
                return current
            delay = poll_interval
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise KinoraTimeout(current, timeout or 0)
                delay = min(delay, remaining)
            await self._sleep(delay)
            current = await self.get(current.id)

    async def download(self, job: Job | str, path: str | os.PathLike[str], variant: str = "video") -> Path:
        ident = job_id(job)
        response = await self._send("GET", f"/jobs/{ident}/content", params={"variant": variant}, stream=True)
        try:
            if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                location = str(response.url.join(response.headers["location"]))
                await response.aclose()
                response = await self._send("GET", location, stream=True)
            target = target_path(path, ident, response.headers.get("content-type"))
            with AtomicFile(target) as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        finally:
            await response.aclose()
        return target

    async def generate(self, prompt: str, path: str | os.PathLike[str], *,
                       on_progress: ProgressCallback | None = None, timeout: float | None = None,
                       poll_interval: float = 1.0, **create_kwargs: Any) -> Job:
        job = await self.wait(await self.create(prompt, **create_kwargs), timeout=timeout,
                              poll_interval=poll_interval, on_progress=on_progress)
        if job.status != "completed":
            raise JobFailed(job)
        await self.download(job, path)
        return job

