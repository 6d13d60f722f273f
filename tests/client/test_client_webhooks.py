"""verify_webhook: the Standard Webhooks scheme, with a published vector and one built here with hmac."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from types import SimpleNamespace

import pytest
from kinora_client import WebhookVerificationError, verify_webhook
from kinora_client import webhooks as webhooks_module

SECRET = "whsec_" + base64.b64encode(b"kinora-test-webhook-key-32-bytes").decode()
BODY = json.dumps({"type": "job.completed", "data": {"id": "job_1", "status": "completed"}}).encode()


def signed(body: bytes = BODY, *, secret: str = SECRET, timestamp: int | None = None,
           msg_id: str = "msg_1") -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(mac).decode()}


def test_the_published_standard_webhooks_vector(monkeypatch):
    monkeypatch.setattr(webhooks_module, "time", SimpleNamespace(time=lambda: 1614265330 + 10))
    headers = {"Webhook-Id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "Webhook-Timestamp": "1614265330",
               "Webhook-Signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}  # names in any case
    assert verify_webhook(b'{"test": 2432232314}', headers, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == {
        "test": 2432232314}


def test_a_vector_built_with_hmac_verifies_and_returns_the_payload():
    assert verify_webhook(BODY, signed(), SECRET)["data"]["id"] == "job_1"
    rotated = signed()
    rotated["webhook-signature"] = "v1,bm90IHRoaXMgb25l " + rotated["webhook-signature"]  # one of several
    assert verify_webhook(BODY, rotated, SECRET)["type"] == "job.completed"


@pytest.mark.parametrize("case", ["tampered", "wrong secret", "old", "future", "missing header", "v2 only"])
def test_forgeries_and_replays_are_refused(case):
    headers, body, secret = signed(), BODY, SECRET
    if case == "tampered":
        body = BODY.replace(b"completed", b"failed")
    elif case == "wrong secret":
        secret = "whsec_" + base64.b64encode(b"another key entirely, 32 bytes!!").decode()
    elif case == "old":
        headers = signed(timestamp=int(time.time()) - 301)
    elif case == "future":
        headers = signed(timestamp=int(time.time()) + 301)
    elif case == "missing header":
        del headers["webhook-id"]
    else:
        headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, secret)


def test_the_tolerance_is_configurable():
    headers = signed(timestamp=int(time.time()) - 3600)
    assert verify_webhook(BODY, headers, SECRET, tolerance_s=7200)["type"] == "job.completed"
