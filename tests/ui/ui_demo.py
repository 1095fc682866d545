"""The demo setup under the browser tests: ``scripts/demo_env.py``'s :class:`DemoEnvironment`
(embedded PostgreSQL as Snova, the SCF + COS emulator, the bucket, fresh secrets) in a temporary
root, plus the demo's first batch of sample files (``scripts/demo_data.py``) and its decoys.

Airflow's metadata database goes on the demo's PostgreSQL (a database of its own) rather than the
demo's SQLite file: ``airflow standalone`` starts in a third of the time.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ui.ui_stack import ROOT

METADATA_DB = "airflow_ui_metadata"


@dataclass
class DemoSetup:
    """What the tests need to know of a started demo."""

    #: Environment of the Airflow components (connections, ``SNOVA_IMPORT_BUCKET``, ...).
    airflow_env: dict[str, str]
    airflow_home: Path
    #: SQLAlchemy URI of the (empty) metadata database.
    metadata_uri: str
    #: The bucket of the sample files, and each file's key -> its number of rows.
    bucket: str
    seed_rows: dict[str, int]
    decoys: list[str]
    #: The emulator's region, key pair and endpoint, for the Tencent Cloud connection form.
    region: str
    secret_id: str
    secret_key: str
    endpoint: str
    #: The warehouse, for the Snova connection form.
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    warehouse_db: str
    #: Values that must never appear in a log or a page.
    secrets: list[str] = field(default_factory=list)


class DemoBackends:
    """Start the demo environment in a temporary root and seed it; stop and remove it on exit."""

    def __init__(self) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="ui-demo-"))
        self._env = None

    def __enter__(self) -> DemoSetup:
        scripts = str(ROOT / "scripts")
        if scripts not in sys.path:
            sys.path.insert(0, scripts)
        from demo_data import BATCHES, DECOYS
        from demo_env import DATABASE, DemoEnvironment

        self._env = env = DemoEnvironment(root=self._root, timers=False, log=lambda line: None)
        try:
            env.start()
            env.sql("SELECT 1")  # the warehouse answers
            _create_database(env.snova.uri(), METADATA_DB)
            seed = BATCHES["initial"]
            for sample in seed:
                env.upload(sample.key, sample.data)
            for key, data in DECOYS.items():
                env.upload(key, data)
            tencentcloud = json.loads(env.env["AIRFLOW_CONN_TENCENTCLOUD_DEFAULT"])
            return DemoSetup(
                airflow_env=dict(env.env),
                airflow_home=env.airflow_home,
                metadata_uri=env.snova.uri(METADATA_DB).replace(
                    "postgresql://", "postgresql+psycopg2://", 1
                ),
                bucket=env.bucket,
                seed_rows={sample.key: sample.rows for sample in seed},
                decoys=list(DECOYS),
                region=env.region,
                secret_id=tencentcloud["login"],
                secret_key=tencentcloud["password"],
                endpoint=env.endpoint,
                pg_host=env.snova.host,
                pg_port=env.snova.port,
                pg_user=env.snova.user,
                pg_password=env.snova.password,
                warehouse_db=DATABASE,
                secrets=list(env.secret_values),
            )
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc) -> None:
        if self._env is not None:
            self._env.stop()
            self._env = None
        shutil.rmtree(self._root, ignore_errors=True)


def _create_database(admin_uri: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_uri)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
