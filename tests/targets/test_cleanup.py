"""The run's clean-up (``scf_snova_devel.cleanup``) against the emulator as the stand-in cloud, with
the real SDKs through the provider's hooks, and a real PostgreSQL as Snova: it deletes exactly
what carries the run's tag or was recorded (functions with their triggers, layers, objects, staged
code, unfinished uploads, databases, roles), leaves everything else, reports what it could not
delete without showing a secret, and keeps the run's marker until everything is gone."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

import psycopg2
import pytest
from scf_snova_devel.cleanup import (
    MARKER,
    ResourceTracker,
    as_admin,
    delete_function,
    drop_database,
    drop_role,
    stale_tags,
)
from scf_snova_devel.cloud import TEST_FOLDER, RunNames
from scf_snova_devel.scf import deploy_echo, fast_hook

from airflow_scf_snova.hooks.cos import COSHook


def layer_zip() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/helper.py", "VALUE = 1\n")
    return buffer.getvalue()


def keys(cos: COSHook, bucket: str) -> set[str]:
    return {o.key for o in cos.iter_objects(bucket)}


def names_in(dsn: str, sql: str, like: str) -> set[str]:
    return set(as_admin(dsn, lambda c: _rows(c, sql, like)))


def _rows(conn, sql: str, like: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(sql, (like,))
        return [name for (name,) in cur.fetchall()]


DATABASES = "SELECT datname FROM pg_database WHERE datname LIKE %s"
ROLES = "SELECT rolname FROM pg_roles WHERE rolname LIKE %s"


@pytest.fixture
def world(emulator, bucket, snova_server):
    """A run (``mine``) that created functions, triggers, a layer, objects, an unfinished upload,
    databases and roles, some recorded and some only tagged; and the same of another run
    (``theirs``) and of nobody, which must survive."""
    scf, cos = fast_hook(), COSHook()
    mine, theirs = RunNames(), RunNames()
    tracker = ResourceTracker(mine.tag)
    recorded, tagged, other = mine.name("fn"), mine.name("fn"), theirs.name("fn")
    for name in (recorded, tagged, other):
        deploy_echo(scf, name)
    tracker.function(recorded)
    scf.ensure_timer_trigger(recorded, "nightly", "0 2 * * *")
    scf.ensure_cos_triggers(recorded, bucket, prefix=f"{mine.folder}in/", suffix=".csv")
    layer = mine.name("layer")
    scf.publish_layer_version(layer, scf.zip_code(layer_zip()), ["Python3.9"])
    objects = {
        f"{mine.folder}{MARKER}": "marker",
        f"{mine.root('a')}1.txt": "1",
        f"{mine.root('b')}2.txt": "2",
        f"scf-code/{recorded}/p.zip": "zip",
        f"scf-code/{tagged}/q.zip": "zip",
        "extra/3.txt": "recorded folder",
        f"{theirs.folder}keep.txt": "theirs",
        f"scf-code/{other}/r.zip": "theirs",
        "keep/me.txt": "nobody's",
    }
    for key, body in objects.items():
        cos.put_object(bucket, key, body)
    tracker.folder(bucket, "extra/")
    full = cos.full_bucket_name(bucket)
    cos.conn.create_multipart_upload(Bucket=full, Key=f"{mine.folder}big.bin")
    databases = [mine.ident("db"), mine.ident("db"), theirs.ident("db")]
    roles = [mine.ident("role"), theirs.ident("role")]

    def create(conn):
        with conn.cursor() as cur:
            for name in databases:
                cur.execute(f'CREATE DATABASE "{name}"')
            for name in roles:
                cur.execute(f'CREATE ROLE "{name}"')

    as_admin(snova_server, create)
    tracker.database(databases[0])
    tracker.function(mine.name("gone"))  # recorded, deleted by its test: not counted
    tracker.database(mine.ident("gone"))
    yield locals()
    for name in (recorded, tagged, other):
        delete_function(scf, name)
    as_admin(
        snova_server,
        lambda conn: (
            [drop_database(conn, n) for n in databases] + [drop_role(conn, n) for n in roles]
        ),
    )


def test_the_clean_up_deletes_what_the_run_made_and_nothing_else(world, snova_server):
    w = world
    scf, cos, bucket, tracker = w["scf"], w["cos"], w["bucket"], w["tracker"]
    tracker.clean_cloud(scf, cos, bucket)
    tracker.clean_snova(snova_server)

    assert tracker.report.failed == []
    functions = {f["FunctionName"] for f in scf.list_functions()}
    assert w["other"] in functions and not {w["recorded"], w["tagged"]} & functions
    assert scf.list_layer_versions(w["layer"]) == []
    assert keys(cos, bucket) == {
        f"{w['mine'].folder}{MARKER}",  # the marker goes last (delete_marker)
        f"{w['theirs'].folder}keep.txt",
        f"scf-code/{w['other']}/r.zip",
        "keep/me.txt",
    }
    uploads = cos.conn.list_multipart_uploads(Bucket=cos.full_bucket_name(bucket))
    assert not uploads.get("Upload")
    assert names_in(snova_server, DATABASES, "%_it%") >= {w["databases"][2]}
    assert not set(w["databases"][:2]) & names_in(snova_server, DATABASES, "%")
    assert names_in(snova_server, ROLES, "%") & set(w["roles"]) == {w["roles"][1]}
    counts = tracker.report.counts()
    assert counts == {"function": 2, "layer": 1, "object": 5, "upload": 1, "database": 2, "role": 1}
    assert "deleted 2 database(s)" in tracker.report.summary()

    tracker.delete_marker(cos, bucket)
    assert f"{w['mine'].folder}{MARKER}" not in keys(cos, bucket)


def test_the_marker_tells_a_killed_runs_age_and_stays_while_something_is_left(world):
    w = world
    cos, bucket, tracker = w["cos"], w["bucket"], w["tracker"]
    tracker.write_marker(cos, bucket, "emulator")
    marker = json.loads(cos.read_object(bucket, tracker.marker_key))
    assert (marker["tag"], marker["target"]) == (w["mine"].tag, "emulator")
    assert stale_tags(cos, bucket, hours=1) == ([], [w["theirs"].tag])  # theirs has no marker
    assert stale_tags(cos, bucket, hours=0) == ([w["mine"].tag], [w["theirs"].tag])

    tracker.report.failed.append("database x: still in use")
    tracker.delete_marker(cos, bucket)
    assert cos.object_exists(bucket, tracker.marker_key)
    tracker.report.failed.clear()
    tracker.delete_marker(cos, bucket)
    assert not cos.object_exists(bucket, tracker.marker_key)


class _Refusing:
    """An API that refuses every call quoting a secret: no real service answers that way on
    purpose, so this stands in for one that does by accident."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            raise RuntimeError(f"{name} refused for key {self.secret}")

        return refuse


def test_a_failing_clean_up_reports_every_failure_without_its_secrets():
    secret = "s3cret-value-123"
    names = RunNames()
    tracker = ResourceTracker(names.tag, {secret})
    function = tracker.function(names.name("fn"))
    tracker.layer(names.name("layer"))
    tracker.clean_cloud(_Refusing(secret), _Refusing(secret), "b-1250000000")
    tracker.clean_snova(f"postgresql://nobody:{secret}@127.0.0.1:1/db")  # nothing listens
    failed = tracker.report.failed
    kinds = [line.split(":", 1)[0] for line in failed]
    assert kinds == [
        "function listing",
        f"function default/{function}",
        "layer listing",
        f"layer {next(iter(tracker.layers))}",
        f"objects b-1250000000/{TEST_FOLDER}{names.tag}/",
        "objects b-1250000000/scf-code/",
        "snova connection",
    ]
    assert all(secret not in line for line in failed), failed
    assert sum("refused for key ***" in line for line in failed) == 6
    assert tracker.report.deleted == []
    assert "7 left behind" in tracker.report.summary()


def test_a_database_is_dropped_on_a_server_without_force(snova_server):
    """Greenplum 6 (PostgreSQL 9.4) has no ``DROP DATABASE ... WITH (FORCE)``: the sessions are
    ended first. The same statements run here on a real server that reports an old version."""
    from urllib.parse import urlsplit, urlunsplit

    name = RunNames().ident("old")
    as_admin(snova_server, lambda conn: conn.cursor().execute(f'CREATE DATABASE "{name}"'))
    session = psycopg2.connect(urlunsplit(urlsplit(snova_server)._replace(path=f"/{name}")))

    class OldServer:
        server_version = 90400

        def __init__(self, conn):
            self.cursor = conn.cursor

    try:
        as_admin(snova_server, lambda conn: drop_database(OldServer(conn), name))
        assert name not in names_in(snova_server, DATABASES, name)
        assert session.closed or _is_dead(session)
    finally:
        session.close()


def _is_dead(conn) -> bool:
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    except psycopg2.Error:
        return True
    return False
