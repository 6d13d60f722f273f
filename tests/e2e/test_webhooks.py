"""Webhooks from a running server to a real HTTP receiver: signed, retried, recorded, redeliverable."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import free_port, wait_until
from tests.processes import create_key, kinora_env, serving

pytestmark = pytest.mark.e2e
FAST = {"duration": 0.5, "steps": 1, "width": 256, "height": 144}


class Receiver:
    """Records every POST; answers the first `fail_first` of them with 500."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.fail_first = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                failing = len(outer.received) <= outer.fail_first
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def events(self):
        return [json.loads(body)["type"] for _, body in self.received]


@pytest.fixture(scope="module")
def hooks(tmp_path_factory):
    root = tmp_path_factory.mktemp("hooks")
    # Receivers run on this machine, so private addresses are allowed here; retries come fast for the test.
    env = kinora_env(data_dir=root / "data", webhook_allow_private="true", webhook_retry_s="[0.3, 0.3]")
    port = free_port()
    receiver = Receiver()
    with serving(env, port, root / "serve.log"):
        key = create_key(env, "hooks")
        yield SimpleNamespace(base=f"http://localhost:{port}", headers={"Authorization": f"Bearer {key}"},
                              receiver=receiver)
    receiver.httpd.shutdown()


def finished(hooks, job_id):
    return wait_until(lambda: (j := httpx.get(f"{hooks.base}/jobs/{job_id}", headers=hooks.headers).json())[
        "status"] in ("completed", "failed", "cancelled") and j, 60, what=job_id)


def deliveries(hooks, job_id):
    return httpx.get(f"{hooks.base}/jobs/{job_id}/webhooks", headers=hooks.headers).json()["data"]


def test_events_arrive_signed_in_order(hooks):
    hooks.receiver.received.clear()
    job = httpx.post(f"{hooks.base}/generate", headers=hooks.headers, json={
        "prompt": "fireworks", **FAST, "webhook_url": hooks.receiver.url,
        "webhook_events": ["started", "progress", "completed"]}).json()
    assert job["webhook"] == {"url": hooks.receiver.url, "events": ["completed", "progress", "started"]}
    finished(hooks, job["id"])
    wait_until(lambda: "job.completed" in hooks.receiver.events(), 10, what="the completed event")
    events = hooks.receiver.events()
    assert events[0] == "job.started" and events[-1] == "job.completed" and "job.progress" in events
    secret = httpx.get(f"{hooks.base}/webhooks/secret", headers=hooks.headers).json()["secret"]
    for headers, body in hooks.receiver.received:
        payload = Webhook(secret).verify(body, headers)  # raises if the signature or timestamp is wrong
        assert payload["data"]["id"] == job["id"]
    completed = json.loads(hooks.receiver.received[-1][1])["data"]
    assert completed["status"] == "completed" and completed["output"]["url"].endswith(f"/jobs/{job['id']}/content")
    assert "uri" not in completed["output"]
    with pytest.raises(Exception):  # noqa: B017 - any verification error: a wrong secret must not pass
        Webhook("whsec_" + "A" * 32).verify(hooks.receiver.received[-1][1], hooks.receiver.received[-1][0])


def test_failures_are_retried_and_recorded_then_redelivered_on_demand(hooks):
    hooks.receiver.received.clear()
    hooks.receiver.fail_first = 2
    job = httpx.post(f"{hooks.base}/generate", headers=hooks.headers, json={
        "prompt": "rain", **FAST, "webhook_url": hooks.receiver.url}).json()
    finished(hooks, job["id"])
    wait_until(lambda: deliveries(hooks, job["id"])[0]["status"] == "delivered", 15, what="delivery")
    delivery, = deliveries(hooks, job["id"])
    assert delivery["event"] == "completed"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 204]
    ids = {h["webhook-id"] for h, _ in hooks.receiver.received}
    assert ids == {delivery["id"]}  # one event, three attempts, one id to deduplicate on

    r = httpx.post(f"{hooks.base}/jobs/{job['id']}/webhooks/{delivery['id']}/redeliver", headers=hooks.headers)
    assert r.status_code == 202 and r.json()["status"] == "pending"
    wait_until(lambda: len(deliveries(hooks, job["id"])[0]["attempts"]) == 4, 10, what="the redelivery")
    assert deliveries(hooks, job["id"])[0]["status"] == "delivered" and len(hooks.receiver.received) == 4


def test_a_receiver_that_keeps_failing_ends_as_failed_after_the_schedule(hooks):
    hooks.receiver.received.clear()
    hooks.receiver.fail_first = 100
    job = httpx.post(f"{hooks.base}/generate", headers=hooks.headers, json={
        "prompt": "snow", **FAST, "webhook_url": hooks.receiver.url}).json()
    finished(hooks, job["id"])
    wait_until(lambda: deliveries(hooks, job["id"])[0]["status"] == "failed", 15, what="giving up")
    assert len(deliveries(hooks, job["id"])[0]["attempts"]) == 3  # first try + the two scheduled retries
    hooks.receiver.fail_first = 0


def test_a_cancelled_queued_job_notifies_too(hooks):
    hooks.receiver.received.clear()
    busy = httpx.post(f"{hooks.base}/generate", headers=hooks.headers, json={"prompt": "busy", **FAST,
                                                                              "duration": 2, "steps": 40}).json()
    job = httpx.post(f"{hooks.base}/generate", headers=hooks.headers, json={
        "prompt": "never", **FAST, "webhook_url": hooks.receiver.url}).json()
    httpx.post(f"{hooks.base}/jobs/{job['id']}/cancel", headers=hooks.headers)
    wait_until(lambda: hooks.receiver.events() == ["job.cancelled"], 10, what="the cancelled event")
    finished(hooks, busy["id"])


@pytest.mark.parametrize(("body", "code"), [
    ({"webhook_url": "ftp://example.com/x"}, "url_not_allowed"),
    ({"webhook_events": ["completed"]}, "invalid_request"),
    ({"webhook_url": "https://example.com/x", "webhook_events": ["exploded"]}, "invalid_request"),
])
def test_bad_webhook_settings_are_refused(hooks, body, code):
    r = httpx.post(f"{hooks.base}/generate", headers=hooks.headers, json={"prompt": "x", **body})
    assert r.status_code == 422 and r.json()["error"]["code"] == code


def test_private_receivers_are_refused_unless_the_operator_allows_them(live_server):
    for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://[::1]/x"):
        r = httpx.post(f"{live_server.base}/generate", headers=live_server.headers,
                       json={"prompt": "x", "webhook_url": url})
        assert r.status_code == 422 and r.json()["error"]["code"] == "url_not_allowed", url
