"""The emulator's HTTP server: one threaded listener on loopback serving SCF, COS, CLS and control.

Routing only, no service logic:

- ``/_emulator/...``            -> the control API (:mod:`.control`);
- Host ``<bucket>-<appid>.cos.<region>.myqcloud.com`` -> COS (:mod:`.cos.service`);
- ``X-TC-Version: 2020-10-16``   -> the CLS API 3.0 endpoint (:mod:`.cls.service`);
- anything else                  -> the SCF API 3.0 endpoint (:mod:`.scf.service`).
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .cls.service import ClsService
from .config import EmulatorConfig, check_exposure
from .cos.service import CosService
from .faults import Faults
from .http import Exchange
from .scf.service import ScfService
from .stats import Stats

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_emulator/"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every small response (seen on COS listings).
    disable_nagle_algorithm = True
    server: _Server

    def version_string(self) -> str:  # the ``Server`` header COS clients see
        return "tencent-cos"

    def log_message(self, format: str, *args) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        exchange = Exchange(self)
        emulator = self.server.emulator
        try:
            if exchange.raw_path.startswith(CONTROL_PREFIX):
                emulator.control.handle(exchange)
            elif emulator.cos.handles(exchange):
                emulator.cos.handle(exchange)
            elif emulator.cls.handles(exchange):
                emulator.cls.handle(exchange)
            else:
                emulator.scf.handle(exchange)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("emulator failed on %s %s", exchange.method, exchange.raw_path)
            if not exchange.responded:
                exchange.respond(500, {"Content-Type": "text/plain"}, b"emulator internal error")
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a burst of clients (100 tasks invoking at once)
    # would get connection resets before any handler thread could accept them.
    request_queue_size = 1024
    emulator: EmulatorServer

    def server_activate(self) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().server_activate()

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut the connections still open: both SDKs keep connections alive, and their handler
        threads would otherwise go on answering for a stopped emulator."""
        with self._connections_lock:
            still_open = list(self._connections)
        for connection in still_open:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class EmulatorServer:
    """The SCF, COS and CLS emulator, startable in-process (tests) or from the CLI.

    Example::

        server = EmulatorServer(EmulatorConfig(port=0, data_dir="/tmp/emu"))
        server.start()
        print(server.endpoint)  # http://127.0.0.1:PORT
        server.control_api.fire_timer("my-func", "every-minute")
        server.stop()

    :param config: the settings; ``port=0`` picks a free port.
    :raises ~.config.UnsafeExposureError: a host beyond loopback with the default keys.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        check_exposure(self.config)
        self._tmp: str | None = None
        if self.config.data_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="scf-snova-emulator-")
        self.data_dir = Path(self.config.data_dir or self._tmp)  # type: ignore[arg-type]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.faults = Faults()
        self.stats = Stats()
        self.cos = CosService(self.config, self.faults, self.data_dir / "cos")
        self.cls = ClsService(self.config, self.faults, self.data_dir / "cls")
        self.scf = ScfService(
            self.config, self.faults, self.data_dir / "scf", self.cos, self.cls.backend
        )
        for service in (self.cos, self.cls, self.scf):
            service.stats = self.stats
        from .control import Control

        self.control = Control(self)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def control_api(self):
        """The Python control API (same operations as ``/_emulator/...``)."""
        return self.control

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("emulator not started")
        return self._httpd.server_address[1]

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def endpoint(self) -> str:
        """``http://host:port``: the ``endpoint`` extra of a tencentcloud connection."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        """Listen and serve in a background thread; returns once the socket accepts."""
        self._httpd = _Server((self.config.host, self.config.port), _Handler)
        self._httpd.emulator = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="scf-snova-emulator", daemon=True
        )
        self._thread.start()
        self.scf.start()
        return self

    def serve_forever(self) -> None:
        """Start, then block until :meth:`stop` is called (the CLI's main loop)."""
        self.start()
        assert self._thread is not None
        self._thread.join()

    def stop(self) -> None:
        """Stop serving, stop background work (timers, async invocations) and clean up."""
        self.scf.close()
        self.cos.close()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_connections()
            self._httpd.server_close()
            self._httpd = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
