"""Verifying webhook deliveries signed with the Standard Webhooks scheme (https://www.standardwebhooks.com).

The signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"``; ``webhook-signature`` holds one or more
space-separated ``v1,<base64 HMAC-SHA256>`` entries (several while a secret is being rotated); the secret is
``whsec_<base64 key>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

SECRET_PREFIX = "whsec_"


class WebhookVerificationError(Exception):
    """The delivery is not authentic, or too old (or too far in the future) to accept."""


def verify_webhook(payload: bytes, headers: Mapping[str, str], secret: str, *, tolerance_s: int = 300
                   ) -> dict[str, Any]:
    """The delivery's JSON body once its signature and timestamp check out; else ``WebhookVerificationError``.

    ``payload`` must be the raw request body, byte for byte, as received (not re-serialised JSON).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id, timestamp, signatures = (lowered.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and timestamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a Unix time") from None
    if abs(time.time() - sent_at) > tolerance_s:  # a replayed (or wrongly clocked) delivery
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise WebhookVerificationError("the secret is not whsec_ followed by base64") from None
    signed = f"{msg_id}.{timestamp}.".encode() + payload
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for entry in signatures.split():
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            try:
                body = json.loads(payload)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise WebhookVerificationError("the payload is not a JSON object")
            return body
    raise WebhookVerificationError("no signature matches")
