"""The benchmarks' world: an isolated Airflow home, the bundled emulator and a real PostgreSQL,
all under one temporary directory that is removed at the end, whatever happens.

Import this module before anything imports Airflow: :func:`isolate_airflow` sets
``AIRFLOW_HOME`` and friends, which Airflow reads once, at import.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def isolated_environment(home: Path) -> dict[str, str | None]:
    """The variables that point this process (and its children) at a throw-away Airflow home,
    keep every SDK on loopback and drop any real Tencent Cloud credentials (``None``: unset).
    Airflow reads them once, when it is first imported."""
    changes: dict[str, str | None] = {
        name: None
        for name in os.environ
        if name.upper().startswith("TENCENTCLOUD_")
        or name.lower() in ("http_proxy", "https_proxy", "all_proxy")
    }
    changes.update(
        {
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    return changes


def tencentcloud_conn(server) -> str:
    """An ``AIRFLOW_CONN_*`` value pointing a ``tencentcloud`` connection at ``server``."""
    cfg = server.config
    return json.dumps(
        {
            "conn_type": "tencentcloud",
            "login": cfg.secret_id,
            "password": cfg.secret_key,
            "extra": {
                "region": cfg.region,
                "appid": cfg.appid,
                "namespace": "default",
                "endpoint": server.endpoint,
            },
        }
    )


class BenchEnv:
    """A temporary directory, the emulator and PostgreSQL (each optional).

    Either starts its own (``BenchEnv()`` as a context manager), or wraps ones a caller already
    runs (``BenchEnv(emulator=server, dsn=uri)``, as the smoke test does with its fixtures).

    :param emulator: an already started ``EmulatorServer``.
    :param dsn: a ``postgresql://`` superuser URI of an already running server.
    :param start_emulator: start an emulator when none is given.
    :param start_snova: start a ``LocalSnova`` when no ``dsn`` is given.
    :param isolate: give this process and its children a throw-away Airflow home (see
        :func:`isolated_environment`; before Airflow is imported). The smoke test, already
        isolated by the test harness, passes ``False``.
    """

    def __init__(
        self,
        emulator=None,
        dsn: str | None = None,
        start_emulator: bool = True,
        start_snova: bool = True,
        isolate: bool = True,
    ) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="airflow-scf-snova-bench-"))
        self.emulator = emulator
        self.dsn = dsn
        self._start_emulator = start_emulator and emulator is None
        self._start_snova = start_snova and dsn is None
        self._own_emulator = None
        self._own_snova = None
        self._databases: list[str] = []
        self._saved_env: dict[str, str | None] = {}
        self._isolate = isolate

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> BenchEnv:
        try:
            if self._isolate:
                home = self.tmp / "airflow"
                home.mkdir()
                for name, value in isolated_environment(home).items():
                    self._set_env(name, value)
            if self._start_emulator:
                from scf_snova_emulator import EmulatorConfig, EmulatorServer

                self._own_emulator = EmulatorServer(
                    EmulatorConfig(port=0, data_dir=str(self.tmp / "emulator"), status_delay=0.05)
                ).start()
                self.emulator = self._own_emulator
            if self._start_snova:
                from scf_snova_devel.postgres import LocalSnova

                self._own_snova = LocalSnova(data_dir=self.tmp / "snova").start()
                self.dsn = self._own_snova.uri()
            if self.emulator is not None:
                self._set_env("AIRFLOW_CONN_TENCENTCLOUD_DEFAULT", tencentcloud_conn(self.emulator))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Drop the databases made here, stop what was started here, remove the directory."""
        try:
            if self.dsn and self._databases:
                import psycopg2

                admin = psycopg2.connect(self.dsn)
                admin.autocommit = True
                with admin.cursor() as cur:
                    for name in self._databases:
                        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.close()
                self._databases.clear()
        finally:
            try:
                if self._own_emulator is not None:
                    self._own_emulator.stop()
                    self._own_emulator = None
            finally:
                try:
                    if self._own_snova is not None:
                        self._own_snova.stop()
                        self._own_snova = None
                finally:
                    for name, value in self._saved_env.items():
                        if value is None:
                            os.environ.pop(name, None)
                        else:
                            os.environ[name] = value
                    self._saved_env.clear()
                    shutil.rmtree(self.tmp, ignore_errors=True)

    def _set_env(self, name: str, value: str | None) -> None:
        self._saved_env.setdefault(name, os.environ.get(name))
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

    # -- helpers -------------------------------------------------------------------------------
    def workdir(self, name: str) -> Path:
        """A fresh directory under the temporary one."""
        path = self.tmp / f"{name}-{uuid.uuid4().hex[:6]}"
        path.mkdir(parents=True)
        return path

    def new_bucket(self, prefix: str = "bench") -> str:
        """A new bucket (full ``name-appid``)."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}-{self.emulator.config.appid}"
        self.emulator.cos.create_bucket(name)
        return name

    def new_database(self) -> str:
        """A fresh database; returns its superuser URI (dropped on close)."""
        import psycopg2

        name = f"bench_{uuid.uuid4().hex[:10]}"
        admin = psycopg2.connect(self.dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        admin.close()
        self._databases.append(name)
        return urlunsplit(urlsplit(self.dsn)._replace(path=f"/{name}"))

    def use_database(self, dsn: str) -> None:
        """Point ``snova_default`` (and ``postgres_default``) at ``dsn`` in this process and in
        the children it starts from now on."""
        self._set_env("AIRFLOW_CONN_SNOVA_DEFAULT", dsn.replace("postgresql://", "snova://", 1))
        self._set_env(
            "AIRFLOW_CONN_POSTGRES_DEFAULT", dsn.replace("postgresql://", "postgres://", 1)
        )

    @staticmethod
    def libpq_env(dsn: str) -> dict[str, str]:
        """``PGHOST``... for ``psql`` (the password through the environment, never argv)."""
        from urllib.parse import unquote

        parts = urlsplit(dsn)
        return {
            "PGHOST": parts.hostname or "127.0.0.1",
            "PGPORT": str(parts.port or 5432),
            "PGUSER": unquote(parts.username or "postgres"),
            "PGPASSWORD": unquote(parts.password or ""),
            "PGDATABASE": parts.path.lstrip("/") or "postgres",
        }
