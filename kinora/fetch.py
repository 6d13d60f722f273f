"""Fetch a user-given http(s) URL without letting it reach inside the operator's network.

Every hop is checked after DNS resolution: a host that resolves to any private, loopback, link-local,
metadata or otherwise non-public address is refused, and the connection goes to the address that was
checked (the Host header and TLS name stay the original), so a DNS answer cannot change in between.
Redirects are followed by hand, each one checked the same way.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

MAX_REDIRECTS = 3

Resolver = Callable[[str, int], list[str]]


class FetchRefused(Exception):
    """The URL may not be fetched, or fetching it failed. ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str | None
    url: str


def address_allowed(address: str) -> bool:
    """Only globally routable unicast addresses; IPv4-mapped IPv6 is judged by its IPv4 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchRefused("url_unresolvable", f"cannot resolve {host!r}") from exc
    return sorted({info[4][0] for info in infos})


def checked_address(url: str, resolver: Resolver) -> tuple[str, str, int]:
    """(host, address to connect to, port) for a URL that may be fetched, else FetchRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("url_not_allowed", "only http and https URLs with a host are accepted")
    if parts.username or parts.password:
        raise FetchRefused("url_not_allowed", "URLs with credentials are not accepted")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolver(parts.hostname, port)
    if not addresses or not all(address_allowed(a) for a in addresses):
        raise FetchRefused("url_not_allowed", f"{parts.hostname} is not a public internet address")
    return parts.hostname, addresses[0], port


def pinned_request(client: httpx.Client, method: str, url: str, resolver: Resolver = resolve,
                   headers: dict[str, str] | None = None, **kwargs: object) -> httpx.Request:
    """A request for ``url`` addressed to the IP that was just checked, with the original Host and TLS name."""
    host, address, port = checked_address(url, resolver)
    parts = urlsplit(url)
    pinned = parts._replace(netloc=f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
    return client.build_request(method, pinned.geturl(), headers={**(headers or {}), "Host": parts.netloc},
                                extensions={"sni_hostname": host}, **kwargs)  # type: ignore[arg-type]


def fetch_url(url: str, *, max_bytes: int, timeout: float = 10.0, resolver: Resolver = resolve,
              transport: httpx.BaseTransport | None = None) -> Fetched:
    with httpx.Client(timeout=timeout, follow_redirects=False, transport=transport) as client:
        for _ in range(MAX_REDIRECTS + 1):
            request = pinned_request(client, "GET", url, resolver)
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise FetchRefused("url_fetch_failed", f"fetching the URL failed: {type(exc).__name__}") from exc
            try:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise FetchRefused("url_fetch_failed", f"the URL answered HTTP {response.status_code}")
                return Fetched(data=_read_capped(response, max_bytes), url=url,
                               content_type=response.headers.get("content-type"))
            finally:
                response.close()
    raise FetchRefused("url_fetch_failed", f"more than {MAX_REDIRECTS} redirects")


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    data = bytearray()
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > max_bytes:
                raise FetchRefused("media_too_large", f"the file at the URL exceeds {max_bytes} bytes")
    except httpx.HTTPError as exc:
        raise FetchRefused("url_fetch_failed", f"reading the URL failed: {type(exc).__name__}") from exc
    return bytes(data)
