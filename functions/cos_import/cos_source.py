"""COS access for the import function: one client from the function's environment.

Credentials: ``COS_SECRET_ID``/``COS_SECRET_KEY`` (and ``COS_SESSION_TOKEN``), or, when those are
empty, the temporary credentials SCF injects for the function's execution role
(``TENCENTCLOUD_SECRETID``/``TENCENTCLOUD_SECRETKEY``/``TENCENTCLOUD_SESSIONTOKEN``).
``COS_ENDPOINT`` (``http://127.0.0.1:9100``) points the SDK at the offline emulator; leave it
empty on Tencent Cloud.
"""

import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from scf_snova_core.objects import COSObject


@dataclass(frozen=True)
class CosSettings:
    """Where COS is and how to sign requests (secrets are excluded from ``repr``)."""

    region: str
    secret_id: str = field(repr=False)
    secret_key: str = field(repr=False)
    token: str = field(default="", repr=False)
    endpoint: str = ""

    @classmethod
    def from_environ(cls, env):
        secret_id = env.get("COS_SECRET_ID") or ""
        secret_key = env.get("COS_SECRET_KEY") or ""
        token = env.get("COS_SESSION_TOKEN") or ""
        if not secret_id:  # the execution role's temporary credentials
            secret_id = env.get("TENCENTCLOUD_SECRETID") or ""
            secret_key = env.get("TENCENTCLOUD_SECRETKEY") or ""
            token = env.get("TENCENTCLOUD_SESSIONTOKEN") or ""
        region = env.get("COS_REGION") or env.get("TENCENTCLOUD_REGION") or ""
        if not (secret_id and secret_key and region):
            raise RuntimeError(
                "COS is not configured: set COS_REGION and COS_SECRET_ID/COS_SECRET_KEY, or bind "
                "an execution role to the function"
            )
        return cls(region, secret_id, secret_key, token, env.get("COS_ENDPOINT") or "")

    @property
    def secrets(self):
        return tuple(s for s in (self.secret_key, self.token) if s)


class CosSource:
    """Head, list and stream objects with ``cos-python-sdk-v5``."""

    def __init__(self, settings):
        from qcloud_cos import CosConfig, CosS3Client

        # The SDK logs every request at INFO; the function's log is for what it did.
        logging.getLogger("qcloud_cos").setLevel(logging.WARNING)
        self.settings = settings
        kwargs = {
            "Region": settings.region,
            "SecretId": settings.secret_id,
            "SecretKey": settings.secret_key,
            "Token": settings.token or None,
        }
        if settings.endpoint:
            url = urlsplit(settings.endpoint)
            kwargs.update(
                Scheme=url.scheme,
                IP=url.hostname,
                Port=url.port or (80 if url.scheme == "http" else 443),
            )
        else:
            kwargs["Scheme"] = "https"
        self.client = CosS3Client(CosConfig(**kwargs), retry=3)

    def head(self, bucket, key):
        """The object's current version, as a ``COSObject`` (ETag without quotes)."""
        return COSObject.from_head(bucket, key, self.client.head_object(Bucket=bucket, Key=key))

    def open(self, bucket, key):
        """The object's bytes as a ``read(n)`` stream (constant memory)."""
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream()

    def list(self, bucket, prefix, page_size=1000):
        """Every object under ``prefix`` (``COSObject``), in key order, one page in memory at a
        time."""
        marker = ""
        while True:
            page = self.client.list_objects(
                Bucket=bucket, Prefix=prefix, Marker=marker, MaxKeys=page_size
            )
            contents = page.get("Contents") or []
            for entry in contents:
                yield COSObject.from_listing(bucket, entry)
            if str(page.get("IsTruncated", "false")).lower() != "true" or not contents:
                return
            marker = page.get("NextMarker") or contents[-1]["Key"]
