"""The gateway in embedded mode (real SQLite store, real worker thread with the tiny model) via TestClient."""

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.queue import CeleryQueue
from kinora.config import Settings
from kinora.docstore import open_docstore
from kinora.keys import KeyStore
from tests.conftest import wait_until

OPEN_PATHS = {"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), max_body_bytes=1 << 20)
    keys = KeyStore(open_docstore(settings))
    alice, bob = keys.create("alice")[1], keys.create("bob")[1]
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 60, what="the embedded worker")
        yield client, {"Authorization": f"Bearer {alice}"}, {"Authorization": f"Bearer {bob}"}


def wait_terminal(client, headers, job_id, timeout=60):
    return wait_until(lambda: (j := client.get(f"/jobs/{job_id}", headers=headers).json())["status"]
                      in ("completed", "failed", "cancelled") and j, timeout, what=f"job {job_id}")


def test_health_and_readiness_are_open(server):
    client, _, _ = server
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["checks"]["worker"] == "ok: ltx-tiny"


def test_every_other_route_needs_a_valid_key(server):
    client, _, _ = server
    routes = [(m.upper(), p) for p, ops in client.app.openapi()["paths"].items() for m in ops]
    protected = [(m, p.replace("{job_id}", "job_x")) for m, p in routes if p not in OPEN_PATHS]
    assert len(protected) >= 6
    for method, path in protected:
        missing = client.request(method, path)
        wrong = client.request(method, path, headers={"Authorization": "Bearer kin_wrong"})
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key", path
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key", path


def test_the_documented_request_runs_to_a_downloadable_mp4(server):
    client, alice, _ = server
    r = client.post("/generate", headers=alice, json={"prompt": "Une mer agitée au coucher du soleil",
                                                      "duration": 2, "steps": 2})
    assert r.status_code == 202
    job = r.json()
    assert r.headers["location"] == f"/jobs/{job['id']}"
    assert job["status"] == "queued" and job["progress"] == 0 and job["created_at"]
    assert job["request"]["seed"] >= 0 and job["request"]["width"] == 854 and job["request"]["fps"] == 24
    done = wait_terminal(client, alice, job["id"])
    assert done["status"] == "completed" and done["progress"] == 100 and done["started_at"] and done["completed_at"]
    out = done["output"]
    assert out["url"].endswith(f"/jobs/{job['id']}/content")
    assert (out["width"], out["height"], out["fps"], out["frames"], out["content_type"]) == (
        854, 480, 24, 48, "video/mp4")
    video = client.get(f"/jobs/{job['id']}/content", headers=alice)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert len(video.content) == out["bytes"] and video.content[4:8] == b"ftyp"


def test_a_key_sees_only_its_own_jobs(server):
    client, alice, bob = server
    job = client.post("/generate", headers=alice, json={"prompt": "mine", "duration": 0.5, "steps": 1}).json()
    wait_terminal(client, alice, job["id"])
    for method, path in [("GET", f"/jobs/{job['id']}"), ("POST", f"/jobs/{job['id']}/cancel"),
                         ("GET", f"/jobs/{job['id']}/content")]:
        r = client.request(method, path, headers=bob)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert job["id"] not in [j["id"] for j in client.get("/jobs", headers=bob).json()["data"]]


def test_listing_is_newest_first_and_cursor_paginated(server):
    client, _, _ = server
    key = {"Authorization": f"Bearer {KeyStore(open_docstore(client.app.state.settings)).create('pager')[1]}"}
    ids = [client.post("/generate", headers=key, json={"prompt": f"p{i}", "duration": 0.5, "steps": 1}).json()["id"]
           for i in range(5)]
    seen, after = [], None
    while True:
        page = client.get("/jobs", headers=key, params={"limit": 2} | ({"after": after} if after else {})).json()
        seen += [j["id"] for j in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        after = page["next_cursor"]
    assert seen == ids[::-1]


def test_cancelling_a_running_job(server):
    client, alice, _ = server
    job = client.post("/generate", headers=alice, json={"prompt": "long", "duration": 20, "steps": 200}).json()
    wait_until(lambda: client.get(f"/jobs/{job['id']}", headers=alice).json()["progress"] > 0, 60, what="progress")
    early = client.get(f"/jobs/{job['id']}/content", headers=alice)
    assert early.status_code == 409 and early.json()["error"]["code"] == "job_not_completed"
    r = client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    assert r.status_code == 200 and r.json()["cancel_requested"] is True
    ended = wait_terminal(client, alice, job["id"], timeout=30)
    assert ended["status"] == "cancelled" and ended["output"] is None and ended["progress"] < 90
    again = client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


def test_a_completed_job_cannot_be_cancelled(server):
    client, alice, _ = server
    job = client.post("/generate", headers=alice, json={"prompt": "x", "duration": 0.5, "steps": 1}).json()
    wait_terminal(client, alice, job["id"])
    r = client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    assert r.status_code == 409 and r.json()["error"]["code"] == "job_not_cancellable"


@pytest.mark.parametrize(("kwargs", "status", "code", "param"), [
    ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json", None),
    ({"json": {"duration": 5}}, 422, "invalid_request", "prompt"),
    ({"json": {"prompt": "x", "duration": -1}}, 422, "invalid_request", "duration"),
    ({"json": {"prompt": "x", "width": 641, "height": 360}}, 422, "invalid_request", "width"),
    ({"json": {"prompt": "x", "durration": 5}}, 422, "invalid_request", "durration"),
    ({"json": {"prompt": "x", "model": "sora-2"}}, 422, "model_not_found", "model"),
    ({"json": {"prompt": "x", "model": "ltx-video"}}, 422, "model_not_available", "model"),
    ({"json": {"prompt": "x", "duration": 61}}, 422, "invalid_request", "duration"),
    ({"json": {"prompt": "x" * 2_000_000}}, 413, "payload_too_large", None),
    ({"json": ["prompt"]}, 422, "invalid_request", None),
])
def test_bad_input_gets_a_clear_error(server, kwargs, status, code, param):
    client, alice, _ = server
    r = client.post("/generate", headers=alice | kwargs.pop("headers", {}), **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["param"] == param
    assert r.json()["error"]["message"]


def test_a_chunked_body_over_the_limit_is_refused(server):
    client, alice, _ = server

    def chunks():
        yield b'{"prompt": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    r = client.post("/generate", headers=alice | {"Content-Type": "application/json"}, content=chunks())
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_unknown_jobs_routes_and_methods(server):
    client, alice, _ = server
    assert client.get("/jobs/job_nope", headers=alice).json()["error"]["code"] == "not_found"
    assert client.get("/nowhere", headers=alice).json()["error"]["code"] == "not_found"
    r = client.delete("/generate", headers=alice)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = client.get("/jobs", headers=alice, params={"limit": 1000})
    assert r.status_code == 422 and r.json()["error"]["param"] == "limit"


def test_models_say_which_are_random(server):
    client, alice, _ = server
    models = {m["name"]: m for m in client.get("/models", headers=alice).json()["data"]}
    assert models["ltx-tiny"]["random_weights"] is True and models["ltx-tiny"]["loaded"] is True
    assert models["ltx-video"]["random_weights"] is False and models["ltx-video"]["available"] is False


def test_queue_unreachable_is_503_with_retry_after_and_the_job_is_not_left_queued(redis_url, redis_prefix):
    settings = Settings(redis_url=redis_url, redis_prefix=redis_prefix, queue_prefix=redis_prefix)
    secret = KeyStore(open_docstore(settings)).create("q")[1]
    with TestClient(create_app(settings)) as client:
        client.app.state.service.queue = CeleryQueue(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
        headers = {"Authorization": f"Bearer {secret}"}
        r = client.post("/generate", headers=headers, json={"prompt": "x"})
        assert r.status_code == 503 and r.headers["retry-after"]
        assert r.json()["error"]["code"] == "queue_unavailable"
        [job] = client.get("/jobs", headers=headers).json()["data"]
        assert job["status"] == "failed" and job["error"]["code"] == "queue_unavailable"


def test_store_unreachable_is_503():
    settings = Settings(redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as client:
        r = client.get("/jobs", headers={"Authorization": "Bearer kin_x"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
        assert r.headers["retry-after"]
        assert client.get("/readyz").status_code == 503


def test_the_production_gateway_never_imports_torch(redis_url):
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from app.main import create_app\n"
        "from kinora.config import Settings\n"
        f"with TestClient(create_app(Settings(redis_url={redis_url!r}))) as c:\n"
        "    c.get('/readyz'); c.post('/generate', json={'prompt': 'x'})\n"
        "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
