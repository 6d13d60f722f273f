"""Shared fixtures: a real Redis, a real S3-compatible HTTP server, ports, settings."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.media import decode_mp4

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # keep torch threads from spinning against the server
# The plumbing is tested on the tiny random preset (fastest), in this process and in the servers the tests
# start (tests/processes.py); tests of the embedded default name it.
TEST_MODEL = "ltx-tiny"
os.environ.setdefault("KINORA_DEFAULT_MODEL", TEST_MODEL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def finish(client, headers, response):  # type: ignore[no-untyped-def]
    """The job a 202 response created, once it has completed (test client and headers of its key)."""
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    job = wait_until(lambda: (j := client.get(f"/jobs/{job_id}", headers=headers).json())["status"]
                     in ("completed", "failed", "cancelled") and j, 120, what=f"job {job_id}")
    assert job["status"] == "completed", job["error"]
    return job


def video_of(settings, job):  # type: ignore[no-untyped-def]
    """The decoded MP4 of an embedded-mode job (local storage under the data folder)."""
    return decode_mp4(settings.data_dir / "objects" / f"{job['id']}.mp4")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Redis at 127.0.0.1:6379 when it answers; otherwise a redis-server started on a free port."""
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
        yield "redis://127.0.0.1:6379/0"
        return
    except redis.ConnectionError:
        pass
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("no Redis answers on 127.0.0.1:6379 and redis-server is not installed (see .ci/run)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    wait_until(lambda: _pings(client), 10, what="redis-server")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of its own for each test; its keys are removed afterwards."""
    prefix = f"kinora-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server: a real HTTP endpoint speaking the S3 protocol."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    import boto3

    name = f"kinora-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket=name)
    return name


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
