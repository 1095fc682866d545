"""SCF extra ``async_config``: a function's asynchronous settings, checked as SCF documents them.

- **Async retries** (``UpdateFunctionEventInvokeConfig``, ``AsyncTriggerConfig{RetryConfig
  [{RetryNum}], MsgTTL}``): a failed asynchronous invocation (an ``Event`` invoke, a COS or a timer
  trigger) runs again ``RetryNum`` times, by default 2, a fixed interval apart (1 minute on SCF),
  with the same request id, while the event is younger than ``MsgTTL`` seconds (default 21600,
  6 hours). Only the first ``RetryConfig`` element is used; the list is stored as sent.
- **Dead-letter queue** (``DeadLetterConfig{Type, Name, FilterType}``): stored and returned,
  never delivered to.
- **Async execution** (``AsyncRunEnable``, chosen at creation only) and **status tracing**
  (``TraceEnable``): such a function answers every invocation at once with its request id, runs
  up to 24 hours, is never retried, and is the only kind the async-event actions serve.

Sources: the retry policy https://cloud.tencent.com/document/product/583/41138 ("默认配置为2次",
"固定间隔1分钟", retention "默认配置为6小时"); the async execution page
https://cloud.tencent.com/document/product/583/51519 (locked at creation, no error retries, 24 h);
the ``AsyncTriggerConfig``, ``DeadLetterConfig`` and ``CreateFunction`` models and the error
codes of ``tencentcloud-sdk-python-scf``. Where SCF documents no bound, the emulator is stricter:
``RetryNum`` 0-2 (the dead-letter page's "RetryNum（0 - 2）") and ``MsgTTL`` 1-21600 s.
"""

from __future__ import annotations

from .exceptions import InvalidParameterValue, LimitExceeded

DEFAULT_RETRY_NUM = 2
MAX_RETRY_NUM = 2
DEFAULT_MSG_TTL = 21600
MAX_MSG_TTL = 21600
#: Seconds between a failed attempt and its retry on SCF (an emulator setting: tests shorten it).
RETRY_INTERVAL = 60.0
#: The longest Timeout of an async-execution function (24 hours); others allow 900 s.
ASYNC_RUN_MAX_TIMEOUT = 86400
#: How long the status of a finished async event can be read (3 x 24 hours).
EVENT_STATUS_KEPT = 3 * 24 * 3600
#: The statuses of an async event.
RUNNING, FINISHED, ABORTED, FAILED = "RUNNING", "FINISHED", "ABORTED", "FAILED"
EVENT_STATUSES = (RUNNING, FINISHED, ABORTED, FAILED)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def default_trigger_config() -> dict:
    """What ``GetFunctionEventInvokeConfig`` answers before anything was configured."""
    return {"RetryConfig": [{"RetryNum": DEFAULT_RETRY_NUM}], "MsgTTL": DEFAULT_MSG_TTL}


def trigger_config(value: object, current: dict | None) -> dict:
    """The ``AsyncTriggerConfig`` to store: ``value`` checked, missing parts kept from
    ``current``.

    :raises InvalidParameterValue: ``AsyncTriggerConfig`` is not an object, ``RetryConfig`` is
        not a non-empty list of ``{"RetryNum": int}``, ``MsgTTL`` is not a positive integer.
    :raises LimitExceeded: ``RetryNum`` above 2 (``LimitExceeded.RetryNum``) or ``MsgTTL`` above
        21600 s (``LimitExceeded.MsgTTL``).
    """
    if not isinstance(value, dict):
        raise InvalidParameterValue(
            "AsyncTriggerConfig",
            'AsyncTriggerConfig must be {"RetryConfig": [{"RetryNum": n}], "MsgTTL": seconds}',
        )
    stored = dict(current or default_trigger_config())
    if "RetryConfig" in value:
        retry = value["RetryConfig"]
        if (
            not isinstance(retry, list)
            or not retry
            or not all(isinstance(r, dict) and _is_int(r.get("RetryNum")) for r in retry)
        ):
            raise InvalidParameterValue(
                "AsyncTriggerConfig", 'RetryConfig must be a non-empty list of {"RetryNum": int}'
            )
        first = retry[0]["RetryNum"]
        if first < 0:
            raise InvalidParameterValue("AsyncTriggerConfig", "RetryNum must not be negative")
        if first > MAX_RETRY_NUM:
            raise LimitExceeded(
                "RetryNum", f"RetryNum {first} is over the limit: at most {MAX_RETRY_NUM} retries"
            )
        stored["RetryConfig"] = [{"RetryNum": r["RetryNum"]} for r in retry]
    if "MsgTTL" in value:
        ttl = value["MsgTTL"]
        if not _is_int(ttl) or ttl < 1:
            raise InvalidParameterValue(
                "AsyncTriggerConfig", "MsgTTL must be a positive integer (seconds)"
            )
        if ttl > MAX_MSG_TTL:
            raise LimitExceeded("MsgTTL", f"MsgTTL {ttl} is over the limit of {MAX_MSG_TTL} s")
        stored["MsgTTL"] = ttl
    return stored


def retry_num(config: dict | None) -> int:
    """How often a failed asynchronous invocation is retried under ``config``."""
    return int((config or default_trigger_config())["RetryConfig"][0]["RetryNum"])


def msg_ttl(config: dict | None) -> int:
    """Seconds an asynchronous event may wait for its retries under ``config``."""
    return int((config or default_trigger_config())["MsgTTL"])


def dead_letter_config(value: object) -> dict | None:
    """A ``DeadLetterConfig`` to store (``None`` when not sent).

    :raises InvalidParameterValue: not ``{"Type": str, "Name": str[, "FilterType": str]}`` with
        non-empty ``Type`` and ``Name`` (``InvalidParameterValue.DeadLetterConfig``).
    """
    if value is None:
        return None
    ok = (
        isinstance(value, dict)
        and set(value) <= {"Type", "Name", "FilterType"}
        and all(isinstance(value.get(k), str) and value[k] for k in ("Type", "Name"))
        and isinstance(value.get("FilterType", ""), str)
    )
    if not ok:
        raise InvalidParameterValue(
            "DeadLetterConfig",
            'DeadLetterConfig must be {"Type": ..., "Name": ..., "FilterType": ...} with a Type '
            "and a Name",
        )
    return {"Type": value["Type"], "Name": value["Name"], "FilterType": value.get("FilterType", "")}


def async_flags(params: dict) -> tuple[bool, bool]:
    """``(AsyncRunEnable, TraceEnable)`` of a ``CreateFunction`` request.

    :raises InvalidParameterValue: a value other than ``"TRUE"``/``"FALSE"``, or ``TraceEnable``
        without ``AsyncRunEnable`` (tracing is a property of async-execution functions; stricter
        than SCF's documentation, which does not say).
    """
    flags = []
    for name in ("AsyncRunEnable", "TraceEnable"):
        value = params.get(name, "FALSE")
        if value not in ("TRUE", "FALSE"):
            raise InvalidParameterValue(name, f'{name} must be "TRUE" or "FALSE"')
        flags.append(value == "TRUE")
    async_run, trace = flags
    if trace and not async_run:
        raise InvalidParameterValue(
            "TraceEnable", "TraceEnable=TRUE needs AsyncRunEnable=TRUE (async-execution functions)"
        )
    return async_run, trace
