"""Tencent Cloud Object Storage (COS) through ``cos-python-sdk-v5``.

The hook hides the SDK's surprises:

- ``list_objects`` values are all strings, ``Contents`` is missing on empty pages, and COS sends
  ``NextMarker`` on every truncated page: :meth:`COSHook.iter_objects` turns pages into typed
  :class:`~scf_snova_core.objects.COSObject` values, one page in memory at a time;
- ``Body.read()`` returns 1 KB: :meth:`COSHook.open_object` returns a real binary stream over the
  HTTP response (``read(n)``, ``readline``, iteration), in constant memory;
- a missing object on HEAD comes back as code ``NoSuchResource``: every SDK error becomes an
  exception of :mod:`airflow_scf_snova.exceptions` (404 is always ``ResourceNotFoundError``);
- uploads of unknown length are streamed part by part (:meth:`COSHook.upload_fileobj`).

The SDK is imported inside methods only.
"""

from __future__ import annotations

import io
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from itertools import islice
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from scf_snova_core.limits import COS_MAX_KEYS, COS_MAX_PARTS
from scf_snova_core.names import (
    FULL_BUCKET,
    SHORT_BUCKET,
    check_object_key,
    full_bucket_name,
    parse_cos_url,
)
from scf_snova_core.objects import COSObject, normalize_etag

from airflow_scf_snova.cos.errors import service_error, where
from airflow_scf_snova.cos.filters import KeyFilter
from airflow_scf_snova.cos.streams import (
    MultipartUpload,
    ObjectStream,
    batches,
    check_part_size,
    read_exactly,
)
from airflow_scf_snova.exceptions import (
    InvalidInputError,
    ResourceNotFoundError,
    TencentCloudApiError,
    TencentCloudNetworkError,
    invalid_input,
)
from airflow_scf_snova.hooks.base import TencentCloudBaseHook

if TYPE_CHECKING:
    from qcloud_cos import CosS3Client

MiB = 1024 * 1024
#: The part size of streamed uploads unless told otherwise.
DEFAULT_PART_SIZE = 8 * MiB


def check_key(key: str) -> str:
    """Return ``key`` if the COS SDK will address exactly that object.

    :raises InvalidInputError: the key is empty or starts with ``/`` (see
        :func:`scf_snova_core.names.check_object_key`).
    """
    with invalid_input():
        return check_object_key(key)


class COSHook(TencentCloudBaseHook):
    """Interact with COS through a ``tencentcloud`` connection.

    Buckets are accepted as ``name`` (the connection's ``appid`` is appended) or ``name-appid``; a
    name whose last ``-`` segment is all digits is taken as already carrying its APPID.

    :param tencentcloud_conn_id: the connection id.
    :param region: overrides the connection's region.
    :param timeout: seconds the SDK waits for each response (SDK default 30).
    :param retries: how often the SDK retries network errors and 5xx answers, sleeping 1 s, 2 s,
        3 s... between tries (the SDK's default is 3).
    """

    hook_name = "Tencent Cloud Object Storage"

    def __init__(
        self,
        tencentcloud_conn_id: str = TencentCloudBaseHook.default_conn_name,
        region: str | None = None,
        timeout: int | None = None,
        retries: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(tencentcloud_conn_id=tencentcloud_conn_id, region=region, **kwargs)
        self.timeout = timeout
        self.retries = retries

    # -- client ------------------------------------------------------------------------------------
    @cached_property
    def conn(self) -> CosS3Client:
        """The SDK client (built once per hook, on first use)."""
        from qcloud_cos import CosS3Client

        sdk_logger = logging.getLogger("qcloud_cos")
        if sdk_logger.level == logging.NOTSET:
            # The SDK logs every request (URL and headers) at INFO; task logs would drown in
            # them. Configure the "qcloud_cos" logger yourself to see them again.
            sdk_logger.setLevel(logging.WARNING)
        return CosS3Client(self.cos_config(self.timeout), retry=self.retries)

    def get_conn(self) -> CosS3Client:
        return self.conn

    # -- names -------------------------------------------------------------------------------------
    def full_bucket_name(self, bucket: str) -> str:
        """``name`` -> ``name-<appid>`` (the connection's APPID); ``name-appid`` is kept.

        :param bucket: the bucket, short or full.
        :raises InvalidInputError: the name breaks COS's rules, or it is short and the connection
            has no ``appid``.
        """
        name = bucket.strip() if isinstance(bucket, str) else ""
        if not FULL_BUCKET.match(name) and SHORT_BUCKET.match(name) and not self.appid:
            raise InvalidInputError(
                f"bucket {bucket!r} has no -<appid> suffix and connection "
                f"{self.tencentcloud_conn_id!r} has no 'appid' extra"
            )
        with invalid_input():
            return full_bucket_name(bucket, self.appid if not FULL_BUCKET.match(name) else None)

    @staticmethod
    def parse_cos_url(url: str) -> tuple[str, str]:
        """``cos://bucket/path/to/key`` -> ``("bucket", "path/to/key")``.

        The key is taken literally (not percent-decoded): COS keys may contain ``%``.

        :param url: the URL; ``cos://bucket`` and ``cos://bucket/`` give an empty key.
        :raises InvalidInputError: not a ``cos://`` URL, or no bucket.
        """
        with invalid_input():
            return parse_cos_url(url)

    # -- errors ------------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        """Remove the SecretKey and token from a message (belt and braces: SDK messages quote
        requests, never the key, but an exception must never carry it)."""
        creds = self.conn_config.credentials
        for secret in (creds.secret_key, creds.token):
            if secret:
                text = text.replace(secret, "***")
        return text

    @contextmanager
    def _translate(self, action: str, bucket: str | None = None, key: str | None = None):
        """Turn SDK exceptions raised inside the block into this provider's exceptions."""
        from qcloud_cos.cos_exception import CosClientError, CosServiceError

        try:
            yield
        except CosServiceError as err:
            raise service_error(err, action, bucket, key, self._scrub) from err
        except CosClientError as err:
            raise TencentCloudNetworkError(
                "ClientError", self._scrub(f"COS {action}{where(bucket, key)} failed: {err}")
            ) from err
        except OSError as err:  # StreamBody raises IOError on truncated bodies
            raise TencentCloudNetworkError(
                "ClientError", self._scrub(f"COS {action}{where(bucket, key)} failed: {err}")
            ) from err

    # -- listing -----------------------------------------------------------------------------------
    def iter_objects(
        self,
        bucket: str,
        prefix: str = "",
        suffix: str | None = None,
        glob: str | None = None,
        regex: str | None = None,
        modified_after: datetime | str | None = None,
        page_size: int = COS_MAX_KEYS,
        min_size: int | None = None,
        start_after: str = "",
    ) -> Iterator[COSObject]:
        """Stream the matching objects, in key order, fetching one page at a time.

        A generator: nothing is requested until it is iterated, and only one page (at most
        ``page_size`` entries) is ever held. Filters are described in
        :mod:`airflow_scf_snova.cos.filters`.

        :param bucket: the bucket, short or full.
        :param prefix: keys start with this (sent to COS).
        :param suffix: keys end with this.
        :param glob: path-aware glob on the whole key (``*`` stays within one ``/`` segment).
        :param regex: regular expression the whole key must match.
        :param modified_after: only objects modified at or after this instant.
        :param page_size: keys per list request, 1 to 1000.
        :param min_size: only objects of at least this many bytes.
        :param start_after: only keys that sort after this one (COS's ``marker``: UTF-8 byte
            order, the key itself excluded); ``""`` lists from the start.
        """
        if not 1 <= page_size <= COS_MAX_KEYS:
            raise InvalidInputError(
                f"page_size must be between 1 and {COS_MAX_KEYS}, got {page_size}"
            )
        try:
            selection = KeyFilter(
                prefix or "", suffix, glob, regex, modified_after, min_size, start_after or None
            )
        except ValueError as err:
            raise InvalidInputError(str(err)) from err
        yield from self._iter_filtered(self.full_bucket_name(bucket), selection, page_size)

    def iter_matching(
        self, bucket: str, selection: KeyFilter, page_size: int = COS_MAX_KEYS
    ) -> Iterator[COSObject]:
        """Like :meth:`iter_objects`, with a prepared :class:`KeyFilter`."""
        yield from self._iter_filtered(self.full_bucket_name(bucket), selection, page_size)

    def match_objects(
        self,
        bucket: str,
        key: str | None = None,
        selection: KeyFilter | None = None,
        limit: int | None = None,
        page_size: int = COS_MAX_KEYS,
    ) -> list[COSObject]:
        """The objects a sensor waits for: one exact ``key`` (a HEAD request), or a listing.

        :param bucket: the bucket, short or full.
        :param key: an exact key; ``selection``'s key filters are then ignored, its
            ``modified_after`` and ``min_size`` still apply.
        :param selection: the filters for a listing (default: everything).
        :param limit: stop after this many matches (``None``: all).
        """
        selection = selection or KeyFilter()
        if key is not None:
            try:
                obj = self.head_object(bucket, key)
            except ResourceNotFoundError:
                return []
            return (
                [obj]
                if KeyFilter(modified_after=selection.since, min_size=selection.min_size).matches(
                    obj
                )
                else []
            )
        found = self.iter_matching(bucket, selection, page_size)
        return list(islice(found, limit) if limit is not None else found)

    def _iter_filtered(
        self, full: str, selection: KeyFilter, page_size: int
    ) -> Iterator[COSObject]:
        listing_prefix = selection.listing_prefix
        if listing_prefix is None:
            return
        after = selection.start_after or ""
        marker = after if after >= listing_prefix else ""  # else: no narrower than the prefix
        for obj in self._iter_listing(full, listing_prefix, page_size, marker):
            if selection.matches(obj):
                yield obj

    def _list_page(
        self, full: str, prefix: str, marker: str, page_size: int, delimiter: str = ""
    ) -> dict[str, Any]:
        """One ``GET Bucket`` page: ``Contents`` (dicts of the entries' text fields),
        ``CommonPrefixes`` (with a ``delimiter``), ``IsTruncated`` and ``NextMarker``, keys,
        prefixes and markers URL-decoded.

        The same signed request as ``CosS3Client.list_objects`` (``encoding-type=url``), but the
        XML is read with ElementTree: the SDK converts it with ``eval(str(dict))`` of the whole
        page, which takes most of a listing's time (docs/benchmarks.md, "Sensor cost").
        """
        from urllib.parse import unquote
        from xml.etree import ElementTree

        from qcloud_cos.cos_auth import CosS3Auth
        from qcloud_cos.cos_comm import format_values

        conn = self.conn
        conf = conn.get_conf()
        query = {"prefix": prefix, "marker": marker, "max-keys": page_size, "encoding-type": "url"}
        params = format_values({**query, "delimiter": delimiter} if delimiter else query)
        response = conn.send_request(
            method="GET",
            url=conf.uri(bucket=full),
            bucket=full,
            params=params,
            headers={},
            auth=CosS3Auth(conf, params=params),
        )
        page: dict[str, Any] = {"Contents": [], "CommonPrefixes": []}
        for element in ElementTree.fromstring(response.content):
            tag = element.tag.rpartition("}")[2]
            if tag == "Contents":
                entry = {child.tag.rpartition("}")[2]: child.text for child in element}
                if entry.get("Key"):
                    entry["Key"] = unquote(entry["Key"])
                page["Contents"].append(entry)
            elif tag == "CommonPrefixes":
                page[tag] += [unquote(child.text or "") for child in element]
            elif tag == "IsTruncated":
                page[tag] = element.text
            elif tag == "NextMarker":
                page[tag] = unquote(element.text) if element.text else element.text
        return page

    def _iter_listing(
        self, full: str, prefix: str, page_size: int, marker: str = ""
    ) -> Iterator[COSObject]:
        """The objects under ``prefix`` after the key ``marker`` (the key itself, not encoded:
        ``encoding-type=url`` encodes the answer only), page by page."""
        while True:
            with self._translate("list objects", full, prefix or None):
                page = self._list_page(full, prefix, marker, page_size)
            contents = page["Contents"]
            for entry in contents:
                yield COSObject.from_listing(full, entry)
            if str(page.get("IsTruncated") or "false").lower() != "true":
                return
            next_marker = page.get("NextMarker") or (contents[-1]["Key"] if contents else None)
            if not next_marker or next_marker == marker:
                raise TencentCloudApiError(
                    "InvalidListing",
                    f"list objects {full}/{prefix}: truncated page without a usable NextMarker",
                )
            marker = next_marker

    # -- single objects ----------------------------------------------------------------------------
    def head_object(self, bucket: str, key: str) -> COSObject:
        """Metadata of one object.

        :raises ResourceNotFoundError: no such object (or bucket).
        """
        full = self.full_bucket_name(bucket)
        check_key(key)
        with self._translate("head object", full, key):
            headers = self.conn.head_object(Bucket=full, Key=key)
        return COSObject.from_head(full, key, headers)

    def object_exists(self, bucket: str, key: str) -> bool:
        """Whether the object exists (other errors are raised)."""
        try:
            self.head_object(bucket, key)
        except ResourceNotFoundError:
            return False
        return True

    def open_object(
        self,
        bucket: str,
        key: str,
        byte_range: tuple[int, int] | None = None,
        if_match: str | None = None,
    ) -> BinaryIO:
        """A readable binary stream over the object's bytes, read from the network on demand.

        ``read(n)`` returns at most ``n`` bytes (fewer only at the end); ``readline`` and line
        iteration work; memory stays constant. Close it (or use ``with``) to free the connection.
        A connection that breaks mid-body raises :class:`TencentCloudNetworkError` from ``read``.

        :param bucket: the bucket, short or full.
        :param key: the key.
        :param byte_range: ``(first, last)`` byte offsets, both inclusive, as HTTP ranges are.
        :param if_match: an ETag (quoted or not): read the object only while it has this ETag
            (``If-Match``, GET Object), so the bytes read are exactly that version.
        :raises ObjectChangedError: ``if_match`` is given and the object has another ETag.
        """
        full = self.full_bucket_name(bucket)
        check_key(key)
        kwargs: dict[str, Any] = {}
        if if_match is not None:
            kwargs["IfMatch"] = f'"{normalize_etag(if_match)}"'
        if byte_range is not None:
            first, last = byte_range
            if first < 0 or last < first:
                raise InvalidInputError(f"invalid byte range {byte_range!r}")
            kwargs["Range"] = f"bytes={first}-{last}"
        with self._translate("get object", full, key):
            response = self.conn.get_object(Bucket=full, Key=key, **kwargs)
        raw = ObjectStream(response["Body"].get_raw_stream(), f"{full}/{key}", self._scrub)
        return cast(BinaryIO, io.BufferedReader(raw, buffer_size=256 * 1024))

    def read_object(self, bucket: str, key: str) -> bytes:
        """The whole object in memory (small objects only)."""
        with self.open_object(bucket, key) as stream:
            return stream.read()

    def download_file(self, bucket: str, key: str, path: str | os.PathLike[str]) -> None:
        """Stream an object to a local file; the file appears only once complete.

        :param path: destination; replaced atomically.
        """
        target = os.fspath(path)
        partial = f"{target}.{uuid.uuid4().hex}.part"
        try:
            with self.open_object(bucket, key) as stream, open(partial, "wb") as out:
                while chunk := stream.read(MiB):
                    out.write(chunk)
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.remove(partial)

    # -- writing -----------------------------------------------------------------------------------
    def put_object(
        self, bucket: str, key: str, data: bytes | str, content_type: str | None = None
    ) -> str:
        """Upload ``data`` (a ``str`` is sent as UTF-8) in one request; returns the ETag (without
        quotes)."""
        full = self.full_bucket_name(bucket)
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return self._put(full, key, body, content_type)

    def _put(self, full: str, key: str, body: bytes, content_type: str | None) -> str:
        check_key(key)
        kwargs = {"ContentType": content_type} if content_type else {}
        with self._translate("put object", full, key):
            headers = self.conn.put_object(Bucket=full, Key=key, Body=body, **kwargs)
        return normalize_etag(headers.get("ETag"))

    def upload_file(
        self,
        bucket: str,
        key: str,
        path: str | os.PathLike[str],
        part_size_mb: int = 8,
        content_type: str | None = None,
        max_concurrency: int = 4,
    ) -> str:
        """Upload a local file; multipart (parts uploaded in parallel) above ``part_size_mb``.

        :param part_size_mb: part size and single-request threshold, in MiB (1 to 5120); grown
            automatically when the file would need more than 10,000 parts.
        :param max_concurrency: parts in flight at once (memory: that many parts).
        :returns: the ETag (without quotes).
        """
        full = self.full_bucket_name(bucket)
        source = os.fspath(path)
        size = os.path.getsize(source)
        part_size = check_part_size(part_size_mb * MiB)
        if size <= part_size:
            with open(source, "rb") as handle:
                return self._put(full, key, handle.read(), content_type)
        part_size = max(part_size, -(-size // COS_MAX_PARTS))
        with self._multipart(full, key, content_type) as upload:
            upload.send_file(source, size, part_size, max_concurrency)
        return upload.etag

    def upload_fileobj(
        self,
        bucket: str,
        key: str,
        fileobj: BinaryIO,
        part_size: int = DEFAULT_PART_SIZE,
        content_type: str | None = None,
    ) -> str:
        """Upload a stream of unknown length in constant memory (one part at a time).

        A stream that ends within the first part is sent with one PUT; otherwise it goes up as a
        multipart upload, aborted if anything fails, so no partial object ever appears.

        :param fileobj: anything with ``read(n) -> bytes``.
        :param part_size: bytes per part (1 MiB to 5 GiB); the stream may have at most 10,000
            parts, so this bounds the object size (8 MiB parts: 78 GiB).
        :returns: the ETag (without quotes).
        """
        full = self.full_bucket_name(bucket)
        part_size = check_part_size(part_size)
        first = read_exactly(fileobj, part_size)
        if len(first) < part_size:
            return self._put(full, key, first, content_type)
        with self._multipart(full, key, content_type) as upload:
            upload.send_stream(first, fileobj, part_size)
        return upload.etag

    def start_multipart(
        self, bucket: str, key: str, content_type: str | None = None
    ) -> MultipartUpload:
        """Initiate a multipart upload; send its parts with ``part(number, data)``, then call
        ``complete()`` (or ``abort()``: COS keeps the parts of an upload never ended)."""
        full = self.full_bucket_name(bucket)
        check_key(key)
        kwargs = {"ContentType": content_type} if content_type else {}
        with self._translate("initiate multipart upload", full, key):
            result = self.conn.create_multipart_upload(Bucket=full, Key=key, **kwargs)
        return MultipartUpload(self, full, key, result["UploadId"])

    @contextmanager
    def _multipart(self, full: str, key: str, content_type: str | None):
        upload = self.start_multipart(full, key, content_type)
        try:
            yield upload
            upload.complete()
        except BaseException:
            upload.abort()
            raise

    def copy_object(
        self, source_bucket: str, source_key: str, dest_bucket: str, dest_key: str
    ) -> str:
        """Server-side copy (objects up to 5 GB); returns the new object's ETag (without quotes)."""
        source = self.full_bucket_name(source_bucket)
        dest = self.full_bucket_name(dest_bucket)
        check_key(source_key)
        check_key(dest_key)
        copy_source = {"Bucket": source, "Key": source_key, "Region": self.region}
        with self._translate("copy object", dest, dest_key):
            result = self.conn.copy_object(Bucket=dest, Key=dest_key, CopySource=copy_source)
        return normalize_etag(result.get("ETag"))

    def delete_objects(self, bucket: str, keys: Iterable[str]) -> list[str]:
        """Delete keys in batches of 1,000; deleting a missing key succeeds, as in COS.

        :param keys: any iterable, consumed lazily batch by batch.
        :returns: the deleted keys.
        :raises TencentCloudApiError: COS refused some keys (after the whole batch was tried).
        """
        full = self.full_bucket_name(bucket)
        deleted: list[str] = []
        for batch in batches(keys, COS_MAX_KEYS):
            request = {"Quiet": "false", "Object": [{"Key": key} for key in batch]}
            with self._translate("delete objects", full):
                result = self.conn.delete_objects(Bucket=full, Delete=request)
            deleted.extend(item["Key"] for item in result.get("Deleted") or [])
            errors = result.get("Error") or []
            if errors:
                first = errors[0]
                raise TencentCloudApiError.from_code(
                    str(first.get("Code") or "Unknown"),
                    f"delete objects {full}: {len(errors)} key(s) failed, first "
                    f"{first.get('Key')!r}: {first.get('Message') or ''}",
                )
        return deleted

    def create_bucket(self, bucket: str) -> None:
        """Create the bucket unless this account already owns it."""
        full = self.full_bucket_name(bucket)
        with self._translate("head bucket", full):
            if self.conn.bucket_exists(Bucket=full):
                return
        try:
            with self._translate("create bucket", full):
                self.conn.create_bucket(Bucket=full)
        except TencentCloudApiError as err:
            if err.code != "BucketAlreadyOwnedByYou":
                raise

    def bucket_exists(self, bucket: str) -> bool:
        """Whether the bucket exists and is reachable with this connection."""
        full = self.full_bucket_name(bucket)
        with self._translate("head bucket", full):
            return bool(self.conn.bucket_exists(Bucket=full))
