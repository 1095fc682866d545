"""CLS layer ``service``: the entry point the server calls for CLS requests.

:meth:`ClsService.handle` serves one API 3.0 request as SCF's service does
(:class:`~..api3.ApiService`: the envelope, TC3 verification for service ``cls``, region,
injected faults) and answers it from :mod:`.responses`.
"""

from __future__ import annotations

from pathlib import Path

from ..api3 import ApiService
from ..config import EmulatorConfig
from ..faults import Faults
from ..http import Exchange
from . import urls
from .backend import ClsBackend
from .responses import ClsResponses
from .storage import ClsStorage


class ClsService(ApiService):
    """CLS API 3.0 (version 2020-10-16) on the emulator's HTTP server.

    :param config: the emulator's settings (keys, region).
    :param faults: injected faults (throttling, latency: service ``cls``).
    :param root: the directory CLS state lives in.
    """

    SERVICE = "cls"
    API_VERSION = urls.API_VERSION

    def __init__(self, config: EmulatorConfig, faults: Faults, root: Path) -> None:
        super().__init__(config, faults)
        self.backend = ClsBackend(ClsStorage(root))
        self.responses = ClsResponses(self.backend)

    def handles(self, exchange: Exchange) -> bool:
        return urls.is_cls(exchange.headers)

    def dispatch(self, action: str, params: dict) -> dict:
        return getattr(self.responses, urls.method_name(action))(params)

    def reset(self) -> None:
        """Forget every log record (the topic stays)."""
        self.backend.reset()
        self.verifier.reset()
