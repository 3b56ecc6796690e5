"""Documents of a fax submitted by API: uploaded files, base64 content, or URLs fetched
with care (http(s) only, size-capped, no private addresses unless allowed)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import requests

from umfax.api.errors import ApiError
from umfax.config import ApiConfig
from umfax.errors import describe_error
from umfax.store import DocumentIn

MAX_REDIRECTS = 3


def from_base64(filename: str, content: str, content_type: str = "") -> DocumentIn:
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(422, f"document {filename!r}: content_base64 is not valid base64") from exc
    if not data:
        raise ApiError(422, f"document {filename!r} is empty")
    return DocumentIn(filename or "document", data, content_type)


def _public_address(host: str, port: int) -> None:
    """Refuse a host that resolves to a loopback, private, link-local or reserved address."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ApiError(422, f"cannot resolve {host!r}: {exc.strerror}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise ApiError(
                422,
                f"{host} resolves to {address}, a private or local address; documents are only "
                "fetched from public addresses (set [api] allow_private_urls to change this)",
            )


def fetch(url: str, config: ApiConfig, limit: int) -> DocumentIn:
    """GET ``url`` (following at most a few redirects, each checked) into a document."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(422, f"document URL {url!r}: only http and https URLs are fetched")
        if not config.allow_private_urls:
            _public_address(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        try:
            response = requests.get(url, stream=True, timeout=config.fetch_timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise ApiError(422, f"cannot fetch {url}: {describe_error(exc)}") from exc
        with response:
            if response.is_redirect:
                url = urljoin(url, response.headers.get("location", ""))
                continue
            if response.status_code != 200:
                raise ApiError(422, f"fetching {url} gave HTTP {response.status_code}")
            data = bytearray()
            for chunk in response.iter_content(65536):
                data += chunk
                if len(data) > limit:
                    raise ApiError(413, f"the document at {url} is larger than {limit:,} bytes")
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if not data:
            raise ApiError(422, f"the document at {url} is empty")
        name = parts.path.rsplit("/", 1)[-1] or parts.hostname
        return DocumentIn(name, bytes(data), content_type)
    raise ApiError(422, f"document URL {url!r}: more than {MAX_REDIRECTS} redirects")
