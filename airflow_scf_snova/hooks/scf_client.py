"""The SCF client of :class:`~airflow_scf_snova.hooks.scf.SCFHook`: one SDK ``ScfClient`` per
hook, and :meth:`SCFClientHook.call`, which sends one API action with typed errors and retries
(through the ``ScfClient``, or another API 3.0 client such as the ``ClsClient`` that reads
function logs).

- every SDK error becomes a typed exception of :mod:`airflow_scf_snova.exceptions` carrying the
  error code, message and request id (``ResourceNotFound.Function`` and
  ``ResourceNotFound.FunctionName`` both raise ``ResourceNotFoundError``);
- throttling (``RequestLimitExceeded*``), and network errors of read-only actions, are retried
  with exponential backoff and jitter; a caller turns retries off for calls that must never be
  sent twice (a synchronous invoke).

The SDK is imported inside methods only.
"""

from __future__ import annotations

import importlib
import json
import random
import threading
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_scf_snova.exceptions import (
    TencentCloudApiError,
    TencentCloudNetworkError,
    TencentCloudThrottledError,
)
from airflow_scf_snova.hooks.base import DEFAULT_SCF_REQUEST_TIMEOUT, TencentCloudBaseHook

if TYPE_CHECKING:
    from tencentcloud.scf.v20180416.scf_client import ScfClient

#: Actions that only read: network errors on them are retried like throttling.
_READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Search")


class SCFClientHook(TencentCloudBaseHook):
    """The client and the calls every part of :class:`~airflow_scf_snova.hooks.scf.SCFHook`
    builds on; it takes the same arguments (use :class:`~airflow_scf_snova.hooks.scf.SCFHook`).
    """

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
        :param retry: retry throttling (and, for read-only ``Get*``/``List*``/``Describe*``/
            ``Search*`` actions, network errors) with backoff. Off for sync invokes.
        :param client: the SDK client to use (default :attr:`conn`); the request model comes
            from its service's ``models`` module.
        :raises TencentCloudApiError: (a subclass of) with the code, message and request id.
        """
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )

        sdk_client = client or self.conn
        request = getattr(_models(sdk_client), f"{action}Request")()
        request.from_json_string(json.dumps({k: v for k, v in params.items() if v is not None}))
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
                        "%s %s failed with %s; retry %d of %d in %.2f s",
                        _service(sdk_client),
                        action,
                        error.code,
                        attempt,
                        self.max_retries,
                        delay,
                    )
                    time.sleep(delay)
                    continue
                raise error from err
            self.log.debug(
                "%s %s answered (RequestId %s)", _service(sdk_client), action, response.RequestId
            )
            return json.loads(response.to_json_string())

    def list_all(
        self, action: str, params: dict[str, Any], field: str, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """Every item of a paged ``List*`` action: pages of ``page_size`` read until
        ``TotalCount`` items (or an empty page) came back.

        :param field: the response field holding the items, e.g. ``Functions``.
        """
        found: list[dict[str, Any]] = []
        while True:
            page = self.call(action, {**params, "Offset": len(found), "Limit": page_size})
            items = page.get(field) or []
            found.extend(items)
            if not items or len(found) >= (page.get("TotalCount") or 0):
                return found

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace


def _sdk_module(client: Any) -> str:
    """``tencentcloud.<service>.<version>.<service>_client`` of an SDK client."""
    for klass in type(client).__mro__:
        if klass.__module__.startswith("tencentcloud.") and klass.__module__.endswith("_client"):
            return klass.__module__
    raise TypeError(f"{type(client).__name__} is not a tencentcloud SDK client")


def _models(client: Any) -> Any:
    """The request and response models of an SDK client's service and version."""
    return importlib.import_module(_sdk_module(client).rsplit(".", 1)[0] + ".models")


def _service(client: Any) -> str:
    return _sdk_module(client).split(".")[1].upper()


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
