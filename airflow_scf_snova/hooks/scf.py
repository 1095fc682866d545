"""Tencent Cloud Serverless Cloud Function (SCF) through ``tencentcloud-sdk-python-scf``.

:class:`SCFHook` wraps the SDK's ``ScfClient`` (API 2018-04-16) and hides its surprises:

- every SDK error becomes a typed exception of :mod:`airflow_scf_snova.exceptions` carrying the
  error code, message and request id (``ResourceNotFound.Function`` and
  ``ResourceNotFound.FunctionName`` both raise ``ResourceNotFoundError``);
- throttling (``RequestLimitExceeded*``) is retried with exponential backoff, except for a
  synchronous invoke: the client never sends a sync ``Invoke`` twice, since that could run the
  function twice;
- a sync invoke gets an SDK request timeout above SCF's own cap on sync runs (the SDK's default
  of 60 s cuts longer functions off);
- create, update, publish and delete are asynchronous on SCF:
  :meth:`SCFHook.wait_for_function_status` polls ``GetFunction`` with backoff until a target
  status, a ``*Failed`` status or a deadline;
- an async invocation is followed with ``GetRequestStatus``, always within a ``StartTime`` ..
  ``EndTime`` window around the invoke (SCF searches only the last 15 minutes without one),
  through SCF's retries of a failed run, or, for an async-execution function, with
  ``GetAsyncEventStatus``; the complete log of any invocation is read from CLS by its request id
  when the 4 KB tail is cut (SCF no longer serves ``GetFunctionLogs``).

The hook is assembled from parts named after what they handle, each in a module beside this
one: :mod:`.scf_client` (the client, the calls and their retries), :mod:`.scf_functions`
(functions, their status waits and :meth:`~SCFHook.ensure_function`, create-or-update),
:mod:`.scf_layers` (layers), :mod:`.scf_triggers` (timer and COS triggers, and
:meth:`~SCFHook.ensure_timer_trigger` / :meth:`~SCFHook.ensure_cos_triggers`, which reconcile
them with a wanted definition), :mod:`.scf_async` (async retry settings, async events) and
:mod:`.scf_logs` (function logs in CLS). This module adds the invocations.

Responses are returned as plain dicts with the API's field names (``Status``, ``Result``...). The
SDK is imported inside methods only.
"""

from __future__ import annotations

from typing import Any

from scf_snova_core.limits import SYNC_INVOKE_MAX_SECONDS
from scf_snova_core.states import LATEST, SYNC

from airflow_scf_snova.exceptions import SCFFunctionExecutionError, TencentCloudApiError
from airflow_scf_snova.hooks.base import DEFAULT_SCF_REQUEST_TIMEOUT
from airflow_scf_snova.hooks.scf_async import (
    EVENT_RUNNING,
    RetryFollower,
    SCFAsyncMixin,
    latest_attempt,
)
from airflow_scf_snova.hooks.scf_functions import SCFFunctionsMixin
from airflow_scf_snova.hooks.scf_layers import SCFLayersMixin
from airflow_scf_snova.hooks.scf_logs import SCFLogsMixin
from airflow_scf_snova.hooks.scf_triggers import SCFTriggersMixin
from airflow_scf_snova.scf.payloads import encode_payload

#: Seconds added to the longest sync run to get the SDK request timeout of a sync invoke.
INVOKE_TIMEOUT_MARGIN = 30
#: The API error of a sync invoke SCF stopped waiting for (the function goes on running).
SYNC_WAIT_EXCEEDED = "FailedOperation.InvokeFunction"


class SCFHook(SCFFunctionsMixin, SCFTriggersMixin, SCFLayersMixin, SCFAsyncMixin, SCFLogsMixin):
    """Interact with SCF through a ``tencentcloud`` connection.

    One SDK client is built per hook, on first use, pointed at the connection's ``endpoint``
    when it has one (the emulator). Sync invokes that need a longer request timeout get
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

    # -- invocations -----------------------------------------------------------------------------
    def invoke(
        self,
        function_name: str,
        payload: Any = None,
        invocation_type: str = SYNC,
        qualifier: str = LATEST,
        namespace: str | None = None,
        log_type: str = "Tail",
        request_timeout: int | None = None,
    ) -> dict[str, Any]:
        """``Invoke``; returns the ``Result`` (``FunctionRequestId``, ``RetMsg``, ``ErrMsg``,
        ``Log``...). A function error is *not* raised here: see
        :func:`~airflow_scf_snova.scf.payloads.function_error`.

        A sync (``RequestResponse``) invoke is sent exactly once, throttled or not. Its SDK
        request timeout is ``request_timeout``, or the longest sync run SCF allows
        (:data:`SYNC_INVOKE_MAX_SECONDS`) plus :data:`INVOKE_TIMEOUT_MARGIN` seconds, so no run
        is cut off, and no ``GetFunction`` is needed first: an invoke is one API call.

        :param payload: the event: a JSON-serialisable value or a JSON string.
        :param invocation_type: ``RequestResponse`` (sync) or ``Event`` (async: only
            ``FunctionRequestId`` is returned).
        :param log_type: ``Tail`` returns the last 4 KB of the log (sync only), ``None`` none.
        :raises InvalidInputError: the payload is not JSON or too large.
        :raises SCFFunctionExecutionError: SCF stopped waiting for a sync run (after 300 s); the
            function may still be running, so the call must not be repeated.
        """
        client_context = encode_payload(payload, invocation_type)
        sync = invocation_type == SYNC
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
        try:
            return self.call("Invoke", params, retry=False, client=client)["Result"]
        except TencentCloudApiError as err:
            if err.code != SYNC_WAIT_EXCEEDED:
                raise
            raise SCFFunctionExecutionError(
                function_name,
                None,
                None,
                f"SCF stopped waiting for the sync invoke ({err}); the function may still be "
                f"running. A sync invoke waits at most {SYNC_INVOKE_MAX_SECONDS} s: invoke "
                "functions that may run longer asynchronously (Event)",
            ) from err

    def get_request_status(
        self,
        function_name: str,
        function_request_id: str,
        namespace: str | None = None,
        invoked_at: float | None = None,
    ) -> dict[str, Any] | None:
        """``GetRequestStatus`` of the last attempt of one execution (``RetCode`` 0 success,
        1 running, -1 failed; ``RetryNum`` 0 for the first attempt), or ``None`` while SCF has no
        record of it yet.

        :param invoked_at: when the run was invoked (epoch seconds); the search window runs from
            a minute before it (:func:`scf_snova_core.apitime.status_window`). Unknown: the last
            day (SCF itself would search only the last 15 minutes).
        """
        return latest_attempt(
            self.get_request_attempts(function_name, function_request_id, namespace, invoked_at)
        )

    def wait_for_invocation(
        self,
        function_name: str,
        function_request_id: str,
        namespace: str | None = None,
        timeout: float = 3600,
        poll_interval: float = 5.0,
        max_poll_interval: float = 30.0,
        invoked_at: float | None = None,
        retries: int | None = None,
    ) -> dict[str, Any]:
        """Poll ``GetRequestStatus`` until an asynchronous execution of an ordinary function is
        over: an attempt succeeded, or the last retry SCF makes failed (each failed attempt
        with a retry to come is logged). Returns the status record of the last attempt.

        :param invoked_at: when the run was invoked (epoch seconds; see
            :meth:`get_request_status`).
        :param retries: SCF's retry count for the function; read from the function's async
            retry settings when an attempt fails and this is ``None``.
        :raises SCFWaitTimeoutError: still running (or waiting for a retry) at the deadline.
        """
        follower = RetryFollower(self, function_name, namespace, retries)

        def check() -> dict[str, Any] | None:
            status = self.get_request_status(
                function_name, function_request_id, namespace, invoked_at
            )
            return status if follower.settled(status) else None

        return self._poll(
            check,
            timeout,
            poll_interval,
            max_poll_interval,
            f"SCF invocation {function_request_id} of {function_name!r} did not finish",
        )

    def wait_for_async_event(
        self,
        invoke_request_id: str,
        timeout: float = 3600,
        poll_interval: float = 5.0,
        max_poll_interval: float = 30.0,
    ) -> dict[str, Any]:
        """Poll ``GetAsyncEventStatus`` until an async-execution function's event is no longer
        ``RUNNING``; returns its status (``FINISHED``, ``ABORTED`` or ``FAILED``).

        :raises SCFWaitTimeoutError: still running at the deadline.
        """

        def check() -> dict[str, Any] | None:
            status = self.get_async_event_status(invoke_request_id)
            return None if status.get("Status") in (None, EVENT_RUNNING) else status

        return self._poll(
            check,
            timeout,
            poll_interval,
            max_poll_interval,
            f"SCF async event {invoke_request_id} did not finish",
        )
