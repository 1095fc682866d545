"""COS layer ``service``: the entry point the server calls: dispatch of XML API requests,
object-event listeners, Python-side helpers.

Every request goes through the same steps: injected latency, routing (:mod:`.urls`: bucket, key,
operation), injected errors, signature verification (:mod:`.auth`), the account check, then the
operation (:mod:`.responses` over :mod:`.backend`). A :class:`~.exceptions.CosError` anywhere
becomes the ``<Error>`` XML (:mod:`.wire`) with its status.
"""

from __future__ import annotations

import base64
import io
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from scf_snova_core.names import FULL_BUCKET

from ..config import EmulatorConfig
from ..faults import Faults
from ..http import Exchange
from ..stats import Stats
from ..types import ObjectEvent
from . import responses, urls, wire
from .auth import verify
from .backend import CosBackend
from .exceptions import AccessDenied, CosError, InjectedError, InvalidBucketName, InvalidRange
from .models import ObjectRecord
from .storage import CHUNK, CosStorage
from .urls import Target

log = logging.getLogger(__name__)

Listener = Callable[[ObjectEvent], None]


def new_request_id() -> str:
    """An id shaped like COS's (base64 text), unique per request."""
    raw = f"{time.time_ns():x}_{secrets.token_hex(6)}".encode()
    return base64.b64encode(raw).decode().rstrip("=")


def _decoded_meta(meta: dict[str, str]) -> dict[str, str]:
    # Stored values are the wire bytes read as latin-1; listeners get text.
    out = {}
    for name, value in meta.items():
        try:
            out[name] = value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            out[name] = value
    return out


def _chunks(data: bytes | BinaryIO) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        data = io.BytesIO(bytes(data))
    while chunk := data.read(CHUNK):
        yield chunk


class CosService:
    """The COS XML API over buckets kept under ``root``.

    Faithful to what ``cos-python-sdk-v5`` relies on: virtual-host addressing through the Host
    header (path-style ``/<bucket>/<key>`` too), the ``q-sign-algorithm=sha1`` signature, error
    XML, ETags, listing semantics with ``encoding-type=url``, conditional GET/HEAD, multipart
    uploads, copies (Upload Part - Copy too) and DELETE Multiple. Not emulated, and refused
    when asked for (:func:`.urls.check_request`): ACLs and policies (any valid signature of the
    configured key may do anything in buckets of the configured APPID), versioning, storage
    classes other than STANDARD, lifecycle, CORS, tagging and server-side encryption.

    :param config: the emulator settings (credentials, APPID, region).
    :param faults: injected faults, consulted on every request.
    :param root: where buckets and objects are kept; reusing it after a restart keeps them.
    """

    def __init__(self, config: EmulatorConfig, faults: Faults, root: Path) -> None:
        self.config = config
        self.faults = faults
        self.stats = Stats()  # the server shares its own
        self.backend = CosBackend(CosStorage(Path(root)))
        self._listeners: list[Listener] = []

    # -- HTTP -----------------------------------------------------------------------------------
    def _target(self, exchange: Exchange) -> Target | None:
        return urls.parse_target(exchange.host, exchange.path, self.config.region)

    def handles(self, exchange: Exchange) -> bool:
        """Whether a request is for COS: Host ``<bucket>-<appid>.cos.<region>.myqcloud.com``, or a
        path whose first segment is a full bucket name."""
        return self._target(exchange) is not None

    def handle(self, exchange: Exchange) -> None:
        """Serve one COS request (the server has already checked :meth:`handles`)."""
        request_id = new_request_id()
        target = self._target(exchange) or Target("-", self.config.region, "")
        try:
            self.faults.delay("cos")
            op = urls.operation(exchange.method, target.key, exchange.query, exchange.headers)
            self.stats.count("cos", urls.fault_name(exchange.method, op))
            self.stats.count("cos_operations", op)
            urls.check_request(op, exchange.method, exchange.query, exchange.headers)
            status = self.faults.take_cos_error(urls.fault_name(exchange.method, op))
            if status is not None:
                raise InjectedError(status)
            verify(
                method=exchange.method,
                paths=target.signed_paths,
                query=exchange.query,
                headers=exchange.headers,
                secret_id=self.config.secret_id,
                secret_key=self.config.secret_key,
                token=self.config.token,
            )
            if target.appid != self.config.appid:
                raise AccessDenied("Access Denied. The bucket belongs to another APPID.")
            call = responses.Call(
                exchange=exchange,
                target=target,
                request_id=request_id,
                backend=self.backend,
                config=self.config,
                faults=self.faults,
                emit=self._emit,
            )
            log.debug("COS %s %s/%s (%s)", op, target.bucket, target.key, request_id)
            getattr(responses, op)(call)
        except CosError as err:
            self._respond_error(exchange, target, request_id, err)
        except ConnectionError as err:
            # The client went away mid-body: nothing was committed; let the server drop the line.
            raise ConnectionResetError(str(err)) from err

    def _respond_error(
        self, exchange: Exchange, target: Target, request_id: str, err: CosError
    ) -> None:
        if exchange.responded:
            raise RuntimeError("COS error after the response started") from err
        log.debug("COS %s %s -> %s %s", exchange.method, exchange.raw_path, err.status, err.code)
        headers = {"Content-Type": wire.CONTENT_TYPE, "x-cos-request-id": request_id}
        if isinstance(err, InvalidRange):
            headers["Content-Range"] = f"bytes */{err.size}"
        trace_id = base64.b64encode(secrets.token_bytes(24)).decode()
        body = wire.error(
            err.code, err.message, err.resource or target.resource, request_id, trace_id
        )
        exchange.respond(err.status, headers, body)

    # -- object events --------------------------------------------------------------------------
    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(ObjectEvent)`` after every object create/remove is committed, before the
        response is sent (so a client sees its call return only once listeners ran). Listeners
        must be quick; their exceptions are logged and never fail the request."""
        self._listeners.append(fn)

    def _fire(self, event: ObjectEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("COS emulator: object-event listener %r failed", listener)

    def _emit(self, call: responses.Call, event_name: str, record: ObjectRecord, size: int):
        self._fire(
            ObjectEvent(
                event_name=event_name,
                bucket=call.target.bucket,
                key=record.key,
                size=size,
                etag=record.etag,
                content_type=record.content_type,
                request_id=call.request_id,
                event_time=int(time.time()),
                source_ip=call.exchange.client_ip,
                authorization=call.exchange.headers.get("Authorization", ""),
                meta=_decoded_meta(record.meta),
            )
        )

    def _emit_local(self, event_name: str, bucket: str, record: ObjectRecord, size: int) -> None:
        self._fire(
            ObjectEvent(
                event_name=event_name,
                bucket=bucket,
                key=record.key,
                size=size,
                etag=record.etag,
                content_type=record.content_type,
                request_id=new_request_id(),
                event_time=int(time.time()),
                meta=_decoded_meta(record.meta),
            )
        )

    # -- Python-side helpers (tests, demo, the Snova stand-in) ----------------------------------
    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket`` (full ``name-appid``) in the emulator's region; idempotent.

        :raises ~.exceptions.InvalidBucketName: for a name that is not ``name-appid``.
        """
        if not FULL_BUCKET.match(bucket):
            raise InvalidBucketName(f"{bucket!r} is not a <name>-<appid> bucket name.")
        self.backend.create_bucket(bucket, self.config.region, exist_ok=True)

    def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes | BinaryIO,
        content_type: str = "application/octet-stream",
        meta: dict[str, str] | None = None,
    ) -> str:
        """Store an object as a PUT would (streamed from a file object) and fire
        ``cos:ObjectCreated:Put``; returns the quoted ETag.

        :param meta: ``x-cos-meta-*`` values, e.g. ``{"x-cos-meta-owner": "etl"}``.
        :raises ~.exceptions.NoSuchBucket: if the bucket does not exist.
        """
        self.backend.bucket(bucket)
        staged = self.backend.storage.receive(_chunks(data))
        stored_meta = {
            name.lower(): value.encode("utf-8").decode("latin-1")
            for name, value in (meta or {}).items()
        }
        record = self.backend.put_object(
            bucket, key, staged, content_type=content_type, meta=stored_meta
        )
        self._emit_local("cos:ObjectCreated:Put", bucket, record, record.size)
        return record.etag

    def open_object(self, bucket: str, key: str) -> BinaryIO:
        """A binary file of the object's bytes; close it when done.

        :raises ~.exceptions.NoSuchBucket: or ``NoSuchKey``.
        """
        return self.backend.open_object(bucket, key)[1]

    def head_object(self, bucket: str, key: str) -> ObjectRecord:
        """The object's record (size, etag, content type, meta, last_modified).

        :raises ~.exceptions.NoSuchBucket: or ``NoSuchKey``.
        """
        return self.backend.head_object(bucket, key)

    def delete_object(self, bucket: str, key: str) -> bool:
        """Delete an object, firing ``cos:ObjectRemove:Delete``; ``False`` if it was missing."""
        record = self.backend.delete_object(bucket, key)
        if record is not None:
            self._emit_local("cos:ObjectRemove:Delete", bucket, record, 0)
        return record is not None

    def list_objects(self, bucket: str, prefix: str = "") -> list[ObjectRecord]:
        """Every object whose key starts with ``prefix``, in key order (all pages)."""
        records: list[ObjectRecord] = []
        marker = ""
        while True:
            page = self.backend.list_objects(bucket, prefix=prefix, marker=marker)
            records += page.items
            if not page.truncated or page.next_marker is None:
                return records
            marker = page.next_marker

    def reset(self) -> None:
        """Delete all buckets, objects and uploads (on disk too); listeners stay."""
        self.backend.reset()

    def close(self) -> None:
        """Nothing runs in the background; everything is already on disk."""
