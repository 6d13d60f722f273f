"""Idempotency-Key against a running server: 50 concurrent retries create exactly one job."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytestmark = pytest.mark.e2e
BODY = {"prompt": "a lighthouse in the fog", "duration": 0.5, "steps": 1, "width": 256, "height": 144}


@pytest.fixture(scope="module")
def server(live_server):
    return live_server


def post(server, path, json, key, headers=None):
    return httpx.post(f"{server.base}{path}", json=json, timeout=60,
                      headers={**(headers or server.headers), "Idempotency-Key": key})


def test_fifty_concurrent_retries_create_exactly_one_job(server):
    before = len(httpx.get(f"{server.base}/jobs?limit=100", headers=server.headers).json()["data"])
    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda _: post(server, "/generate", BODY, "order-1234"), range(50)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 49
    after = len(httpx.get(f"{server.base}/jobs?limit=100", headers=server.headers).json()["data"])
    assert after == before + 1


def test_same_key_different_body_is_refused_and_keys_are_per_api_key(server):
    first = post(server, "/generate", BODY, "k-2")
    again = post(server, "/generate", BODY, "k-2")
    assert again.json()["id"] == first.json()["id"]
    changed = post(server, "/generate", {**BODY, "prompt": "another lighthouse"}, "k-2")
    assert changed.status_code == 422 and changed.json()["error"]["code"] == "idempotency_key_reused"
    mine = post(server, "/generate", BODY, "k-2", headers=server.other)  # another API key, the same string
    assert mine.status_code == 202 and mine.json()["id"] != first.json()["id"]


def test_a_refused_request_does_not_use_up_its_key(server):
    bad = post(server, "/generate", {**BODY, "width": 257}, "k-3")
    assert bad.status_code == 422
    good = post(server, "/generate", BODY, "k-3")
    assert good.status_code == 202


def test_the_openai_surface_honours_the_key_too(server):
    body = {"prompt": "a lighthouse", "seconds": "1", "size": "256x144"}
    a = post(server, "/v1/videos", body, "v-1")
    b = post(server, "/v1/videos", body, "v-1")
    assert a.status_code == b.status_code == 200 and a.json()["id"] == b.json()["id"]
    assert b.headers["idempotent-replayed"] == "true"
