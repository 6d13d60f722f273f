"""Retries, against a scripted local HTTP server: what is retried, how long the client waits, what is sent."""

from __future__ import annotations

import asyncio
import socket

import pytest
from kinora_client import (
    AsyncKinora,
    InvalidRequestError,
    Kinora,
    KinoraConnectionError,
    RateLimitError,
    ServiceUnavailableError,
)

from tests.client.conftest import DROP, OK, error


def test_503_is_retried_after_retry_after_with_one_idempotency_key(scripted):
    scripted.replies = [error(503, "queue_unavailable", **{"Retry-After": "1"})] * 2 + [OK]
    slept: list[float] = []
    with Kinora(scripted.url, "kin_test", sleep=slept.append) as client:
        job = client.create("a prompt", duration=1)
    assert job.id == "job_1" and slept == [1, 1] and len(scripted.seen) == 3
    keys = {headers["idempotency-key"] for _, _, headers in scripted.seen}
    assert len(keys) == 1 and all(h["authorization"] == "Bearer kin_test" for _, _, h in scripted.seen)

    scripted.seen.clear()
    with Kinora(scripted.url, "kin_test", sleep=slept.append) as client:
        client.create("again", idempotency_key="mine")
    assert scripted.seen[0][2]["idempotency-key"] == "mine"


def test_other_4xx_are_never_retried(scripted):
    scripted.replies = [error(422, "invalid_request")]
    slept: list[float] = []
    with Kinora(scripted.url, "k", sleep=slept.append) as client, pytest.raises(InvalidRequestError) as exc:
        client.get("job_1")
    assert exc.value.param == "width" and exc.value.message == "invalid_request happened"
    assert slept == [] and len(scripted.seen) == 1


def test_429_backs_off_exponentially_and_gives_up_after_max_retries(scripted):
    scripted.replies = [error(429, "rate_limited")] * 3
    slept: list[float] = []
    with Kinora(scripted.url, "k", max_retries=2, sleep=slept.append) as client, pytest.raises(RateLimitError):
        client.list()
    assert len(scripted.seen) == 3 and len(slept) == 2
    assert 0.25 <= slept[0] <= 0.5 and 0.5 <= slept[1] <= 1.0  # 0.5 s then 1 s, with jitter


def test_503_exhausted_raises_service_unavailable(scripted):
    scripted.replies = [error(503, "store_unavailable", **{"Retry-After": "2"})] * 2
    slept: list[float] = []
    with Kinora(scripted.url, "k", max_retries=1, sleep=slept.append) as client, \
            pytest.raises(ServiceUnavailableError) as exc:
        client.get("job_1")
    assert exc.value.code == "store_unavailable" and exc.value.headers["retry-after"] == "2" and slept == [2]


def test_connection_errors_are_retried():
    with socket.socket() as closed:  # a port where nothing listens
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    slept: list[float] = []
    with Kinora(url, "k", max_retries=3, sleep=slept.append) as client, pytest.raises(KinoraConnectionError):
        client.get("job_1")
    assert len(slept) == 3


def test_a_broken_exchange_is_retried_with_the_same_idempotency_key(scripted):
    """The server may have queued the job before the connection broke: the retry carries the same key, so the
    server answers with that job instead of making a second one."""
    slept: list[float] = []
    scripted.replies = [DROP, OK]
    with Kinora(scripted.url, "k", sleep=slept.append) as client:
        assert client.create("maybe queued").id == "job_1"
    (_, _, first), (_, _, second) = scripted.seen
    assert first["idempotency-key"] == second["idempotency-key"] and len(slept) == 1

    scripted.replies = [DROP]
    with Kinora(scripted.url, "k", sleep=slept.append) as client:
        assert client.get("job_1").id == "job_1"
    assert len(scripted.seen) == 4 and len(slept) == 2


def test_download_follows_a_redirect_without_sending_the_key_elsewhere(scripted, tmp_path):
    # localhost and 127.0.0.1 are different origins, as an S3 presigned URL's host would be.
    port = scripted.url.rsplit(":", 1)[1]
    presigned = f"http://localhost:{port}/bucket/video.mp4?X-Amz-Signature=abc"
    scripted.replies = [(302, {"Location": presigned}, b""), (200, {"Content-Type": "video/mp4"}, b"\0" * 100_000)]
    with Kinora(scripted.url, "kin_secret") as client:
        path = client.download("job_1", tmp_path / "v.mp4")
    assert path.read_bytes() == b"\0" * 100_000
    (_, first, first_headers), (_, second, second_headers) = scripted.seen
    assert first == "/jobs/job_1/content?variant=video" and first_headers["authorization"] == "Bearer kin_secret"
    assert second.startswith("/bucket/video.mp4") and "authorization" not in second_headers


def test_the_async_client_retries_the_same_way(scripted):
    scripted.replies = [error(503, "queue_unavailable", **{"Retry-After": "1"})] * 2 + [OK, error(422, "x")]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def flow() -> None:
        async with AsyncKinora(scripted.url, "k", sleep=sleep) as client:
            assert (await client.create("p")).id == "job_1"
            with pytest.raises(InvalidRequestError):
                await client.get("job_1")

    asyncio.run(flow())
    assert slept == [1, 1] and len(scripted.seen) == 4
    assert len({h["idempotency-key"] for m, _, h in scripted.seen if m == "POST"}) == 1
