"""The request cycle of Tencent Cloud API 3.0, shared by the SCF and CLS halves: read a request,
check its version, method, TC3 signature and region, consume injected faults, and answer in the
``{"Response": ...}`` envelope. The layers it uses (:mod:`.scf.urls`, :mod:`.scf.auth`,
:mod:`.scf.wire`, :mod:`.scf.exceptions`) are SCF's, which CLS shares.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from scf_snova_core.limits import API_REQUEST_BODY_LIMIT

from .config import EmulatorConfig
from .faults import Faults
from .http import Exchange
from .scf import urls
from .scf.auth import Tc3Verifier
from .scf.exceptions import (
    InternalError,
    InvalidParameter,
    MissingParameter,
    RequestLimitExceeded,
    RequestSizeLimitExceeded,
    ScfError,
    UnsupportedOperation,
    UnsupportedRegion,
)
from .scf.wire import new_request_id, send
from .stats import Stats

log = logging.getLogger(__name__)


def serve_api(exchange: Exchange, serve: Callable[[Exchange], dict], label: str) -> None:
    """Answer one API 3.0 request with ``serve``'s fields, or the error it raised, in the
    envelope (:func:`~.wire.send`).

    :param label: the service's name, for the emulator's own log.
    """
    request_id = new_request_id()
    try:
        fields = serve(exchange)
    except ScfError as error:
        log.debug("%s error %s: %s", label, error.code, error.message)
        send(exchange, request_id, error=error)
    except Exception as exc:
        log.exception("%s emulator failed on %s", label, exchange.headers.get("X-TC-Action"))
        send(exchange, request_id, error=InternalError(None, f"emulator error: {exc!r}"))
    else:
        send(exchange, request_id, fields)


def read_api_request(
    exchange: Exchange,
    *,
    verifier: Tc3Verifier,
    faults: Faults,
    region: str,
    service: str,
    api_version: str,
) -> tuple[str, dict]:
    """The action and the JSON parameters of an API 3.0 request, once its version, method,
    signature and region are checked and injected faults (latency, throttling) consumed.

    :param service: the fault name of the service (``scf``, ``cls``).
    :param api_version: the ``X-TC-Version`` the service serves.
    """
    faults.delay(service)
    body = exchange.read_body()
    if len(body) > API_REQUEST_BODY_LIMIT:
        raise RequestSizeLimitExceeded(
            None,
            f"the request body is {len(body)} bytes; API 3.0 accepts at most "
            f"{API_REQUEST_BODY_LIMIT} (upload a large code package to COS instead)",
        )
    action = urls.action(exchange.headers, api_version)
    if exchange.method != "POST":
        raise UnsupportedOperation(
            None, "the emulator serves POST with a JSON body only (the SDK's default)"
        )
    verifier.verify(exchange.method, exchange.raw_query, exchange.headers, body)
    asked = (exchange.headers.get("X-TC-Region") or "").strip()
    if not asked:
        raise MissingParameter(None, f"the X-TC-Region header is required for {service.upper()}")
    if asked != region:
        raise UnsupportedRegion(None, f"region {asked} is not served; the emulator serves {region}")
    if faults.take_throttle(action):
        raise RequestLimitExceeded(None, "request rate limit exceeded (injected fault)")
    try:
        params = json.loads(body or b"{}")
    except ValueError as exc:
        raise InvalidParameter("Payload", f"the body is not JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise InvalidParameter("Payload", "the body must be a JSON object")
    return action, params


class ApiService:
    """An API 3.0 service on the emulator's port; a subclass names its ``SERVICE`` (the TC3
    credential scope and the faults' service name) and ``API_VERSION``, and serves the actions
    in :meth:`dispatch`.

    :param config: the emulator's settings (keys, token, region).
    :param faults: injected faults.
    :ivar verifier: the TC3 verifier of the service's requests.
    """

    SERVICE = "scf"
    API_VERSION = urls.API_VERSION

    def __init__(self, config: EmulatorConfig, faults: Faults) -> None:
        self._config = config
        self._faults = faults
        self.stats = Stats()  # the server shares its own
        self.verifier = Tc3Verifier(
            config.secret_id, config.secret_key, config.token, service=self.SERVICE
        )

    def handle(self, exchange: Exchange) -> None:
        serve_api(exchange, self._serve, self.SERVICE.upper())

    def _serve(self, exchange: Exchange) -> dict:
        action, params = read_api_request(
            exchange,
            verifier=self.verifier,
            faults=self._faults,
            region=self._config.region,
            service=self.SERVICE,
            api_version=self.API_VERSION,
        )
        self.stats.count(self.SERVICE, action)
        return self.dispatch(action, params)

    def dispatch(self, action: str, params: dict) -> dict:
        """The response fields of ``action`` (without ``RequestId``)."""
        raise NotImplementedError
