"""Fixtures of the COS emulator tests: SDK clients with other settings, and raw signed requests
that show the wire (status codes, headers) where the SDK would hide it or retry with sleeps."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_auth import CosS3Auth


@pytest.fixture
def client_for(emulator):
    """``client_for(secret_id=..., secret_key=..., retry=..., **settings)``: an SDK client with
    other credentials, retries or ``CosConfig`` settings, pointed at the same emulator."""

    def make(secret_id=None, secret_key=None, retry=3, **settings):
        cfg = emulator.config
        conf = CosConfig(
            Region=cfg.region,
            SecretId=secret_id or cfg.secret_id,
            SecretKey=secret_key or cfg.secret_key,
            Scheme="http",
            IP="127.0.0.1",
            Port=emulator.port,
            **settings,
        )
        return CosS3Client(conf, retry=retry)

    return make


@pytest.fixture
def raw(emulator):
    """``raw(method, bucket, key, params=..., headers=..., data=..., expire=...)``: one request
    over plain ``requests``, signed by the SDK's ``CosS3Auth`` exactly as the SDK signs."""
    cfg = emulator.config
    conf = CosConfig(
        Region=cfg.region,
        SecretId=cfg.secret_id,
        SecretKey=cfg.secret_key,
        Scheme="http",
        IP="127.0.0.1",
        Port=emulator.port,
    )

    def send(method, bucket, key="", params=None, headers=None, data=None, expire=10000, auth=True):
        url = f"http://127.0.0.1:{emulator.port}/{quote(key, safe='/-_.~')}"
        all_headers = {"Host": f"{bucket}.cos.{cfg.region}.myqcloud.com", **(headers or {})}
        signer = CosS3Auth(conf, key or None, params=params or {}, expire=expire) if auth else None
        return requests.request(
            method, url, params=params, headers=all_headers, data=data, auth=signer, timeout=30
        )

    return send
