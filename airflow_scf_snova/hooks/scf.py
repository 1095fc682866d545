"""Tencent Cloud Serverless Cloud Function (SCF) through ``tencentcloud-sdk-python-scf``.

:class:`SCFHook` wraps the SDK's ``ScfClient`` (API 2018-04-16) and hides its surprises:

- every SDK error becomes a typed exception of :mod:`airflow_scf_snova.exceptions` carrying the
  error code, message and request id (``ResourceNotFound.Function`` and
  ``ResourceNotFound.FunctionName`` both raise ``ResourceNotFoundError``);
- throttling (``RequestLimitExceeded*``) is retried with exponential backoff, except for a
  synchronous invoke: the client never sends a sync ``Invoke`` twice, since that could run the
  function twice;
- a sync invoke gets an SDK request timeout above the function's own ``Timeout`` (the SDK's
  default of 60 s cuts longer functions off);
- create, update, publish and delete are asynchronous on SCF:
  :meth:`SCFHook.wait_for_function_status` polls ``GetFunction`` with backoff until a target
  status, a ``*Failed`` status or a deadline.

Responses are returned as plain dicts with the API's field names (``Status``, ``Result``...). The
SDK is imported inside methods only.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    ResourceNotFoundError,
    SCFFunctionStateError,
    SCFWaitTimeoutError,
    TencentCloudApiError,
    TencentCloudNetworkError,
    TencentCloudThrottledError,
)
from airflow_scf_snova.hooks.base import DEFAULT_SCF_REQUEST_TIMEOUT, TencentCloudBaseHook

if TYPE_CHECKING:
    from tencentcloud.scf.v20180416.scf_client import ScfClient

LATEST = "$LATEST"
#: Statuses a function passes through while SCF works on it.
TRANSIENT_STATES = frozenset({"Creating", "Updating", "Publishing", "Deleting"})
#: Statuses that end a wait with an error (unless they are what the caller waits for).
FAILED_STATES = frozenset({"CreateFailed", "UpdateFailed", "PublishFailed", "DeleteFailed"})
#: Largest ``ClientContext`` of a sync (``RequestResponse``) and an async (``Event``) invoke.
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 128 * 1024
#: SCF ends a sync (``RequestResponse``) invoke after at most this many seconds.
SYNC_INVOKE_MAX_SECONDS = 300
#: Seconds added to the longest sync run to get the SDK request timeout of a sync invoke.
INVOKE_TIMEOUT_MARGIN = 30
#: ``LogType=Tail`` returns at most the last 4 KB of an execution log.
LOG_TAIL_BYTES = 4096
INVOCATION_TYPES = ("RequestResponse", "Event")
#: Runtime status codes of failed executions (user exception, timeout, memory exceeded...).
FAILURE_STATUS_CODES = frozenset({400, 405, 406, 407, 429, 430, 433, 434})
#: ``GetRequestStatus`` RetCode values.
RET_CODE_SUCCESS, RET_CODE_RUNNING, RET_CODE_FAILED = 0, 1, -1
#: Actions that only read: network errors on them are retried like throttling.
_READ_ONLY_PREFIXES = ("Get", "List")


class FunctionError(NamedTuple):
    """Why an execution failed, parsed from its ``ErrMsg``/``RetMsg`` error object."""

    status_code: int | None
    message: str
    stack_trace: str | None


def encode_payload(payload: Any, invocation_type: str = "RequestResponse") -> str | None:
    """The ``ClientContext`` of an invoke: ``payload`` as JSON text, validated.

    :param payload: a JSON-serialisable value, or a JSON string (sent as it is after checking
        that it parses), or ``None`` (no event: the function receives ``{}``).
    :param invocation_type: ``RequestResponse`` (limit 6 MB) or ``Event`` (limit 128 KB).
    :raises InvalidInputError: not JSON, or over the limit for the invocation type.
    """
    if invocation_type not in INVOCATION_TYPES:
        raise InvalidInputError(
            f"invocation_type must be one of {', '.join(INVOCATION_TYPES)}, got {invocation_type!r}"
        )
    if payload is None:
        return None
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidInputError("the payload bytes are not UTF-8 JSON text") from err
    if isinstance(payload, str):
        try:
            json.loads(payload)
        except ValueError as err:
            raise InvalidInputError(
                f"the payload string is not valid JSON ({err}); pass a dict, or a JSON string"
            ) from err
        text = payload
    else:
        try:
            text = json.dumps(payload, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise InvalidInputError(f"the payload is not JSON-serialisable: {err}") from err
    limit = SYNC_PAYLOAD_LIMIT if invocation_type == "RequestResponse" else ASYNC_PAYLOAD_LIMIT
    size = len(text.encode("utf-8"))
    if size > limit:
        raise InvalidInputError(
            f"the payload is {size} bytes; a {invocation_type} invoke accepts at most {limit} "
            f"bytes ({'6 MB' if limit == SYNC_PAYLOAD_LIMIT else '128 KB'})"
        )
    return text


def decode_return_value(ret_msg: str | None) -> Any:
    """The function's return value from ``RetMsg`` (JSON-encoded by SCF); text that is not JSON
    is returned as it is, an empty ``RetMsg`` as ``None``."""
    if not ret_msg:
        return None
    try:
        return json.loads(ret_msg)
    except ValueError:
        return ret_msg


def _error_object(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def function_error(
    ret_msg: str | None, err_msg: str | None = None, invoke_result: int | None = 0
) -> FunctionError | None:
    """The failure of an execution, or ``None`` when it succeeded.

    An execution failed when ``ErrMsg`` is not empty, when ``InvokeResult`` is not 0, or when
    ``RetMsg`` is SCF's error object (``errorCode``, ``errorMessage`` and a failure
    ``statusCode`` such as 430 user exception, 433 timeout, 434 memory exceeded).
    """
    error = _error_object(err_msg) or _error_object(ret_msg)
    looks_like_error = (
        error is not None
        and "errorCode" in error
        and "errorMessage" in error
        and error.get("statusCode") in FAILURE_STATUS_CODES
    )
    if not err_msg and invoke_result in (0, None) and not looks_like_error:
        return None
    if error is None:
        return FunctionError(None, err_msg or ret_msg or "the function failed", None)
    status = error.get("statusCode")
    return FunctionError(
        status if isinstance(status, int) else None,
        str(error.get("errorMessage") or err_msg or "the function failed"),
        error.get("stackTrace") or None,
    )


def is_log_truncated(log: str | None) -> bool:
    """Whether a ``LogType=Tail`` log may be cut: it does not start at the ``START`` line or it
    fills the 4 KB tail."""
    if not log:
        return True
    return not log.startswith("START RequestId") or len(log.encode("utf-8")) >= LOG_TAIL_BYTES


class SCFHook(TencentCloudBaseHook):
    """Interact with SCF through a ``tencentcloud`` connection.

    One SDK client is built per hook, on first use, pointed at the connection's ``endpoint``
    when it has one (the bundled emulator). Sync invokes that need a longer request timeout get
    their own client, cached per timeout.

    .. seealso:: ``tencentcloud.scf.v20180416.scf_client.ScfClient``

    :param tencentcloud_conn_id: the connection id.
    :param region: overrides the connection's region.
    :param namespace: overrides the connection's SCF namespace (default ``default``).
    :param max_retries: how often a throttled call (and a failed read-only call) is retried.
    :param retry_delay: seconds before the first retry; doubled for each further one.
    :param max_retry_delay: the longest wait between two retries.
    """

    hook_name = "Tencent Cloud Serverless Cloud Function"

    def __init__(
        self,
        tencentcloud_conn_id: str = TencentCloudBaseHook.default_conn_name,
        region: str | None = None,
        namespace: str | None = None,
        max_retries: int = 5,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            tencentcloud_conn_id=tencentcloud_conn_id, region=region, namespace=namespace, **kwargs
        )
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._clients: dict[int, ScfClient] = {}
        self._clients_lock = threading.Lock()

    # -- client and calls ------------------------------------------------------------------------
    @cached_property
    def conn(self) -> ScfClient:
        """The SDK client (built once per hook, on first use)."""
        return self.build_scf_client(DEFAULT_SCF_REQUEST_TIMEOUT)

    def get_conn(self) -> ScfClient:
        return self.conn

    def _client_for(self, request_timeout: int) -> ScfClient:
        if request_timeout <= DEFAULT_SCF_REQUEST_TIMEOUT:
            return self.conn
        with self._clients_lock:
            if request_timeout not in self._clients:
                self._clients[request_timeout] = self.build_scf_client(request_timeout)
            return self._clients[request_timeout]

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_retry_delay, self.retry_delay * (2**attempt))
        return delay * (0.5 + random.random() / 2)  # jitter: many tasks must not retry in step

    def call(
        self,
        action: str,
        params: dict[str, Any],
        *,
        retry: bool = True,
        client: ScfClient | None = None,
    ) -> dict[str, Any]:
        """Send one API action and return its response fields as a dict.

        :param action: e.g. ``GetFunction``.
        :param params: the request fields (``None`` values are dropped).
        :param retry: retry throttling (and, for ``Get*``/``List*`` actions, network errors) with
            backoff. Off for sync invokes.
        :param client: the SDK client to use (default :attr:`conn`).
        :raises TencentCloudApiError: (a subclass of) with the code, message and request id.
        """
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.scf.v20180416 import models

        request = getattr(models, f"{action}Request")()
        request.from_json_string(json.dumps({k: v for k, v in params.items() if v is not None}))
        sdk_client = client or self.conn
        read_only = action.startswith(_READ_ONLY_PREFIXES)
        attempt = 0
        while True:
            try:
                response = getattr(sdk_client, action)(request)
            except TencentCloudSDKException as err:
                error = _translate(err)
                retryable = isinstance(error, TencentCloudThrottledError) or (
                    read_only and isinstance(error, TencentCloudNetworkError)
                )
                if retry and retryable and attempt < self.max_retries:
                    delay = self._backoff(attempt)
                    attempt += 1
                    self.log.warning(
                        "SCF %s failed with %s; retry %d of %d in %.2f s",
                        action,
                        error.code,
                        attempt,
                        self.max_retries,
                        delay,
                    )
                    time.sleep(delay)
                    continue
                raise error from err
            self.log.debug("SCF %s answered (RequestId %s)", action, response.RequestId)
            return json.loads(response.to_json_string())

    # -- functions -------------------------------------------------------------------------------
    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace

    def get_function(
        self, function_name: str, namespace: str | None = None, qualifier: str | None = None
    ) -> dict[str, Any]:
        """``GetFunction``: configuration, ``Status``, ``Environment``, ``Triggers``...

        :raises ResourceNotFoundError: no such function (or qualifier).
        """
        return self.call(
            "GetFunction",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Qualifier": qualifier,
            },
        )

    def function_exists(self, function_name: str, namespace: str | None = None) -> bool:
        try:
            self.get_function(function_name, namespace)
        except ResourceNotFoundError:
            return False
        return True

    def get_function_status(
        self, function_name: str, namespace: str | None = None, qualifier: str | None = None
    ) -> str:
        return self.get_function(function_name, namespace, qualifier)["Status"]

    def list_functions(
        self,
        namespace: str | None = None,
        search_key: str | None = None,
        filters: dict[str, Iterable[str]] | None = None,
        page_size: int = 100,
    ) -> list[dict[str, Any]]:
        """``ListFunctions``, every page.

        :param search_key: fuzzy match on the function name.
        :param filters: e.g. ``{"Status": ["Active"], "tag-team": ["data"]}``.
        """
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.call(
                "ListFunctions",
                {
                    "Namespace": self._ns(namespace),
                    "SearchKey": search_key,
                    "Offset": offset,
                    "Limit": page_size,
                    "Filters": [
                        {"Name": name, "Values": list(values)}
                        for name, values in (filters or {}).items()
                    ]
                    or None,
                },
            )
            functions = page.get("Functions") or []
            found.extend(functions)
            offset += len(functions)
            if not functions or offset >= (page.get("TotalCount") or 0):
                return found

    def zip_code(self, zip_bytes: bytes) -> dict[str, str]:
        """A ``Code`` object carrying a zip package."""
        return {"ZipFile": base64.b64encode(zip_bytes).decode("ascii")}

    def cos_code(self, bucket: str, key: str) -> dict[str, str]:
        """A ``Code`` object pointing at a zip in COS (same region as the function).

        :param bucket: ``name-appid``, or ``name`` with the connection's ``appid``.
        :param key: the object key.
        """
        from scf_snova_core.names import split_bucket

        try:
            name, _ = split_bucket(bucket, self.appid)
        except ValueError as err:
            raise InvalidInputError(str(err)) from err
        return {
            "CosBucketName": name,  # SCF wants the bucket name without -appid
            "CosObjectName": "/" + key.lstrip("/"),
            "CosBucketRegion": self.region,
        }

    def create_function(
        self,
        function_name: str,
        code: dict[str, str],
        handler: str,
        runtime: str,
        memory_size: int = 128,
        timeout: int = 3,
        environment: dict[str, str] | None = None,
        description: str | None = None,
        namespace: str | None = None,
        tags: dict[str, str] | None = None,
        function_type: str = "Event",
    ) -> None:
        """``CreateFunction``; the function is ``Creating`` until SCF settles it (wait with
        :meth:`wait_for_function_status`).

        :param code: from :meth:`zip_code` or :meth:`cos_code`.
        :param environment: variables as a dict (sent as ``Variables`` Key/Value pairs).
        """
        self.call(
            "CreateFunction",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Code": code,
                "CodeSource": "Cos" if "CosObjectName" in code else "ZipFile",
                "Handler": handler,
                "Runtime": runtime,  # always sent: SCF defaults to Python2.7
                "MemorySize": memory_size,
                "Timeout": timeout,
                "Environment": _environment(environment) if environment else None,
                "Description": description,
                "Type": function_type,
                "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()] or None,
            },
        )

    def update_function_code(
        self,
        function_name: str,
        code: dict[str, str],
        handler: str | None = None,
        namespace: str | None = None,
        publish: bool = False,
    ) -> None:
        """``UpdateFunctionCode`` (the function must be Active; it becomes ``Updating``)."""
        self.call(
            "UpdateFunctionCode",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Code": code,
                "CodeSource": "Cos" if "CosObjectName" in code else "ZipFile",
                "Handler": handler,
                "Publish": "TRUE" if publish else None,
            },
        )

    def update_function_configuration(
        self,
        function_name: str,
        namespace: str | None = None,
        description: str | None = None,
        memory_size: int | None = None,
        timeout: int | None = None,
        environment: dict[str, str] | None = None,
        publish: bool = False,
    ) -> None:
        """``UpdateFunctionConfiguration``; ``None`` leaves a field unchanged, an empty
        ``environment`` dict clears every variable."""
        self.call(
            "UpdateFunctionConfiguration",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Description": description,
                "MemorySize": memory_size,
                "Timeout": timeout,
                "Environment": None if environment is None else _environment(environment),
                "Publish": "TRUE" if publish else None,
            },
        )

    def delete_function(
        self, function_name: str, namespace: str | None = None, qualifier: str | None = None
    ) -> None:
        """``DeleteFunction``: one version, or (no qualifier) the function and all versions."""
        self.call(
            "DeleteFunction",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Qualifier": qualifier,
            },
        )

    def publish_version(
        self, function_name: str, description: str | None = None, namespace: str | None = None
    ) -> dict[str, Any]:
        """``PublishVersion``; returns ``FunctionVersion`` (e.g. ``"3"``) and the snapshot."""
        return self.call(
            "PublishVersion",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Description": description,
            },
        )

    # -- waiting ---------------------------------------------------------------------------------
    def wait_for_function_status(
        self,
        function_name: str,
        target_states: Collection[str] = ("Active",),
        namespace: str | None = None,
        timeout: float = 600,
        poll_interval: float = 1.0,
        max_poll_interval: float = 15.0,
    ) -> dict[str, Any]:
        """Poll ``GetFunction`` until its ``Status`` is one of ``target_states``.

        :param timeout: the deadline in seconds.
        :param poll_interval: the first pause between polls; it grows by half each time up to
            ``max_poll_interval``.
        :return: the last ``GetFunction`` response.
        :raises SCFFunctionStateError: the function reached a ``*Failed`` status not waited for.
        :raises SCFWaitTimeoutError: the deadline passed.
        """

        def check() -> dict[str, Any] | None:
            function = self.get_function(function_name, namespace)
            status = function.get("Status")
            if status in target_states:
                return function
            if status in FAILED_STATES:
                raise SCFFunctionStateError(function_name, status, status_reasons(function))
            self.log.info(
                "SCF function %s is %s; waiting for %s",
                function_name,
                status,
                "/".join(target_states),
            )
            return None

        return self._poll(
            check,
            timeout,
            poll_interval,
            max_poll_interval,
            f"SCF function {function_name!r} did not become {'/'.join(target_states)}",
        )

    def wait_for_function_deleted(
        self,
        function_name: str,
        namespace: str | None = None,
        timeout: float = 600,
        poll_interval: float = 1.0,
        max_poll_interval: float = 15.0,
    ) -> None:
        """Poll ``GetFunction`` until the function is gone.

        :raises SCFFunctionStateError: deletion failed (``DeleteFailed``).
        """

        def check() -> bool | None:
            try:
                function = self.get_function(function_name, namespace)
            except ResourceNotFoundError:
                return True
            if function.get("Status") == "DeleteFailed":
                raise SCFFunctionStateError(function_name, "DeleteFailed", status_reasons(function))
            return None

        self._poll(
            check,
            timeout,
            poll_interval,
            max_poll_interval,
            f"SCF function {function_name!r} was not deleted",
        )

    def _poll(
        self,
        check: Callable[[], Any],
        timeout: float,
        poll_interval: float,
        max_poll_interval: float,
        timeout_message: str,
    ) -> Any:
        deadline = time.monotonic() + timeout
        delay = poll_interval
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SCFWaitTimeoutError(f"{timeout_message} within {timeout:g} s")
            time.sleep(min(delay, remaining))
            delay = min(max_poll_interval, delay * 1.5)

    # -- invocations -----------------------------------------------------------------------------
    def invoke(
        self,
        function_name: str,
        payload: Any = None,
        invocation_type: str = "RequestResponse",
        qualifier: str = LATEST,
        namespace: str | None = None,
        log_type: str = "Tail",
        request_timeout: int | None = None,
    ) -> dict[str, Any]:
        """``Invoke``; returns the ``Result`` (``FunctionRequestId``, ``RetMsg``, ``ErrMsg``,
        ``Log``...). A function error is *not* raised here: see :func:`function_error`.

        A sync (``RequestResponse``) invoke is sent exactly once, throttled or not. Its SDK
        request timeout is ``request_timeout``, or the longest sync run SCF allows
        (:data:`SYNC_INVOKE_MAX_SECONDS`) plus :data:`INVOKE_TIMEOUT_MARGIN` seconds, so no run
        is cut off. (It used to be the function's own Timeout plus the margin, read with a
        ``GetFunction`` before every invoke: one more API call, which made an invoke of a quick
        function ~10% slower; see docs/benchmarks.md.)

        :param payload: the event: a JSON-serialisable value or a JSON string.
        :param invocation_type: ``RequestResponse`` (sync) or ``Event`` (async: only
            ``FunctionRequestId`` is returned).
        :param log_type: ``Tail`` returns the last 4 KB of the log (sync only), ``None`` none.
        :raises InvalidInputError: the payload is not JSON or too large.
        """
        client_context = encode_payload(payload, invocation_type)
        sync = invocation_type == "RequestResponse"
        params = {
            "FunctionName": function_name,
            "Namespace": self._ns(namespace),
            "Qualifier": qualifier,
            "InvocationType": invocation_type,
            "ClientContext": client_context,
            "LogType": log_type if sync else None,
        }
        if not sync:
            return self.call("Invoke", params)["Result"]
        if request_timeout is None:
            request_timeout = SYNC_INVOKE_MAX_SECONDS + INVOKE_TIMEOUT_MARGIN
        client = self._client_for(max(request_timeout, DEFAULT_SCF_REQUEST_TIMEOUT))
        return self.call("Invoke", params, retry=False, client=client)["Result"]

    def get_request_status(
        self, function_name: str, function_request_id: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """``GetRequestStatus`` of one execution (``RetCode`` 0 success, 1 running, -1 failed),
        or ``None`` while SCF has no record of it yet."""
        response = self.call(
            "GetRequestStatus",
            {
                "FunctionName": function_name,
                "FunctionRequestId": function_request_id,
                "Namespace": self._ns(namespace),
            },
        )
        data = response.get("Data") or []
        return data[0] if data else None

    def wait_for_invocation(
        self,
        function_name: str,
        function_request_id: str,
        namespace: str | None = None,
        timeout: float = 3600,
        poll_interval: float = 5.0,
        max_poll_interval: float = 30.0,
    ) -> dict[str, Any]:
        """Poll ``GetRequestStatus`` until the execution ends; returns its status record.

        :raises SCFWaitTimeoutError: still running at the deadline.
        """

        def check() -> dict[str, Any] | None:
            status = self.get_request_status(function_name, function_request_id, namespace)
            if status is None or status.get("RetCode") == RET_CODE_RUNNING:
                return None
            return status

        return self._poll(
            check,
            timeout,
            poll_interval,
            max_poll_interval,
            f"SCF invocation {function_request_id} of {function_name!r} did not finish",
        )

    def get_function_logs(
        self,
        function_name: str | None = None,
        namespace: str | None = None,
        function_request_id: str | None = None,
        qualifier: str | None = None,
        start_time: str | None = None,
        end_time: str | None = None,
        limit: int = 20,
        offset: int = 0,
        order: str = "desc",
    ) -> list[dict[str, Any]]:
        """``GetFunctionLogs``: execution records with their complete ``Log``.

        :param start_time: ``YYYY-MM-DD HH:MM:SS``; at most one day before ``end_time``.
        """
        response = self.call(
            "GetFunctionLogs",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "FunctionRequestId": function_request_id,
                "Qualifier": qualifier,
                "StartTime": start_time,
                "EndTime": end_time,
                "Offset": offset,
                "Limit": limit,
                "Order": order,
                "OrderBy": "start_time",
            },
        )
        return response.get("Data") or []

    def get_invocation_log(
        self,
        function_name: str,
        function_request_id: str,
        namespace: str | None = None,
        timeout: float = 30.0,
        poll_interval: float = 1.0,
    ) -> dict[str, Any] | None:
        """The ``FunctionLog`` record of one execution, whose ``Log`` is complete (``Tail`` keeps
        only 4 KB). SCF may deliver logs with a short delay: this polls until the record says the
        execution finished, up to ``timeout`` seconds, then returns what it has (or ``None``)."""
        deadline = time.monotonic() + timeout
        record = None
        while True:
            records = self.get_function_logs(
                function_name, namespace, function_request_id=function_request_id, limit=1
            )
            record = records[0] if records else record
            if record is not None and record.get("InvokeFinished") == 1:
                return record
            if time.monotonic() + poll_interval > deadline:
                return record
            time.sleep(poll_interval)

    # -- triggers --------------------------------------------------------------------------------
    def create_trigger(
        self,
        function_name: str,
        trigger_name: str,
        trigger_type: str,
        trigger_desc: str | None = None,
        namespace: str | None = None,
        qualifier: str | None = LATEST,
        enabled: bool = True,
        custom_argument: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """``CreateTrigger``; returns the ``TriggerInfo``.

        :param trigger_type: ``timer``, ``cos``, ...
        :param trigger_desc: a raw 7-field cron for timers, ``{"event", "filter"}`` JSON for COS.
        """
        response = self.call(
            "CreateTrigger",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "TriggerName": trigger_name,
                "Type": trigger_type,
                "TriggerDesc": trigger_desc,
                "Qualifier": qualifier,
                "Enable": "OPEN" if enabled else "CLOSE",
                "CustomArgument": custom_argument,
                "Description": description,
            },
        )
        return response.get("TriggerInfo") or {}

    def list_triggers(
        self, function_name: str, namespace: str | None = None, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """``ListTriggers``, every page (timer ``TriggerDesc`` comes back as ``{"cron": ...}``)."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.call(
                "ListTriggers",
                {
                    "FunctionName": function_name,
                    "Namespace": self._ns(namespace),
                    "Offset": offset,
                    "Limit": page_size,
                    "OrderBy": "add_time",
                    "Order": "ASC",
                },
            )
            triggers = page.get("Triggers") or []
            found.extend(triggers)
            offset += len(triggers)
            if not triggers or offset >= (page.get("TotalCount") or 0):
                return found

    def delete_trigger(
        self,
        function_name: str,
        trigger_name: str,
        trigger_type: str,
        trigger_desc: str | None = None,
        namespace: str | None = None,
        qualifier: str | None = LATEST,
    ) -> None:
        """``DeleteTrigger`` (a COS trigger needs its ``TriggerDesc`` to say which event)."""
        self.call(
            "DeleteTrigger",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "TriggerName": trigger_name,
                "Type": trigger_type,
                "TriggerDesc": trigger_desc,
                "Qualifier": qualifier,
            },
        )

    # -- code in COS -----------------------------------------------------------------------------
    def cos_object_etag(self, bucket: str, key: str) -> str:
        """The ETag of a COS object (what a deploy from COS hashes)."""
        from airflow_scf_snova.hooks.cos import COSHook

        cos = COSHook(tencentcloud_conn_id=self.tencentcloud_conn_id, region=self.region)
        return cos.head_object(bucket, key).etag


def status_reasons(function: dict[str, Any]) -> list[tuple[str, str]]:
    """``StatusReasons`` of a ``GetFunction`` response as ``(ErrorCode, ErrorMessage)`` pairs."""
    return [
        (str(r.get("ErrorCode") or ""), str(r.get("ErrorMessage") or ""))
        for r in function.get("StatusReasons") or []
    ]


def environment_variables(function: dict[str, Any]) -> dict[str, str]:
    """The ``Environment.Variables`` of a ``GetFunction`` response as a dict."""
    variables = (function.get("Environment") or {}).get("Variables") or []
    return {v["Key"]: v.get("Value", "") for v in variables if v.get("Key")}


def _environment(variables: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    if not variables:
        # SCF ignores an empty list; one empty pair is how its own tools clear the variables.
        return {"Variables": [{"Key": "", "Value": ""}]}
    return {"Variables": [{"Key": k, "Value": v} for k, v in variables.items()]}


def _translate(err: Any) -> TencentCloudApiError:
    message = err.get_message()
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    message = str(message or "")
    if len(message) > 1000:
        message = message[:1000] + "..."
    return TencentCloudApiError.from_code(
        err.get_code() or "ClientError", message, err.get_request_id()
    )
