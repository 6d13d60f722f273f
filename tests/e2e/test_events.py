"""Queue positions, ETAs and the Server-Sent Events stream of a job, against a running server."""

import json

import httpx
import pytest

pytestmark = pytest.mark.e2e


def events(base, headers, job_id):
    """Every `job` event of the stream, until the server ends it."""
    seen = []
    with httpx.stream("GET", f"{base}/jobs/{job_id}/events", headers=headers, timeout=120) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "job":
                seen.append(json.loads(line.split(":", 1)[1]))
    return seen


def test_waiting_jobs_know_their_place_and_the_stream_follows_one_to_the_end(live_server):
    base, headers = live_server.base, live_server.headers
    create = lambda **kw: httpx.post(f"{base}/generate", headers=headers, json={  # noqa: E731
        "prompt": "a lighthouse", "width": 256, "height": 144, **kw}).json()
    running = create(duration=2, steps=60)  # long enough to keep the single embedded worker busy
    # The stream reads the job store 4 times a second: the third job runs long enough (steps) to be seen running.
    second, third = create(duration=0.5, steps=1), create(duration=0.5, steps=20)
    get = lambda job: httpx.get(f"{base}/jobs/{job['id']}", headers=headers).json()  # noqa: E731
    assert (get(second)["queue_position"], get(third)["queue_position"]) == (1, 2)

    stream = events(base, headers, third["id"])
    statuses = [e["status"] for e in stream]
    assert statuses[0] == "queued" and statuses[-1] == "completed" and "in_progress" in statuses
    positions = [e["queue_position"] for e in stream if e["status"] == "queued"]
    assert positions == sorted(positions, reverse=True) and positions[0] == 2  # it moves up the queue
    progress = [e["progress"] for e in stream]
    assert progress == sorted(progress) and progress[-1] == 100
    assert all(e["queue_position"] is None for e in stream if e["status"] != "queued")
    done = get(running)
    assert done["status"] == "completed" and done["eta_seconds"] is None and done["queue_position"] is None


def test_a_running_job_has_an_eta(live_server):
    base, headers = live_server.base, live_server.headers
    job = httpx.post(f"{base}/generate", headers=headers, json={
        "prompt": "slow", "duration": 2, "steps": 80, "width": 256, "height": 144}).json()
    stream = events(base, headers, job["id"])
    etas = [e["eta_seconds"] for e in stream if e["status"] == "in_progress" and e["progress"] > 0]
    assert etas and all(eta >= 0 for eta in etas)


def test_another_keys_stream_is_not_found(live_server):
    base = live_server.base
    job = httpx.post(f"{base}/generate", headers=live_server.headers, json={"prompt": "mine", "duration": 0.5,
                                                                            "steps": 1}).json()
    r = httpx.get(f"{base}/jobs/{job['id']}/events", headers=live_server.other)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
