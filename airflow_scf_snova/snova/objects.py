"""Which object versions a load reads: every object under a prefix, or the objects named by keys,
``cos://`` URLs or object dicts (what ``COSObjectSensor`` returns), each as a
:class:`~scf_snova_core.objects.COSObject` holding the ETag that is in COS now.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scf_snova_core.objects import normalize_etag

from airflow_scf_snova.exceptions import InvalidInputError

if TYPE_CHECKING:
    from scf_snova_core.objects import COSObject

    from airflow_scf_snova.hooks.cos import COSHook

log = logging.getLogger(__name__)


def resolve_objects(
    cos: COSHook,
    *,
    bucket: str | None = None,
    keys: Any = None,
    prefix: str | None = None,
    suffix: str | None = None,
    logger: logging.Logger | None = None,
) -> list[COSObject]:
    """The object versions to load: listed under ``prefix`` (folder markers left out), or HEADed
    from ``keys`` (so the ETag is the one in COS now, not the one a sensor saw; repeats dropped).

    :param cos: the COS hook.
    :param bucket: the bucket, ``name`` or ``name-appid``; needed with ``prefix`` and for plain
        keys.
    :param keys: plain keys, ``cos://bucket/key`` URLs or object dicts with ``bucket``/``key``
        (and ``etag``); exclusive with ``prefix``.
    :param prefix: list every object under it, in key order.
    :param suffix: with ``prefix``: only keys ending with it.
    :param logger: where to say that an object changed since it was listed.
    """
    for name, value in (("bucket", bucket), ("prefix", prefix), ("suffix", suffix)):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(f"{name} must be a string, got {value!r}")
    if prefix is not None:
        if not bucket:
            raise InvalidInputError("prefix needs bucket")
        return [
            obj
            for obj in cos.iter_objects(bucket, prefix=prefix, suffix=suffix)
            if not obj.key.endswith("/")
        ]
    items = [keys] if isinstance(keys, (str, dict)) else keys
    if not isinstance(items, (list, tuple)):
        raise InvalidInputError(f"keys must be a list, got {type(items).__name__}")
    seen: set[tuple[str, str]] = set()
    objects: list[COSObject] = []
    for item in items:
        item_bucket, key, listed_etag = _split_item(cos, item, bucket)
        full = cos.full_bucket_name(item_bucket)
        if (full, key) in seen:
            continue
        seen.add((full, key))
        obj = cos.head_object(full, key)
        if listed_etag and obj.etag != normalize_etag(listed_etag):
            (logger or log).info(
                "%s changed since it was listed (etag %s -> %s): loading the current version",
                obj.url,
                listed_etag,
                obj.etag,
            )
        objects.append(obj)
    return objects


def _split_item(cos: COSHook, item: Any, bucket: str | None) -> tuple[str, str, str | None]:
    """``(bucket, key, etag seen)`` of one entry of ``keys``."""
    etag = None
    if isinstance(item, dict):
        if "key" not in item:
            raise InvalidInputError(f"object dict {item!r} has no 'key'")
        item_bucket, key, etag = item.get("bucket") or bucket, item["key"], item.get("etag")
    elif isinstance(item, str) and item[:6].lower() == "cos://":
        item_bucket, key = cos.parse_cos_url(item)
    elif isinstance(item, str):
        item_bucket, key = bucket, item
    else:
        raise InvalidInputError(f"cannot load {item!r}: give a key, cos:// URL or object dict")
    if not isinstance(key, str) or not key or key.endswith("/"):
        raise InvalidInputError(f"{item!r} does not name an object")
    if not item_bucket:
        raise InvalidInputError(f"{item!r} names no bucket: pass bucket=")
    return item_bucket, key, etag
