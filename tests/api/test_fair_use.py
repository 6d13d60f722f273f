"""Per-key fair use: create rate, jobs queued or running, GPU-seconds a day; 429 with Retry-After."""

from fastapi.testclient import TestClient

from app.main import create_app
from kinora.config import Settings
from kinora.docstore import open_docstore
from kinora.keys import KeyStore
from kinora.usage import Usage
from tests.conftest import wait_until

FAST = {"prompt": "x", "duration": 0.5, "steps": 1, "width": 256, "height": 144}


def served(tmp_path, **limits):
    settings = Settings(data_dir=tmp_path, **limits)
    keys = KeyStore(open_docstore(settings))
    a, b = keys.create("a")[1], keys.create("b")[1]
    client = TestClient(create_app(settings))
    return client, {"Authorization": f"Bearer {a}"}, {"Authorization": f"Bearer {b}"}


def wait_done(client, headers, job_id):
    wait_until(lambda: client.get(f"/jobs/{job_id}", headers=headers).json()["status"]
               in ("completed", "failed", "cancelled"), 60, what=job_id)


def test_the_create_rate_is_limited_per_key_with_headers(tmp_path):
    client, a, b = served(tmp_path, rate_limit_per_minute=3)
    with client:
        remaining = []
        for _ in range(3):
            r = client.post("/generate", headers=a, json=FAST)
            assert r.status_code == 202
            remaining.append(r.headers["x-ratelimit-remaining-requests"])
            assert r.headers["x-ratelimit-limit-requests"] == "3"
        assert remaining == ["2", "1", "0"]
        r = client.post("/generate", headers=a, json=FAST)
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        v1 = client.post("/v1/videos", headers=a, json={"prompt": "x"})
        assert v1.status_code == 429 and v1.json()["error"]["type"] == "rate_limit_error"
        assert client.post("/generate", headers=b, json=FAST).status_code == 202  # another key, its own window
        assert client.get("/jobs", headers=a).status_code == 200  # reads are not limited


def test_jobs_queued_or_running_are_capped_per_key(tmp_path):
    client, a, b = served(tmp_path, max_active_jobs=1)
    with client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 60, what="the worker")
        long = client.post("/generate", headers=a, json={**FAST, "duration": 2, "steps": 60}).json()
        r = client.post("/generate", headers=a, json=FAST)
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_active_jobs"
        assert r.headers["retry-after"] == "5"
        client.post(f"/jobs/{long['id']}/cancel", headers=a)
        wait_done(client, a, long["id"])
        assert client.post("/generate", headers=a, json=FAST).status_code == 202


def test_a_daily_gpu_budget_stops_creates_once_spent(tmp_path):
    client, a, b = served(tmp_path, gpu_seconds_per_day=1)
    with client:
        first = client.post("/generate", headers=a, json=FAST)
        assert first.status_code == 202 and first.headers["x-ratelimit-remaining-gpu-seconds"] == "1"
        wait_done(client, a, first.json()["id"])
        r = client.post("/generate", headers=a, json=FAST)
        assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded"
        assert r.headers["x-ratelimit-remaining-gpu-seconds"] == "0" and int(r.headers["retry-after"]) > 3600
        assert client.post("/generate", headers=b, json=FAST).status_code == 202


def test_limits_are_shared_through_redis_in_production(redis_url, redis_prefix):
    settings = Settings(redis_url=redis_url, redis_prefix=redis_prefix, rate_limit_per_minute=2)
    gateway_a, gateway_b = Usage(settings), Usage(settings)  # two gateway processes, one count
    verdicts = [gateway_a.hit_request("k"), gateway_b.hit_request("k"), gateway_a.hit_request("k")]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert verdicts[-1].remaining == 0 and 0 < verdicts[-1].reset_s <= 60
    assert gateway_b.hit_request("other").allowed


def test_no_rate_limit_by_default_means_no_headers(tmp_path):
    client, a, _ = served(tmp_path)
    with client:
        r = client.post("/generate", headers=a, json=FAST)
        assert r.status_code == 202 and "x-ratelimit-limit-requests" not in r.headers
