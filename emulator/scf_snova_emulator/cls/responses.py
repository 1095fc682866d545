"""CLS layer ``responses``: ``SearchLog``, request parameters in, response fields out.

The parameters and their rules are those of ``SearchLogRequest`` in ``tencentcloud-sdk-python-cls``
(``tencentcloud.cls.v20201016.models``):

- ``TopicId`` or ``Topics``, exactly one ("TopicId 和 Topics 不能同时使用"); only ``TopicId`` is
  emulated (``Topics``, the multi-topic search, answers ``UnsupportedOperation``);
- ``From`` and ``To``: epoch milliseconds, the interval ``[From, To)``;
- ``QueryString``: at most 12 KB, ``QuerySyntax`` 0 (Lucene) or 1 (CQL, the default); what is
  understood of it is in :mod:`.query`. The deprecated ``Query`` and ``SyntaxRule`` are refused;
- ``Sort``: ``asc`` or ``desc`` (default);
- ``Limit``: default 100, at most 1000;
- ``Offset`` ("不能与Context参数同时使用", *not with Context*), or ``Context``: the value the
  previous page returned, valid for one hour, only with the same other parameters, and "总计最多可
  获取1万条原始日志" (*at most 10,000 logs in all*): the page that reaches 10,000 still returns a
  ``Context``, which then fails with ``FailedOperation.InvalidContext``;
- an answer above 20 MB fails with ``LimitExceeded.SearchResultTooLarge`` ("超过20MB限制",
  ``errorcodes.py``; the ``SearchLog`` docstring allows 49 MB: the stricter of the two).

Results are sorted by time, then by the order the lines were written.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable

from scf_snova_core.limits import CLS_CONTEXT_MAX_LOGS, CLS_SEARCH_MAX_LIMIT

from ..scf.exceptions import (
    FailedOperation,
    InvalidParameter,
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    UnsupportedOperation,
)
from .backend import KEY_FIELD, ClsBackend
from .models import LogBatch
from .query import compile_query

#: The index of SCF's log topic: the fields of https://cloud.tencent.com/document/product/583/60336.
TEXT_FIELDS = frozenset(
    {
        "SCF_FunctionName",
        "SCF_Namespace",
        "SCF_RequestId",
        "SCF_Alias",
        "SCF_Qualifier",
        "SCF_Level",
        "SCF_Message",
        "SCF_Type",
    }
)
NUMBER_FIELDS = frozenset(
    {
        "SCF_StartTime",
        "SCF_LogTime",
        "SCF_Duration",
        "SCF_MemUsage",
        "SCF_StatusCode",
        "SCF_RetryNum",
    }
)
MAX_QUERY_BYTES = 12 * 1024
#: Seconds a ``Context`` stays valid.
CONTEXT_TTL = 3600
#: The largest answer, in bytes of JSON.
MAX_RESULT_BYTES = 20 * 1024 * 1024
#: What a log's ``Source`` and ``HostName`` say.
SOURCE, HOST_NAME = "127.0.0.1", "scf-emulator"


def _integer(p: dict, name: str, default: int | None, low: int, high: int | None) -> int:
    value = p.get(name)
    if value is None:
        if default is None:
            raise MissingParameter(None, f"the parameter {name} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterValue(None, f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise InvalidParameterValue(None, f"{name} must be {bounds}, got {value}")
    return value


class ClsResponses:
    """The CLS actions.

    :param backend: topics and records.
    :param clock: epoch seconds, replaceable in tests (``Context`` expiry).
    """

    def __init__(self, backend: ClsBackend, clock: Callable[[], float] = time.time) -> None:
        self._backend = backend
        self._clock = clock

    def search_log(self, p: dict) -> dict:
        if p.get("Topics") is not None:
            if p.get("TopicId") is not None:
                raise InvalidParameter(None, "TopicId and Topics cannot be used together")
            raise UnsupportedOperation(
                None, "the emulator searches one topic (TopicId); Topics is not emulated"
            )
        for deprecated in ("Query", "SyntaxRule"):
            if p.get(deprecated) is not None:
                raise InvalidParameter(
                    None, f"{deprecated} is deprecated: use QueryString and QuerySyntax"
                )
        if p.get("HighLight"):
            raise UnsupportedOperation(None, "HighLight is not emulated")
        topic_id = p.get("TopicId")
        if not topic_id:
            raise MissingParameter(None, "the parameter TopicId is required")
        topic = self._backend.topic(topic_id)
        start = _integer(p, "From", None, 0, None)
        end = _integer(p, "To", None, 0, None)
        if end <= start:
            raise InvalidParameterValue(None, f"To ({end}) must be later than From ({start})")
        query = p.get("QueryString") or ""
        if not isinstance(query, str) or len(query.encode("utf-8")) > MAX_QUERY_BYTES:
            raise InvalidParameterValue(None, "QueryString must be a string of at most 12 KB")
        syntax = _integer(p, "QuerySyntax", 1, 0, 1)
        sort = p.get("Sort") or "desc"
        if sort not in ("asc", "desc"):
            raise InvalidParameterValue(None, f"Sort must be asc or desc, got {sort!r}")
        limit = _integer(p, "Limit", 100, 1, CLS_SEARCH_MAX_LIMIT)
        context = p.get("Context") or ""
        if context and p.get("Offset") is not None:
            raise InvalidParameter(None, "Offset cannot be used together with Context")
        fingerprint = _fingerprint(topic_id, start, end, query, syntax, sort, limit)
        position = _context_position(context, fingerprint, self._clock())
        if context:
            count = min(limit, CLS_CONTEXT_MAX_LOGS - position)
        else:
            position = _integer(p, "Offset", 0, 0, None)
            count = limit
        compiled = compile_query(query, syntax, TEXT_FIELDS, NUMBER_FIELDS, KEY_FIELD)
        keys = compiled.keys
        if keys is not None and not all(self._backend.has_key(k) for k in keys):
            keys = None  # not an exact request id: search everything
        matches = [
            (batch, number, fields)
            for batch in self._backend.batches(topic.topic_id, keys)
            if start <= batch.time_ms < end
            for number, fields in batch.records()
            if compiled.predicate(fields)
        ]
        matches.sort(key=lambda m: (m[0].time_ms, m[0].seq, m[1]), reverse=sort == "desc")
        page = matches[position : position + count]
        results = [_log_info(topic.topic_id, topic.topic_name, *m) for m in page]
        if len(json.dumps(results, ensure_ascii=False)) > MAX_RESULT_BYTES:
            raise LimitExceeded(
                "SearchResultTooLarge",
                f"the {len(page)} logs asked for exceed 20 MB; ask for fewer (Limit)",
            )
        following = position + len(page)
        return {
            "Context": _make_context(fingerprint, following, self._clock()),
            "ListOver": following >= len(matches),
            "Analysis": False,
            "Results": results,
            "ColNames": [],
            "AnalysisResults": [],
            "AnalysisRecords": [],
            "Columns": [],
            "SamplingRate": 1.0,
        }


def _log_info(topic_id: str, topic_name: str, batch: LogBatch, number: int, fields: dict) -> dict:
    """A ``LogInfo``."""
    return {
        "Time": batch.time_ms,
        "TopicId": topic_id,
        "TopicName": topic_name,
        "Source": SOURCE,
        "FileName": "",
        "PkgId": batch.pkg_id,
        "PkgLogId": str(number),
        "HighLights": [],
        "LogJson": json.dumps(fields, ensure_ascii=False, separators=(",", ":")),
        "HostName": HOST_NAME,
        "RawLog": "",
        "IndexStatus": "",
        "TimeNanos": batch.time_ms * 1_000_000,
    }


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _make_context(fingerprint: str, position: int, now: float) -> str:
    text = json.dumps({"f": fingerprint, "p": position, "t": int(now)})
    return base64.urlsafe_b64encode(text.encode()).decode()


def _context_position(context: str, fingerprint: str, now: float) -> int:
    """Where the page of ``context`` starts (0 without one).

    :raises FailedOperation: ``InvalidContext``: not one of ours, other parameters changed,
        older than an hour, or the 10,000 logs a context chain may read are read.
    """
    if not context:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(context.encode()))
        position, issued, made_for = int(data["p"]), float(data["t"]), data["f"]
    except (ValueError, TypeError, KeyError) as exc:
        raise FailedOperation("InvalidContext", "the Context is not valid") from exc
    if made_for != fingerprint:
        raise FailedOperation(
            "InvalidContext", "the Context was returned for other parameters: change only Context"
        )
    if now - issued > CONTEXT_TTL:
        raise FailedOperation("InvalidContext", "the Context has expired (it is valid for 1 hour)")
    if position >= CLS_CONTEXT_MAX_LOGS:
        raise FailedOperation(
            "InvalidContext",
            f"a Context reads at most {CLS_CONTEXT_MAX_LOGS} logs in all; use Offset for more",
        )
    return position
