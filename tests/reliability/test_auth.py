"""The emulator refuses unsigned, wrongly signed, expired and replayed requests. Requests are
built by hand (TC3 strings signed with the SDK's own ``Sign.sign_tc3``; COS signatures made by the
SDK's ``CosS3Auth``) so that exactly one thing is wrong in each; a correctly built request is
accepted first, which shows the refusals are about that one thing."""

from __future__ import annotations

import hashlib
import json
import time
import types
from datetime import datetime, timezone

import requests
from reliability.observations import record

SERVICE = "scf"


def scf_request(emulator, secret_key=None, timestamp=None, signed=True):
    """``(headers, body)`` of a ListFunctions call, signed as TC3-HMAC-SHA256 prescribes."""
    from tencentcloud.common.sign import Sign

    cfg = emulator.config
    body = json.dumps({"Namespace": "default", "Limit": 1}).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    host = f"127.0.0.1:{emulator.port}"
    headers = {
        "Content-Type": "application/json",
        "Host": host,
        "X-TC-Action": "ListFunctions",
        "X-TC-Version": "2018-04-16",
        "X-TC-Region": cfg.region,
        "X-TC-Timestamp": str(timestamp),
    }
    if signed:
        date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
        canonical = "\n".join(
            [
                "POST",
                "/",
                "",
                f"content-type:application/json\nhost:{host}\n",
                "content-type;host",
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{date}/{SERVICE}/tc3_request"
        to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                str(timestamp),
                scope,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        signature = Sign.sign_tc3(secret_key or cfg.secret_key, date, SERVICE, to_sign)
        headers["Authorization"] = (
            f"TC3-HMAC-SHA256 Credential={cfg.secret_id}/{scope}, "
            f"SignedHeaders=content-type;host, Signature={signature}"
        )
    return headers, body


def send_scf(emulator, headers, body) -> dict:
    answer = requests.post(f"{emulator.endpoint}/", headers=headers, data=body, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    return answer.json()["Response"]


def test_scf_refuses_unsigned_wrongly_signed_expired_and_replayed_requests(emulator):
    accepted = send_scf(emulator, *scf_request(emulator))
    assert "Error" not in accepted and "Functions" in accepted

    unsigned = send_scf(emulator, *scf_request(emulator, signed=False))["Error"]
    wrong = send_scf(emulator, *scf_request(emulator, secret_key="not-the-key-0123456789"))
    expired = send_scf(emulator, *scf_request(emulator, timestamp=int(time.time()) - 600))
    assert unsigned["Code"] == "AuthFailure.InvalidAuthorization"
    assert wrong["Error"]["Code"] == "AuthFailure.SignatureFailure" and wrong["RequestId"]
    assert expired["Error"]["Code"] == "AuthFailure.SignatureExpire"

    emulator.control.reject_replays(True)
    try:
        headers, body = scf_request(emulator)
        first = send_scf(emulator, headers, body)
        replay = send_scf(emulator, headers, body)
    finally:
        emulator.control.reject_replays(False)
    assert "Error" not in first
    assert replay["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert "replay detected" in replay["Error"]["Message"]
    record("auth.scf-unsigned", f"`{unsigned['Code']}`: {unsigned['Message']}")
    record(
        "auth.scf-wrong-signature",
        f"`{wrong['Error']['Code']}` with RequestId (a correctly signed twin was accepted)",
    )
    record("auth.scf-expired", f"`{expired['Error']['Code']}`: {expired['Error']['Message']}")
    record(
        "auth.scf-replayed",
        f"first accepted; the identical second request: `{replay['Error']['Code']}`: "
        f"{replay['Error']['Message']}",
    )


def cos_get(emulator, bucket, key, auth=None) -> requests.Response:
    host = f"{bucket}.cos.{emulator.config.region}.myqcloud.com"
    return requests.get(f"{emulator.endpoint}/{key}", headers={"Host": host}, auth=auth, timeout=10)


def cos_auth(emulator, key: str, secret_key: str | None = None):
    from qcloud_cos import CosConfig
    from qcloud_cos.cos_auth import CosS3Auth

    cfg = emulator.config
    conf = CosConfig(
        Region=cfg.region,
        SecretId=cfg.secret_id,
        SecretKey=secret_key or cfg.secret_key,
        Scheme="http",
        IP="127.0.0.1",
        Port=emulator.port,
    )
    return CosS3Auth(conf, key, expire=60)


def _code(answer: requests.Response) -> str:
    from xml.etree import ElementTree

    return ElementTree.fromstring(answer.content).findtext("Code")


def test_cos_refuses_unsigned_wrongly_signed_and_expired_requests(emulator, bucket, monkeypatch):
    import qcloud_cos.cos_auth

    emulator.cos.put_object(bucket, "a.csv", b"secret data\n")
    accepted = cos_get(emulator, bucket, "a.csv", cos_auth(emulator, "a.csv"))
    assert (accepted.status_code, accepted.content) == (200, b"secret data\n")

    unsigned = cos_get(emulator, bucket, "a.csv")
    wrong = cos_get(emulator, bucket, "a.csv", cos_auth(emulator, "a.csv", "not-the-key-0123"))
    # The SDK stamps q-sign-time from its clock: set that clock two hours back, so the signature
    # it makes (valid for 60 s) ended long ago. Only the COS SDK's view of time is changed.
    past = time.time() - 7200
    monkeypatch.setattr(qcloud_cos.cos_auth, "time", types.SimpleNamespace(time=lambda: past))
    expired = cos_get(emulator, bucket, "a.csv", cos_auth(emulator, "a.csv"))
    for answer in (unsigned, wrong, expired):
        assert answer.status_code == 403 and b"secret data" not in answer.content
        assert answer.headers.get("x-cos-request-id")
    assert _code(unsigned) == "AccessDenied"
    assert _code(wrong) == "SignatureDoesNotMatch"
    assert _code(expired) == "AccessDenied" and b"expired" in expired.content
    record("auth.cos-unsigned", f"403 `{_code(unsigned)}`, with `x-cos-request-id`")
    record("auth.cos-wrong-signature", f"403 `{_code(wrong)}` (the correct twin: 200)")
    record("auth.cos-expired", f'403 `{_code(expired)}` "Request has expired"')


def test_cos_replays_are_not_refused_by_design(emulator, bucket):
    """COS signatures are valid for a window (presigned URLs are reused on purpose); replay
    rejection is an SCF (API 3.0) switch only. Pinned so the doc's statement stays true."""
    emulator.cos.put_object(bucket, "r.csv", b"x")
    auth = cos_auth(emulator, "r.csv")
    prepared = requests.Request(
        "GET",
        f"{emulator.endpoint}/r.csv",
        headers={"Host": f"{bucket}.cos.{emulator.config.region}.myqcloud.com"},
        auth=auth,
    ).prepare()
    emulator.control.reject_replays(True)
    try:
        with requests.Session() as session:
            codes = [session.send(prepared, timeout=10).status_code for _ in range(2)]
    finally:
        emulator.control.reject_replays(False)
    assert codes == [200, 200]
