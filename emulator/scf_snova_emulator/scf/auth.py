"""SCF layer ``auth``: the TC3-HMAC-SHA256 signature of Tencent Cloud API 3.0 requests.

:class:`Tc3Verifier` recomputes a request's signature the way ``tencentcloud-sdk-python``
computes it (``tencentcloud.common.sign``) and raises :class:`~.exceptions.AuthFailure` with the
code the real API answers. The SecretKey is never logged or echoed. The service calls it after
routing (:mod:`.urls`) and before the action (:mod:`.responses`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone

from .exceptions import AuthFailure

SERVICE = "scf"
ALGORITHM = "TC3-HMAC-SHA256"
#: Largest accepted distance between X-TC-Timestamp and the emulator's clock, in seconds.
MAX_SKEW = 300

_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256\s+"
    r"Credential=(?P<secret_id>[^/,\s]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/,\s]+)"
    r"/tc3_request,\s*"
    r"SignedHeaders=(?P<signed>[A-Za-z0-9;\-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def tc3_signature(
    secret_key: str,
    *,
    method: str,
    raw_query: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    payload_hash: str,
    timestamp: str,
    date: str,
    service: str = SERVICE,
) -> str:
    """The hex TC3-HMAC-SHA256 signature of a request, as the SDK computes it.

    :param headers: request headers; looked up case-insensitively by the signed names.
    :param signed_headers: lower-case header names, in the order the client listed them.
    :param payload_hash: hex SHA-256 of the body (or of ``UNSIGNED-PAYLOAD``).
    """
    canonical_headers = "".join(
        f"{name}:{(headers.get(name) or '').strip()}\n" for name in signed_headers
    )
    canonical_request = "\n".join(
        [
            method,
            "/",
            raw_query if method == "GET" else "",
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            timestamp,
            f"{date}/{service}/tc3_request",
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    key = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    key = _hmac(key, service)
    key = _hmac(key, "tc3_request")
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class Tc3Verifier:
    """Checks the Authorization of API 3.0 requests against one key pair.

    :param secret_id: the accepted SecretId.
    :param secret_key: its SecretKey (never logged or echoed).
    :param token: when set, ``X-TC-Token`` must equal it.
    :param clock: epoch seconds, replaceable in tests.
    :param service: the service of the credential scope (``scf``, ``cls``): a request signed for
        another service fails as a wrong signature does.
    :ivar reject_replays: refuse a signature already seen within the skew window. Off by default:
        the SDK signs only ``content-type;host``, the body and a one-second timestamp, so two
        identical calls in the same second (or a retry) legitimately repeat a signature.
    """

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        token: str | None = None,
        clock: Callable[[], float] = time.time,
        service: str = SERVICE,
    ) -> None:
        self._service = service
        self._secret_id = secret_id
        self._secret_key = secret_key
        self._token = token
        self._clock = clock
        self.reject_replays = False
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the signatures seen so far."""
        with self._lock:
            self._seen.clear()

    def verify(self, method: str, raw_query: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raise :class:`AuthFailure` unless the request is correctly signed.

        :param headers: the request headers (case-insensitive ``get``).
        :param body: the raw body bytes exactly as received.
        """
        match = _AUTHORIZATION.match((headers.get("Authorization") or "").strip())
        if not match:
            raise AuthFailure(
                "InvalidAuthorization",
                "Authorization header is missing or is not "
                "'TC3-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...'",
            )
        timestamp = (headers.get("X-TC-Timestamp") or "").strip()
        if not timestamp.isdigit():
            raise AuthFailure("InvalidAuthorization", "X-TC-Timestamp must be epoch seconds")
        now = self._clock()
        if abs(now - int(timestamp)) > MAX_SKEW:
            raise AuthFailure(
                "SignatureExpire",
                f"the request timestamp {timestamp} is more than {MAX_SKEW} s away from the "
                f"server time {int(now)}",
            )
        expected_date = datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%d")
        if match.group("date") != expected_date:
            raise AuthFailure(
                "SignatureExpire",
                f"the credential date {match.group('date')} does not match X-TC-Timestamp "
                f"({expected_date})",
            )
        if match.group("secret_id") != self._secret_id:
            raise AuthFailure("SecretIdNotFound", "the SecretId is not found")
        if (headers.get("X-TC-Content-SHA256") or "") == "UNSIGNED-PAYLOAD":
            payload_hash = hashlib.sha256(b"UNSIGNED-PAYLOAD").hexdigest()
        else:
            payload_hash = hashlib.sha256(body).hexdigest()
        signed = [name.lower() for name in match.group("signed").split(";") if name]
        expected = tc3_signature(
            self._secret_key,
            method=method,
            raw_query=raw_query,
            headers=headers,
            signed_headers=signed,
            payload_hash=payload_hash,
            timestamp=timestamp,
            date=match.group("date"),
            service=self._service,
        )
        signature = match.group("signature")
        if match.group("service") != self._service or not hmac.compare_digest(expected, signature):
            raise AuthFailure(
                "SignatureFailure",
                "the provided signature does not match the one computed by the server; check "
                "the SecretKey and the signing procedure",
            )
        if self._token is not None and (headers.get("X-TC-Token") or "") != self._token:
            raise AuthFailure("TokenFailure", "X-TC-Token is missing or invalid")
        if self.reject_replays:
            self._check_replay(signature, int(timestamp), now)

    def _check_replay(self, signature: str, timestamp: int, now: float) -> None:
        with self._lock:
            for old, expiry in list(self._seen.items()):
                if expiry < now:
                    del self._seen[old]
            if signature in self._seen:
                raise AuthFailure(
                    "SignatureFailure",
                    "replay detected: this signature was already used; sign every request anew",
                )
            self._seen[signature] = timestamp + MAX_SKEW
