"""COS layer ``conditions``: conditional requests, evaluated against an object's record.

GET and HEAD Object (https://cloud.tencent.com/document/product/436/7753 and 436/7745):

- ``If-Match``: the object only when its ETag matches, else 412 ``PreconditionFailed``;
- ``If-Unmodified-Since``: the object only when not modified since the date, else 412;
- ``If-None-Match``: the object only when its ETag differs, else 304 Not Modified;
- ``If-Modified-Since``: the object only when modified since the date, else 304.

COS does not say which wins when several are sent; RFC 7232 section 6's order is used:
``If-Match``, then ``If-Unmodified-Since`` (only without ``If-Match``), then ``If-None-Match``,
then ``If-Modified-Since`` (only without ``If-None-Match``). A date that does not parse is
ignored, as RFC 7232 says.

The copy operations (PUT Object - Copy, 436/10881; Upload Part - Copy, 436/8287) take the same four
conditions on the source as ``x-cos-copy-source-If-*``; every failure is a 412 there, and only
``If-Match`` with ``If-Unmodified-Since`` or ``If-None-Match`` with ``If-Modified-Since`` may be
combined ("与其他条件联合使用返回冲突"): other pairs are refused with ``InvalidArgument``.
"""

from __future__ import annotations

from email.message import Message
from email.utils import parsedate_to_datetime

from scf_snova_core.objects import normalize_etag

from .exceptions import InvalidArgument, PreconditionFailed
from .models import ObjectRecord

IF_MATCH = "If-Match"
IF_NONE_MATCH = "If-None-Match"
IF_MODIFIED_SINCE = "If-Modified-Since"
IF_UNMODIFIED_SINCE = "If-Unmodified-Since"
CONDITIONS = (IF_MATCH, IF_NONE_MATCH, IF_MODIFIED_SINCE, IF_UNMODIFIED_SINCE)
COPY_SOURCE_PREFIX = "x-cos-copy-source-"
#: The pairs of copy-source conditions COS allows together.
_COPY_PAIRS = (
    frozenset({IF_MATCH, IF_UNMODIFIED_SINCE}),
    frozenset({IF_NONE_MATCH, IF_MODIFIED_SINCE}),
)


def _etag_matches(header: str, record: ObjectRecord) -> bool:
    """Whether any entity tag of a list header (``"a", W/"b"`` or ``*``) is the object's; quotes
    and the weak prefix do not matter (COS ETags are strong MD5s)."""
    ours = normalize_etag(record.etag)
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or normalize_etag(tag.removeprefix("W/")) == ours:
            return True
    return False


def _since(header: str | None) -> float | None:
    """Epoch seconds of an HTTP date, ``None`` when absent or unparsable."""
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _modified_after(record: ObjectRecord, moment: float) -> bool:
    # Last-Modified goes out to the second; compare at that precision.
    return int(record.last_modified) > moment


def not_modified(headers: Message, record: ObjectRecord) -> bool:
    """Evaluate the conditions of a GET or HEAD Object.

    :return: ``True`` when the answer is 304 Not Modified.
    :raises PreconditionFailed: ``If-Match`` or ``If-Unmodified-Since`` fails.
    """
    if_match = headers.get(IF_MATCH)
    if if_match is not None:
        if not _etag_matches(if_match, record):
            raise PreconditionFailed(f"{IF_MATCH}: the object's ETag is {record.etag}.")
    else:
        unmodified = _since(headers.get(IF_UNMODIFIED_SINCE))
        if unmodified is not None and _modified_after(record, unmodified):
            raise PreconditionFailed(f"{IF_UNMODIFIED_SINCE}: the object was modified since.")
    if_none_match = headers.get(IF_NONE_MATCH)
    if if_none_match is not None:
        return _etag_matches(if_none_match, record)
    modified = _since(headers.get(IF_MODIFIED_SINCE))
    return modified is not None and not _modified_after(record, modified)


def check_copy_source(headers: Message, record: ObjectRecord) -> None:
    """Evaluate the ``x-cos-copy-source-If-*`` conditions of a copy against its source.

    :raises InvalidArgument: conditions combined other than as COS allows.
    :raises PreconditionFailed: a condition fails.
    """
    sent = {name for name in CONDITIONS if headers.get(COPY_SOURCE_PREFIX + name) is not None}
    if len(sent) > 1 and frozenset(sent) not in _COPY_PAIRS:
        names = ", ".join(COPY_SOURCE_PREFIX + name for name in sorted(sent))
        raise InvalidArgument(
            f"{names} conflict: only If-Match with If-Unmodified-Since, or If-None-Match with "
            "If-Modified-Since, may be combined."
        )

    def value(name: str) -> str | None:
        return headers.get(COPY_SOURCE_PREFIX + name)

    failed = None
    if value(IF_MATCH) is not None and not _etag_matches(value(IF_MATCH), record):
        failed = IF_MATCH
    elif value(IF_NONE_MATCH) is not None and _etag_matches(value(IF_NONE_MATCH), record):
        failed = IF_NONE_MATCH
    unmodified, modified = _since(value(IF_UNMODIFIED_SINCE)), _since(value(IF_MODIFIED_SINCE))
    if unmodified is not None and _modified_after(record, unmodified):
        failed = failed or IF_UNMODIFIED_SINCE
    if modified is not None and not _modified_after(record, modified):
        failed = failed or IF_MODIFIED_SINCE
    if failed:
        raise PreconditionFailed(f"{COPY_SOURCE_PREFIX}{failed}: the source does not satisfy it.")
