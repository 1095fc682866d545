"""SCF function logs: the log part of :class:`~airflow_scf_snova.hooks.scf.SCFHook`.

SCF ships every line of every run to the function's CLS (Cloud Log Service) topic, one record per
line, and no longer serves ``GetFunctionLogs``. The log of one run is therefore searched in CLS
(``SearchLog``, API 2020-10-16, through ``tencentcloud-sdk-python-cls``) by its request id, in the
topic ``GetFunction`` names (``ClsTopicId``); https://cloud.tencent.com/document/product/583/43329
describes the search, https://cloud.tencent.com/document/product/583/60336 the record fields
(``SCF_RequestId``, ``SCF_RetryNum``, ``SCF_Message``, ``SCF_Type``, ``SCF_StatusCode`` with 202
while the run is going...). Lines arrive in real time, so a run's log is complete once its
``Report`` line is there; :meth:`SCFLogsMixin.invocation_log` waits for it.

A sync invoke returns the last 4 KB of the log itself (``LogType=Tail``):
:meth:`SCFLogsMixin.complete_log` uses it when it is whole and searches CLS only when it is cut.
:meth:`SCFLogsMixin.mask_function_secrets` registers the secret-looking values of the function's
environment with Airflow's masker before a log is shown. The SDK is imported inside methods
only.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from scf_snova_core.apitime import CLOCK_MARGIN, epoch_ms
from scf_snova_core.limits import CLS_SEARCH_MAX_LIMIT, REQUEST_STATUS_MAX_WINDOW
from scf_snova_core.states import STATUS_CODE_RUNNING

from airflow_scf_snova.exceptions import TencentCloudApiError, TencentCloudError
from airflow_scf_snova.hooks.scf_client import SCFClientHook
from airflow_scf_snova.scf.environment import environment_variables, mask_environment
from airflow_scf_snova.scf.payloads import is_log_truncated

if TYPE_CHECKING:
    from tencentcloud.cls.v20201016.cls_client import ClsClient

#: Seconds searched before the invoke and after now, for clocks that disagree a little.
#: What CLS answers when a page would be too large: the page is asked for again, smaller.
TOO_LARGE = "LimitExceeded.SearchResultTooLarge"


@dataclass(frozen=True)
class InvocationLog:
    """The log of one run, read from CLS.

    :param text: every line, in order; a retried run's attempts one after the other, each after
        the first under a ``--- retry N (SCF_RetryNum N) ---`` line.
    :param attempts: how many attempts (``SCF_RetryNum`` 0, 1, ...) have lines.
    :param status_code: the last attempt's status code (200, 430, 433...), ``None`` while it runs.
    :param complete: whether the last attempt's ``Report`` line has arrived.
    """

    text: str
    attempts: int
    status_code: int | None
    complete: bool


def log_query(function_request_id: str) -> str:
    """The CLS query for the lines of one run (every attempt)."""
    quoted = function_request_id.replace("\\", "\\\\").replace('"', '\\"')
    return f'SCF_RequestId:"{quoted}"'


def assemble_log(records: list[dict[str, Any]]) -> InvocationLog:
    """Put the records of one run (the fields of each ``LogJson``, with ``Time``) in order."""
    ordered = sorted(records, key=lambda r: (int(r.get("SCF_RetryNum") or 0), int(r["Time"])))
    attempts: dict[int, list[dict[str, Any]]] = {}
    for record in ordered:
        attempts.setdefault(int(record.get("SCF_RetryNum") or 0), []).append(record)
    parts = []
    for retry, lines in attempts.items():
        if retry:
            parts.append(f"--- retry {retry} (SCF_RetryNum {retry}) ---")
        parts.extend(str(r.get("SCF_Message", "")) for r in lines)
    last = attempts[max(attempts)] if attempts else []
    codes = [int(r["SCF_StatusCode"]) for r in last if "SCF_StatusCode" in r]
    finals = [code for code in codes if code != STATUS_CODE_RUNNING]
    complete = any(
        r.get("SCF_Type") == "Platform" and str(r.get("SCF_Message", "")).startswith("Report ")
        for r in last
    )
    return InvocationLog(
        text="\n".join(parts),
        attempts=len(attempts),
        status_code=finals[-1] if finals else None,
        complete=complete,
    )


class SCFLogsMixin(SCFClientHook):
    """The log part of :class:`~airflow_scf_snova.hooks.scf.SCFHook`: CLS searches for the log
    of one run."""

    @cached_property
    def cls_conn(self) -> ClsClient:
        """The CLS SDK client (built once per hook, on first use)."""
        return self.build_cls_client()

    @cached_property
    def _log_settings(self) -> dict[tuple[str, str], Future]:
        return {}

    @cached_property
    def _log_settings_lock(self) -> threading.Lock:
        return threading.Lock()

    def _log_settings_future(
        self, function_name: str, namespace: str | None, background: bool = False
    ) -> Future:
        """The function's CLS topic and environment (one ``GetFunction``, once per hook)."""
        key = (self._ns(namespace), function_name)
        with self._log_settings_lock:
            future = self._log_settings.get(key)
            fetch = future is None
            if future is None:
                future = self._log_settings[key] = Future()
        if fetch:

            def get_function() -> None:
                try:
                    params = {"FunctionName": key[1], "Namespace": key[0]}
                    function = self.call("GetFunction", params)
                    topic = function.get("ClsTopicId") or None
                    future.set_result((topic, environment_variables(function)))
                except BaseException as err:
                    future.set_exception(err)

            if background:
                self.get_conn()  # the connection is read (and the client built) in this thread
                threading.Thread(target=get_function, name="scf-log-settings", daemon=True).start()
            else:
                get_function()
        return future

    def prefetch_log_settings(self, function_name: str, namespace: str | None = None) -> None:
        """Start reading what showing the function's log needs (its ``GetFunction``) in the
        background, so that it happens while a sync invoke waits for the run."""
        self._log_settings_future(function_name, namespace, background=True)

    def _function_log_settings(
        self, function_name: str, namespace: str | None
    ) -> tuple[str | None, dict[str, str]]:
        return self._log_settings_future(function_name, namespace).result()

    def function_log_topic(self, function_name: str, namespace: str | None = None) -> str | None:
        """The CLS topic a function's logs go to (``GetFunction``'s ``ClsTopicId``), or ``None``
        when it ships none; remembered per hook (with the function's environment)."""
        return self._function_log_settings(function_name, namespace)[0]

    def mask_function_secrets(self, function_name: str, namespace: str | None = None) -> None:
        """Register with Airflow's secret masker the function's environment values whose key
        looks secret (as a deploy does), so that a function printing one shows ``***`` in the
        task log of the task that reads its log; a function that cannot be read is logged."""
        try:
            variables = self._function_log_settings(function_name, namespace)[1]
        except TencentCloudError as err:
            self.log.warning("Cannot read the environment of %s to mask it: %s", function_name, err)
            return
        mask_environment(variables)

    def search_log(
        self,
        topic_id: str,
        query: str,
        start_ms: int,
        end_ms: int,
        limit: int = CLS_SEARCH_MAX_LIMIT,
        offset: int = 0,
        sort: str = "asc",
    ) -> dict[str, Any]:
        """CLS ``SearchLog`` over ``[start_ms, end_ms)`` (epoch milliseconds).

        :return: the response: ``Results`` (``LogInfo``: ``Time``, ``LogJson``...), ``ListOver``.
        """
        return self.call(
            "SearchLog",
            {
                "TopicId": topic_id,
                "From": start_ms,
                "To": end_ms,
                "QueryString": query,
                "Sort": sort,
                "Limit": limit,
                "Offset": offset,
            },
            client=self.cls_conn,
        )

    def invocation_log_records(
        self, topic_id: str, function_request_id: str, since: float, until: float
    ) -> list[dict[str, Any]]:
        """Every CLS record of one run (the fields of its ``LogJson``, plus ``Time``), read page
        by page with ``Offset`` (a ``Context`` chain stops at 10,000 logs); a page CLS finds too
        large is asked for again at half the size.

        :param since: epoch seconds: no line is older. ``until``: none is newer.
        """
        records: list[dict[str, Any]] = []
        limit = CLS_SEARCH_MAX_LIMIT
        query = log_query(function_request_id)
        while True:
            try:
                page = self.search_log(
                    topic_id, query, epoch_ms(since), epoch_ms(until), limit, len(records)
                )
            except TencentCloudApiError as err:
                if err.code != TOO_LARGE or limit == 1:
                    raise
                limit = max(1, limit // 2)
                continue
            results = page.get("Results") or []
            for result in results:
                records.append({**json.loads(result["LogJson"]), "Time": result["Time"]})
            if page.get("ListOver") or len(results) < limit:
                return records

    def invocation_log(
        self,
        function_name: str,
        function_request_id: str,
        namespace: str | None = None,
        invoked_at: float | None = None,
        timeout: float = 30.0,
        poll_interval: float = 1.0,
    ) -> InvocationLog | None:
        """The log of one run from CLS, waiting up to ``timeout`` seconds for its ``Report`` line
        (lines arrive in real time); what has arrived by then otherwise, or ``None`` when the
        function ships no logs or none arrived.

        :param invoked_at: when the run was invoked (epoch seconds); the search starts a minute
            before. Unknown: a day before now.
        """
        topic_id = self.function_log_topic(function_name, namespace)
        if topic_id is None:
            self.log.warning("SCF function %s ships its logs to no CLS topic", function_name)
            return None
        since = (time.time() - REQUEST_STATUS_MAX_WINDOW) if invoked_at is None else invoked_at
        deadline = time.monotonic() + timeout
        while True:
            records = self.invocation_log_records(
                topic_id, function_request_id, since - CLOCK_MARGIN, time.time() + CLOCK_MARGIN
            )
            log = assemble_log(records) if records else None
            if log is not None and log.complete:
                return log
            if time.monotonic() + poll_interval > deadline:
                return log
            time.sleep(poll_interval)

    def complete_log(
        self,
        function_name: str,
        function_request_id: str | None,
        tail: str | None = None,
        namespace: str | None = None,
        invoked_at: float | None = None,
        timeout: float = 30.0,
    ) -> tuple[str | None, InvocationLog | None]:
        """The complete log of one run: ``tail`` (the ``Log`` a sync invoke returned) when it is
        whole, otherwise the log read from CLS (:meth:`invocation_log`); the tail again, with a
        warning, when CLS has not got it all.

        :return: the log text (``None`` when there is none), and the CLS log when one was read.
        """
        if not function_request_id or (tail is not None and not is_log_truncated(tail)):
            return tail, None
        try:
            log = self.invocation_log(
                function_name, function_request_id, namespace, invoked_at, timeout=timeout
            )
        except TencentCloudError as err:
            self.log.warning("Could not read the function log from CLS: %s", err)
            log = None
        if log is not None and (log.complete or not tail):
            if not log.complete:
                self.log.warning("The function log in CLS is not complete yet")
            return log.text, log
        if tail:
            self.log.warning("Only the last 4 KB of the function log are available")
        return tail, log
