"""SCF function: post each new COS object as an Airflow asset event (the COS-to-asset bridge).

A COS trigger (``cos:ObjectCreated:*``, with the bucket's prefix and suffix filter) invokes it
with one or more records. For each record it posts one event to Airflow's REST API
(``POST /api/v2/assets/events``) on the asset ``AIRFLOW_ASSET_URI``, whose ``extra`` is::

    {"payload": {"bucket", "key", "etag", "size", "last_modified", "url", "previous_etag"},
     "idempotency_key": K, "source": "scf-cos-asset-bridge", "scf_request_id": ...}

``payload`` has the keys, and the value formats, of the events ``COSObjectEventTrigger`` emits
(``etag`` without quotes, ``last_modified`` ISO 8601 in UTC, ``url`` ``cos://bucket/key``,
``previous_etag`` ``None``), so a DAG scheduled on the asset reads ``event.extra["payload"]`` the
same way whichever of the two announced the object.

**Idempotency.** ``K`` is the SHA-256 (32 hex digits) of ``bucket/key``, the ETag and the upload's
``x-cos-request-id``. An SCF retry of a failed attempt, and a second delivery of the same COS
event, carry the same record, hence the same ``K``; a new upload of the same bytes has a new
request id, hence a new ``K`` and a new event. Before posting, the function lists the asset's
events from ``eventTime - AIRFLOW_DEDUPE_WINDOW`` on and skips the record when one carries
``K``: an earlier attempt that posted before failing is not posted again. Two deliveries running
*at the same time* can both find nothing and both post (the endpoint has no unique constraint);
see ``docs/push.md`` ("Failure model").

**Authentication.** ``POST /auth/token`` with ``AIRFLOW_API_USERNAME`` and
``AIRFLOW_API_PASSWORD`` gives a JWT, kept in the warm instance until 60 s before its ``exp``;
a 401 fetches a new one and repeats the request once. The asset's id is looked up once per
instance (``GET /api/v2/assets?uri_pattern=``, exact match).

Environment (set by ``SCFDeployCOSAssetBridgeOperator`` from an Airflow connection):

=============================  ===============================================================
``AIRFLOW_API_URL``            the api-server's base URL, e.g. ``https://airflow.internal:8080``
``AIRFLOW_API_USERNAME``       the bridge's Airflow user (asset events: create and read)
``AIRFLOW_API_PASSWORD``       its password
``AIRFLOW_ASSET_URI``          the asset as Airflow stores it, e.g. ``cos://bucket-1250000000/in``
``AIRFLOW_API_TIMEOUT``        seconds per HTTP request (default 10)
``AIRFLOW_DEDUPE_WINDOW``      seconds before ``eventTime`` from which earlier posts are looked
                               for (default 300: clock skew between SCF and the api-server)
=============================  ===============================================================

Returns ``{"posted": n, "duplicates": d, "ignored": i, "asset_id": id}``, or
``{"skipped": "no such asset", ...}`` when Airflow has no such asset (no DAG uses it yet: a
retry would not help). Any other HTTP or network error raises, so SCF retries the invocation.

Stdlib only, Python 3.9 (SCF's runtime); ``scf_snova_core`` is copied into the package.
"""

import base64
import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

from scf_snova_core.events import object_key_from_record
from scf_snova_core.objects import normalize_etag

SOURCE = "scf-cos-asset-bridge"
PAGE = 100
#: A test hook (``tests/system/test_cos_push_bridge.py``), never set by the operator: with
#: ``1``, an invocation that posted an event then fails, so SCF retries it.
FAIL_AFTER_POST = "AIRFLOW_BRIDGE_TEST_FAIL_AFTER_POST"
#: Seconds between attempts to list the events while Airflow answers 500 (see _list_events).
LISTING_RETRY_DELAYS = (0.5, 1, 2, 4)
#: Seconds before a token's ``exp`` at which it is replaced.
TOKEN_MARGIN = 60

#: Kept while the instance is warm: ``(url, username) -> (token, expires at)``, ``(url, uri) ->
#: asset id``.
_tokens = {}
_asset_ids = {}


class AirflowAPIError(Exception):
    """An HTTP error status from the api-server (SCF retries the invocation)."""

    def __init__(self, method, path, status, body):
        super().__init__(f"{method} {path}: HTTP {status}: {body[:300]}")
        self.status = status


class Settings:
    """The function's environment."""

    def __init__(self, environ):
        try:
            self.url = environ["AIRFLOW_API_URL"].rstrip("/")
            self.username = environ["AIRFLOW_API_USERNAME"]
            self.password = environ["AIRFLOW_API_PASSWORD"]
            self.asset_uri = environ["AIRFLOW_ASSET_URI"]
        except KeyError as err:
            raise RuntimeError(f"the bridge needs the environment variable {err}") from err
        self.timeout = float(environ.get("AIRFLOW_API_TIMEOUT") or 10)
        self.window = float(environ.get("AIRFLOW_DEDUPE_WINDOW") or 300)


def idempotency_key(bucket, key, etag, request_id):
    """The key shared by every delivery of one upload's event, and only by them."""
    text = f"{bucket}/{key}\n{normalize_etag(etag)}\n{request_id}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _http(settings, method, path, token=None, body=None):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(settings.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        text = err.read().decode("utf-8", "replace")
        raise AirflowAPIError(method, path, err.code, text) from err


def _token_expiry(token):
    """The JWT's ``exp`` (epoch seconds), read without verifying; 5 minutes from now if none."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return time.time() + 300


def _token(settings, fresh=False):
    cache_key = (settings.url, settings.username)
    cached = _tokens.get(cache_key)
    if cached and not fresh and cached[1] - TOKEN_MARGIN > time.time():
        return cached[0]
    body = {"username": settings.username, "password": settings.password}
    token = _http(settings, "POST", "/auth/token", body=body)["access_token"]
    _tokens[cache_key] = (token, _token_expiry(token))
    return token


def _api(settings, method, path, body=None):
    """A request with the cached token; on 401 a new token and one more try."""
    try:
        return _http(settings, method, path, _token(settings), body)
    except AirflowAPIError as err:
        if err.status != 401:
            raise
    return _http(settings, method, path, _token(settings, fresh=True), body)


def _asset_id(settings):
    """The asset's id, or ``None`` when Airflow has no asset with exactly this URI."""
    cache_key = (settings.url, settings.asset_uri)
    if cache_key not in _asset_ids:
        # Inactive too: the scheduler marks a new asset active only on its next clean-up pass.
        query = urllib.parse.urlencode(
            {"uri_pattern": settings.asset_uri, "only_active": "false", "limit": PAGE}
        )
        found = _api(settings, "GET", f"/api/v2/assets?{query}")
        ids = [a["id"] for a in found.get("assets", []) if a.get("uri") == settings.asset_uri]
        if not ids:
            return None
        _asset_ids[cache_key] = ids[0]
    return _asset_ids[cache_key]


def _list_events(settings, path):
    """``GET`` the asset events, waiting out Airflow's 500 while a run an event created is still
    queued (apache/airflow#71360: ``start_date`` required in ``created_dagruns``; fixed after
    3.3.2): the scheduler starts the run within a loop or two. Still failing, it raises, and SCF
    retries the invocation later."""
    for delay in LISTING_RETRY_DELAYS:
        try:
            return _api(settings, "GET", path)
        except AirflowAPIError as err:
            if err.status != 500:
                raise
            print(f"listing the asset events: HTTP 500, again in {delay} s")
            time.sleep(delay)  # a back-off between attempts, not synchronisation
    return _api(settings, "GET", path)


def _posted_keys(settings, asset_id, since):
    """The idempotency keys of the asset's events from ``since`` on (every page)."""
    keys, offset = set(), 0
    while True:
        query = urllib.parse.urlencode(
            {
                "asset_id": asset_id,
                "timestamp_gte": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "order_by": "-timestamp",
                "limit": PAGE,
                "offset": offset,
            }
        )
        page = _list_events(settings, f"/api/v2/assets/events?{query}")
        events = page.get("asset_events") or []
        for event in events:
            key = (event.get("extra") or {}).get("idempotency_key")
            if key:
                keys.add(key)
        offset += len(events)
        if not events or offset >= int(page.get("total_entries") or 0):
            return keys


def object_record(record):
    """``(payload, idempotency key, event time)`` of a COS record, or ``None`` for an event that
    is not an object creation."""
    event = record.get("event") or {}
    if not str(event.get("eventName", "")).startswith("cos:ObjectCreated:"):
        return None
    cos_object = record["cos"]["cosObject"]
    meta = cos_object.get("meta") or {}
    bucket, key = object_key_from_record(record)
    etag = normalize_etag(meta.get("ETag"))
    event_time = datetime.fromtimestamp(int(event.get("eventTime") or time.time()), timezone.utc)
    payload = {
        "bucket": bucket,
        "key": key,
        "size": int(cos_object.get("size") or 0),
        "etag": etag,
        "last_modified": event_time.isoformat(),
        "url": f"cos://{bucket}/{key}",
        "previous_etag": None,
    }
    request_id = meta.get("x-cos-request-id") or ""
    return payload, idempotency_key(bucket, key, etag, request_id), event_time


def _request_id(context):
    if isinstance(context, dict):
        return context.get("request_id")
    return getattr(context, "request_id", None)


def main_handler(event, context):
    settings = Settings(os.environ)
    records = [r for r in (object_record(r) for r in event.get("Records") or []) if r]
    result = {
        "posted": 0,
        "duplicates": 0,
        "ignored": len(event.get("Records") or []) - len(records),
    }
    if not records:
        return result
    asset_id = _asset_id(settings)
    if asset_id is None:
        print(f"Airflow has no asset {settings.asset_uri}: {len(records)} object(s) not announced")
        return {**result, "skipped": "no such asset"}
    result["asset_id"] = asset_id
    since = min(t for _, _, t in records) - timedelta(seconds=settings.window)
    posted = _posted_keys(settings, asset_id, since)
    for payload, key, _ in records:
        if key in posted:
            print(f"already announced: {payload['url']} ({key})")
            result["duplicates"] += 1
            continue
        extra = {
            "payload": payload,
            "idempotency_key": key,
            "source": SOURCE,
            "scf_request_id": _request_id(context),
        }
        _api(settings, "POST", "/api/v2/assets/events", {"asset_id": asset_id, "extra": extra})
        posted.add(key)
        print(f"announced {payload['url']} etag={payload['etag']} ({key})")
        result["posted"] += 1
    if result["posted"] and os.environ.get(FAIL_AFTER_POST) == "1":
        raise RuntimeError(f"{FAIL_AFTER_POST}: failing after the POST, as a test asked")
    return result
