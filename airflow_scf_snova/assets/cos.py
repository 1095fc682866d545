"""The ``cos`` asset URI scheme: ``cos://<bucket>/<key or prefix>``.

Airflow calls :func:`sanitize_uri` (provider-info ``asset-uris`` ``handler``) on every
``Asset("cos://...")`` after its own normalisation (lower-case scheme, no user info, sorted
query, no fragment, trailing ``/`` removed). Here the bucket is validated and lower-cased (COS
bucket names are lower case; the SDK lower-cases them too), so ``cos://Logs-1250000000/a`` and
``cos://logs-1250000000/a`` are one asset. The key is kept verbatim: keys are case-sensitive and
may contain ``%``, spaces or non-ASCII characters.

The bucket may be short (``name``) or full (``name-appid``); the two spellings are *different*
assets, because the APPID is only known from a connection. Prefer the full name in asset URIs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scf_snova_core.names import BUCKET

if TYPE_CHECKING:
    from urllib.parse import SplitResult

    from airflow.sdk import Asset


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Validate and normalise a ``cos://`` asset URI.

    :param uri: the URI as split by Airflow.
    :raises ValueError: no bucket, an invalid bucket name, a port, or a query string.
    """
    if not uri.netloc:
        raise ValueError("URI format cos:// must contain a bucket name")
    bucket = uri.netloc.lower()
    if uri.port is not None or ":" in bucket:
        raise ValueError(f"cos:// URI {uri.geturl()!r} must not have a port")
    if not BUCKET.match(bucket):
        raise ValueError(
            f"cos:// URI {uri.geturl()!r}: {uri.netloc!r} is not a valid COS bucket name "
            "(lower-case letters, digits and '-', optionally followed by -<appid>)"
        )
    if uri.query:
        raise ValueError(f"cos:// URI {uri.geturl()!r} must not have a query string")
    return uri._replace(netloc=bucket)


def create_asset(*, bucket: str, key: str = "", extra: dict | None = None) -> Asset:
    """An ``Asset`` for ``cos://bucket/key`` (provider-info ``asset-uris`` ``factory``).

    :param bucket: the bucket, preferably ``name-appid``.
    :param key: the key or prefix.
    :param extra: the asset's extra.
    """
    from airflow.sdk import Asset

    return Asset(uri=f"cos://{bucket}/{key.lstrip('/')}", extra=extra)
