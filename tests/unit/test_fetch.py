"""URL inputs: private, loopback, link-local and metadata addresses are refused, on every redirect too."""

import httpx
import pytest

from kinora.fetch import FetchRefused, address_allowed, checked_address, fetch_url


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::",
])
def test_non_public_addresses_are_refused(address):
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert address_allowed(address)


@pytest.mark.parametrize("url", [
    "http://localhost/x.png", "http://127.0.0.1:8080/x.png", "http://[::1]/x.png", "file:///etc/passwd",
    "ftp://example.com/x.png", "http://user:pw@example.com/x.png", "gopher://x/",
])
def test_urls_to_local_places_or_odd_schemes_are_refused(url):
    with pytest.raises(FetchRefused) as info:
        checked_address(url, lambda host, port: ["127.0.0.1"] if host == "localhost" else [host.strip("[]")])
    assert info.value.code == "url_not_allowed"


def test_a_host_with_any_private_answer_is_refused():
    with pytest.raises(FetchRefused):
        checked_address("http://mixed.test/x", lambda host, port: ["93.184.215.14", "10.0.0.1"])


def test_a_redirect_to_the_metadata_address_is_refused_before_it_is_requested():
    # No internet here: the public host is simulated by httpx's MockTransport (the only stand-in).
    requested = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append((request.url.host, request.headers["host"]))
        return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data"})

    resolver = {"public.test": ["93.184.215.14"], "169.254.169.254": ["169.254.169.254"]}
    with pytest.raises(FetchRefused) as info:
        fetch_url("http://public.test/cat.png", max_bytes=1000, resolver=lambda h, p: resolver[h],
                  transport=httpx.MockTransport(handler))
    assert info.value.code == "url_not_allowed"
    # one request, to the checked address, with the original Host header
    assert requested == [("93.184.215.14", "public.test")]


def test_a_body_over_the_limit_is_refused():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 5000))
    with pytest.raises(FetchRefused) as info:
        fetch_url("https://public.test/big", max_bytes=1000, resolver=lambda h, p: ["93.184.215.14"],
                  transport=transport)
    assert info.value.code == "media_too_large"


def test_a_webhook_goes_to_the_checked_address_and_is_signed():
    # A public receiver is simulated by httpx's MockTransport (no internet here).
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    from kinora.webhooks import Delivery, send

    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    delivery = Delivery(id="msg_1", job_id="job_1", owner="key_1", event="completed", url="https://hooks.test/k",
                        payload={"type": "job.completed", "data": {"id": "job_1"}}, created_at=datetime.now(UTC))
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        attempt, ok = send(delivery, secret, client, allow_private=False, resolver=lambda h, p: ["93.184.215.14"])
    assert ok and attempt.status_code == 204
    request, = seen
    assert request.url.host == "93.184.215.14" and request.headers["host"] == "hooks.test"
    assert Webhook(secret).verify(request.content, dict(request.headers)) == delivery.payload
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        attempt, ok = send(delivery, secret, client, allow_private=False, resolver=lambda h, p: ["10.0.0.7"])
    assert not ok and attempt.status_code is None and "FetchRefused" in attempt.error and len(seen) == 1
