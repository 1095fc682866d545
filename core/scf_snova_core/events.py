"""The exact event shapes SCF's own timer and COS triggers deliver to a function.

A function written for SCF's triggers can be invoked from Airflow unchanged by passing it one of
these; the emulator builds its trigger events with the same functions. Shapes: the timer event
(https://cloud.tencent.com/document/product/583/9708) and the COS event
(https://cloud.tencent.com/document/product/583/9707).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from .names import split_bucket

#: COS short region codes, as ``cosBucket.region`` carries them.
SHORT_REGIONS = {
    "ap-guangzhou": "gz",
    "ap-shanghai": "sh",
    "ap-beijing": "bj",
    "ap-chengdu": "cd",
    "ap-chongqing": "cq",
    "ap-nanjing": "nj",
    "ap-hongkong": "hk",
    "ap-singapore": "sg",
    "ap-mumbai": "in",
    "ap-seoul": "kr",
    "ap-tokyo": "jp",
    "ap-bangkok": "th",
    "na-siliconvalley": "sv",
    "na-ashburn": "va",
    "eu-frankfurt": "de",
}


def timer_event(
    trigger_name: str, message: str = "", time_: datetime | None = None
) -> dict[str, str]:
    """The event of a timer trigger.

    :param trigger_name: the trigger's name.
    :param message: the trigger's CustomArgument, delivered as a string (never parsed).
    :param time_: the firing time; now when omitted. Sent as UTC ISO-8601 with ``Z``.
    """
    when = (time_ or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {
        "Type": "Timer",
        "TriggerName": trigger_name,
        "Time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Message": message,
    }


def cos_event(bucket: str, key: str, size: int, etag: str, region: str, **options: Any) -> dict:
    """One COS event record wrapped in ``{"Records": [...]}``, as a COS trigger delivers it.

    :param bucket: ``name-appid``, or the short name with ``appid``.
    :param key: the plain object key (no leading slash).
    :param size: object size in bytes.
    :param etag: the ETag; quotes are added when missing.
    :param region: the full region, e.g. ``ap-guangzhou``.
    :param options: the optional arguments of :func:`cos_record` (``appid``, ``event_name``,
        ``event_time``, ``content_type``, ``request_id``, ``meta``, ``function_name``, ...).
    """
    return {"Records": [cos_record(bucket, key, size, etag, region, **options)]}


def cos_record(
    bucket: str,
    key: str,
    size: int,
    etag: str,
    region: str,
    appid: str | None = None,
    event_name: str = "cos:ObjectCreated:Put",
    event_time: int | None = None,
    content_type: str = "application/octet-stream",
    request_id: str = "",
    meta: dict[str, str] | None = None,
    function_name: str = "function",
    namespace: str = "default",
    qualifier: str = "$DEFAULT",
    source_ip: str = "127.0.0.1",
    authorization: str = "",
) -> dict:
    """One element of ``Records``.

    :param bucket: ``name-appid``, or the short name with ``appid``.
    :param key: the plain object key (no leading slash).
    :param size: object size in bytes.
    :param etag: the ETag; quotes are added when missing.
    :param region: the full region, e.g. ``ap-guangzhou``.
    :param appid: the APPID when ``bucket`` is the short name.
    :param event_name: the concrete event, e.g. ``cos:ObjectCreated:Put``.
    :param event_time: epoch seconds; now when omitted.
    :param content_type: the object's Content-Type.
    :param request_id: the ``x-cos-request-id`` of the request that caused the event.
    :param meta: ``x-cos-meta-*`` headers (the prefix is added when missing).
    :param function_name: the function in ``event.eventQueue``.
    :param namespace: the function's namespace in ``event.eventQueue``.
    :param qualifier: the function's qualifier in ``event.eventQueue``.
    :param source_ip: ``requestParameters.requestSourceIP``.
    :param authorization: the Authorization header of the request.
    """
    name, appid = split_bucket(bucket, appid)
    if etag and not etag.startswith('"'):
        etag = f'"{etag}"'
    object_meta = {
        "Content-Type": content_type,
        "ETag": etag,
        "x-cos-request-id": request_id,
        "x-cos-storage-class": "Standard",
    }
    for meta_key, value in (meta or {}).items():
        header = (
            meta_key if meta_key.lower().startswith("x-cos-meta-") else f"x-cos-meta-{meta_key}"
        )
        object_meta[header.lower()] = value
    return {
        "cos": {
            "cosSchemaVersion": "1.0",
            "cosObject": {
                "key": f"/{appid}/{name}/{key}",
                "size": int(size),
                "url": (
                    f"http://{name}-{appid}.cos.{region}.myqcloud.com/{quote(key, safe='/-_.~')}"
                ),
                "vid": "",
                "meta": object_meta,
            },
            "cosBucket": {
                "name": name,
                "appid": appid,
                "region": SHORT_REGIONS.get(region, region),
                "cosRegion": region,
                "s3Region": region,
            },
            "cosNotificationId": "unkown",
        },
        "event": {
            "eventName": event_name,
            "eventVersion": "1.0",
            "eventSource": "qcs::cos",
            "eventTime": int(event_time if event_time is not None else time.time()),
            "eventQueue": (
                f"qcs:0:scf:{region}:appid/{appid}:{namespace}.{function_name}.{qualifier}"
            ),
            "requestParameters": {
                "requestSourceIP": source_ip,
                "requestHeaders": {"Authorization": authorization},
            },
            "reservedInfo": "",
            "reqid": 0,
        },
    }


def object_key_from_record(record: dict) -> tuple[str, str]:
    """``(bucket name-appid, plain key)`` from a COS event record (strips ``/appid/name/``)."""
    raw = record["cos"]["cosObject"]["key"]
    _, appid, name, key = raw.split("/", 3)
    return f"{name}-{appid}", key
