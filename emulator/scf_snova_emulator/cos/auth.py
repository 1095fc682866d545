"""COS layer ``auth``: verify the COS request signature (``q-sign-algorithm=sha1``) the way
``qcloud_cos.cos_auth.CosS3Auth`` computes it.

The Authorization header (or, for presigned URLs, the query string) carries::

    q-sign-algorithm=sha1&q-ak=<SecretId>&q-sign-time=<t0>;<t1>&q-key-time=<t0>;<t1>
    &q-header-list=<names;...>&q-url-param-list=<names;...>&q-signature=<hex>

and the server recomputes::

    HttpString   = "<method lower>\\n<decoded path>\\n<k=v&... sorted>\\n<h=v&... sorted>\\n"
    StringToSign = "sha1\\n<q-sign-time>\\n" + sha1_hex(HttpString) + "\\n"
    SignKey      = hmac_sha1_hex(SecretKey, q-key-time)
    Signature    = hmac_sha1_hex(SignKey, StringToSign)

Names are lower-cased; values are ``quote(value, safe="-_.~")`` (so ``/`` is encoded). The SecretKey
never leaves this module, and no error message carries it or the computed signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from email.message import Message
from urllib.parse import quote

from .exceptions import (
    AccessDenied,
    InvalidAccessKeyId,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)

_FIELDS = ("q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list",
           "q-url-param-list", "q-signature")  # fmt: skip
_SAFE = "-_.~"


def _encode(value: str) -> str:
    # Header values reach http.server as latin-1-decoded bytes; re-encoding gives the wire bytes,
    # which is what the SDK quoted (UTF-8 for non-ASCII metadata).
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raw = value.encode("utf-8")
    return quote(raw, safe=_SAFE)


def parse_authorization(value: str) -> dict[str, str]:
    """Split an Authorization value into its ``q-*`` fields (missing fields are absent)."""
    fields: dict[str, str] = {}
    for item in value.strip().split("&"):
        name, sep, field = item.partition("=")
        if sep and name in _FIELDS:
            fields[name] = field
    return fields


def _credentials(headers: Message, query: Mapping[str, str]) -> tuple[dict[str, str], bool]:
    """The ``q-*`` fields, from the Authorization header or (presigned URL) the query string."""
    header = headers.get("Authorization") or ""
    if header.strip():
        return parse_authorization(header), False
    if "q-sign-algorithm" in query:
        return {name: query[name] for name in _FIELDS if name in query}, True
    raise AccessDenied("Access Denied. The request is anonymous and the bucket is private.")


def _window(value: str) -> tuple[int, int]:
    start, sep, end = value.partition(";")
    if not sep:
        raise ValueError(value)
    return int(start), int(end)


def string_to_sign(
    method: str,
    path: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    sign_time: str,
) -> str:
    """The StringToSign for already lower-cased, already quoted ``params`` and ``headers``."""
    http_string = "{}\n{}\n{}\n{}\n".format(
        method.lower(),
        path,
        "&".join(f"{k}={v}" for k, v in sorted(params.items())),
        "&".join(f"{k}={v}" for k, v in sorted(headers.items())),
    )
    digest = hashlib.sha1(http_string.encode("utf-8")).hexdigest()
    return f"sha1\n{sign_time}\n{digest}\n"


def signature(secret_key: str, key_time: str, to_sign: str) -> str:
    """``hex(HMAC_SHA1(hex(HMAC_SHA1(SecretKey, q-key-time)), StringToSign))``."""
    sign_key = hmac.new(secret_key.encode(), key_time.encode(), hashlib.sha1).hexdigest()
    return hmac.new(sign_key.encode(), to_sign.encode(), hashlib.sha1).hexdigest()


def _host_candidates(host: str) -> list[str]:
    # The SDK signs the explicit Host header (IP mode) or the URL's hostname without the port.
    candidates = [host]
    if ":" in host and not host.endswith("]"):
        candidates.append(host.rsplit(":", 1)[0])
    return candidates


def verify(
    *,
    method: str,
    paths: Iterable[str],
    query: Mapping[str, str],
    headers: Message,
    secret_id: str,
    secret_key: str,
    token: str | None = None,
    now: float | None = None,
) -> str:
    """Check a request's signature; return the SecretId (``q-ak``) that signed it.

    :param method: the HTTP method.
    :param paths: the decoded paths the client may have signed (``/<key>``, or ``/``).
    :param query: the decoded query parameters.
    :param headers: the request headers.
    :param secret_id: the only SecretId the emulator knows.
    :param secret_key: its SecretKey.
    :param token: when set, ``x-cos-security-token`` must carry it.
    :param now: the current epoch time (tests).
    :raises AccessDenied: anonymous or malformed authorization, or an expired signature.
    :raises RequestTimeTooSkewed: a signature whose validity starts in the future.
    :raises InvalidAccessKeyId: an unknown SecretId, or a wrong or missing session token.
    :raises SignatureDoesNotMatch: the signature does not verify.
    """
    fields, presigned = _credentials(headers, query)
    missing = [name for name in _FIELDS if name not in fields]
    if missing or fields["q-sign-algorithm"].lower() != "sha1":
        raise AccessDenied("Access Denied. The Authorization is malformed.")
    if fields["q-ak"] != secret_id:
        raise InvalidAccessKeyId()
    if token is not None:
        sent = headers.get("x-cos-security-token") or query.get("x-cos-security-token")
        if sent is None or not hmac.compare_digest(sent.encode(), token.encode()):
            raise InvalidAccessKeyId("The security token you provided is invalid.")
    try:
        start, end = _window(fields["q-sign-time"])
        _window(fields["q-key-time"])
    except ValueError as err:
        raise AccessDenied("Access Denied. q-sign-time is malformed.") from err
    current = time.time() if now is None else now
    if current > end:
        raise AccessDenied("Request has expired")
    if current < start:
        raise RequestTimeTooSkewed()

    query_lower = {k.lower(): v for k, v in query.items()}
    params: dict[str, str] = {}
    for name in filter(None, fields["q-url-param-list"].split(";")):
        value = query_lower.get(name)
        if value is None or (presigned and name in _FIELDS):
            raise SignatureDoesNotMatch()
        params[name] = quote(value.encode("utf-8"), safe=_SAFE)

    signed_headers: dict[str, str] = {}
    host_signed = False
    for name in filter(None, fields["q-header-list"].split(";")):
        if name == "host":
            host_signed = True
            continue
        value = headers.get(name)
        if value is None:
            raise SignatureDoesNotMatch()
        signed_headers[name] = _encode(value)

    expected = fields["q-signature"].lower().encode()
    hosts = _host_candidates(headers.get("Host", "")) if host_signed else [None]
    for host in hosts:
        candidate_headers = dict(signed_headers)
        if host is not None:
            candidate_headers["host"] = _encode(host)
        for path in paths:
            to_sign = string_to_sign(method, path, params, candidate_headers, fields["q-sign-time"])
            computed = signature(secret_key, fields["q-key-time"], to_sign)
            if hmac.compare_digest(computed.encode(), expected):
                return fields["q-ak"]
    raise SignatureDoesNotMatch()
