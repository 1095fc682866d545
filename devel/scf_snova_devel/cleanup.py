"""Deleting what a system-test run created, on the emulator or on Tencent Cloud.

Two ways find it, and the session's clean-up uses both:

- :class:`ResourceTracker` records what tests create (functions, layers, folders of objects,
  Snova databases and roles) as they create it;
- the **sweep** finds everything that carries the run's tag (:class:`~.cloud.RunNames`): the
  functions and layers named with it, the objects under the run's folder of the scratch bucket
  (``scf-snova-tests/<tag>/``) and the code packages staged for its functions
  (``scf-code/<function>/``), the databases and roles named with it. DAGs a test runs create
  things it never sees (a function's COS trigger, a staged package): the sweep finds them.

Order: triggers and functions first (nothing runs any more), then layers, objects (and
unfinished multipart uploads), databases and roles. Every deletion is attempted; the failures are
reported (redacted), never raised. A run writes ``scf-snova-tests/<tag>/RUN`` first and the clean-up
deletes it last, only when nothing failed: a run killed before its clean-up keeps its marker, and
``python -m scf_snova_devel.cloud sweep --stale HOURS`` finds it by its age.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from scf_snova_devel.cloud import (
    TEST_FOLDER,
    CloudSettings,
    CloudSettingsError,
    holds_tag,
    redact,
    tags_in,
)

#: Where deploys stage code packages too large to send inline (``scf-code/<function>/``).
CODE_FOLDER = "scf-code/"
#: The run's marker object, in its folder.
MARKER = "RUN"
#: Function statuses from which a function can be deleted.
SETTLED = ("Active", "CreateFailed", "UpdateFailed", "PublishFailed", "DeleteFailed")


@dataclass
class CleanupReport:
    """What a clean-up deleted and what it could not.

    :param deleted: ``kind name`` per deleted resource.
    :param failed: ``kind name: reason`` per resource left behind.
    """

    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Deleted resources per kind."""
        found: dict[str, int] = {}
        for entry in self.deleted:
            kind = entry.split(" ", 1)[0]
            found[kind] = found.get(kind, 0) + 1
        return found

    def summary(self) -> str:
        done = ", ".join(f"{n} {kind}(s)" for kind, n in sorted(self.counts().items()))
        text = f"deleted {done or 'nothing'}"
        if self.failed:
            text += f"; {len(self.failed)} left behind: " + "; ".join(self.failed)
        return text


class ResourceTracker:
    """What one run created, recorded as it is created.

    :param tag: the run's tag.
    :param secrets: values no failure message may show (a set is kept, not copied: values added
        to it later count too).
    """

    def __init__(self, tag: str, secrets: Iterable[str] = ()) -> None:
        self.tag = tag
        self.secrets = secrets if isinstance(secrets, set) else set(secrets)
        self.functions: dict[tuple[str, str], None] = {}
        self.layers: dict[str, None] = {}
        self.folders: dict[tuple[str, str], None] = {}
        self.databases: dict[str, None] = {}
        self.roles: dict[str, None] = {}
        self.report = CleanupReport()

    def function(self, name: str, namespace: str = "default") -> str:
        """Record a function (with its versions and triggers); returns ``name``.

        :param name: the function's name.
        :param namespace: its SCF namespace.
        """
        self.functions[(namespace, name)] = None
        return name

    def layer(self, name: str) -> str:
        """Record a layer (every version of it); returns ``name``.

        :param name: the layer's name.
        """
        self.layers[name] = None
        return name

    def folder(self, bucket: str, prefix: str) -> str:
        """Record every object under ``prefix`` of ``bucket``; returns ``prefix``.

        :param bucket: the bucket, ``name-appid``.
        :param prefix: a non-empty key prefix.
        """
        if not prefix:
            raise ValueError("a tracked folder needs a prefix: the whole bucket is never deleted")
        self.folders[(bucket, prefix)] = None
        return prefix

    def database(self, name: str) -> str:
        """Record a Snova database; returns ``name``.

        :param name: the database's name.
        """
        self.databases[name] = None
        return name

    def role(self, name: str) -> str:
        """Record a Snova role; returns ``name``.

        :param name: the role's name.
        """
        self.roles[name] = None
        return name

    def _attempt(self, what: str, action) -> bool:
        """Run a deletion; it counts as deleted unless it returns ``False`` (nothing was
        there)."""
        try:
            done = action()
        except Exception as err:  # every deletion is attempted; failures are reported
            reason = redact(f"{type(err).__name__}: {err}", self.secrets)
            self.report.failed.append(f"{what}: {reason[:500]}")
            return False
        if done is not False:
            self.report.deleted.append(what)
        return True

    def _attempt_quietly(self, what: str, action) -> bool:
        """Like :meth:`_attempt` for a step that deletes nothing (a listing)."""
        try:
            action()
        except Exception as err:
            self.report.failed.append(f"{what}: {redact(str(err), self.secrets)[:500]}")
            return False
        return True

    # -- SCF and COS -------------------------------------------------------------------------------
    def clean_cloud(self, scf: Any, cos: Any, bucket: str, namespace: str = "default") -> None:
        """Delete the recorded and the tagged functions, layers and objects.

        :param scf: an :class:`~airflow_scf_snova.hooks.scf.SCFHook`.
        :param cos: a :class:`~airflow_scf_snova.hooks.cos.COSHook`.
        :param bucket: the scratch bucket.
        :param namespace: the SCF namespace the run used.
        """
        functions = dict(self.functions)
        try:
            for function in scf.list_functions(namespace):
                if holds_tag(function["FunctionName"], self.tag):
                    functions[(namespace, function["FunctionName"])] = None
        except Exception as err:
            self.report.failed.append(f"function listing: {redact(str(err), self.secrets)}")
        for ns, name in functions:
            self._attempt(f"function {ns}/{name}", lambda n=name, s=ns: delete_function(scf, n, s))
        layers = dict(self.layers)
        try:
            layers.update({x["LayerName"]: None for x in scf.list_layers() if self._tagged(x)})
        except Exception as err:
            self.report.failed.append(f"layer listing: {redact(str(err), self.secrets)}")
        for layer in layers:
            found: list[dict] = []
            if not self._attempt_quietly(
                f"layer {layer}",
                lambda n=layer, into=found: into.extend(scf.list_layer_versions(n)),
            ):
                continue
            for version in found:
                number = version["LayerVersion"]
                self._attempt(
                    f"layer {layer}:{number}",
                    lambda n=layer, v=number: scf.delete_layer_version(n, v),
                )
        folders = dict(self.folders)
        folders[(bucket, f"{TEST_FOLDER}{self.tag}/")] = None
        for bucket_name, prefix in folders:
            self._delete_folder(cos, bucket_name, prefix, keep=self.marker_key)
        self._delete_staged_code(cos, bucket, [name for _, name in functions])

    @property
    def marker_key(self) -> str:
        return f"{TEST_FOLDER}{self.tag}/{MARKER}"

    def write_marker(self, cos: Any, bucket: str, target: str) -> None:
        """Write ``scf-snova-tests/<tag>/RUN`` (the run's start, host and target) before anything
        else.

        :param cos: a COSHook.
        :param bucket: the scratch bucket.
        :param target: ``emulator`` or ``cloud``.
        """
        body = {
            "tag": self.tag,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "target": target,
        }
        cos.put_object(bucket, self.marker_key, json.dumps(body), content_type="application/json")

    def delete_marker(self, cos: Any, bucket: str) -> None:
        """Delete the marker, unless something was left behind.

        :param cos: a COSHook.
        :param bucket: the scratch bucket.
        """
        if not self.report.failed:
            self._attempt("object marker", lambda: cos.delete_objects(bucket, [self.marker_key]))

    def _tagged(self, layer: dict) -> bool:
        return holds_tag(layer.get("LayerName", ""), self.tag)

    def _delete_folder(self, cos: Any, bucket: str, prefix: str, keep: str | None = None) -> None:
        try:
            keys = [o.key for o in cos.iter_objects(bucket, prefix=prefix) if o.key != keep]
            for key in cos.delete_objects(bucket, keys):
                self.report.deleted.append(f"object {bucket}/{key}")
            for key, upload_id in _multipart_uploads(cos, bucket, prefix):
                self._attempt(
                    f"upload {bucket}/{key}",
                    lambda k=key, u=upload_id: cos.conn.abort_multipart_upload(
                        Bucket=cos.full_bucket_name(bucket), Key=k, UploadId=u
                    ),
                )
        except Exception as err:
            reason = redact(str(err), self.secrets)
            self.report.failed.append(f"objects {bucket}/{prefix}: {reason[:500]}")

    def _delete_staged_code(self, cos: Any, bucket: str, functions: list[str]) -> None:
        """``scf-code/<function>/...`` of the run's functions (every function name carries the
        tag: those of the listing above, and any deleted meanwhile)."""
        try:
            keys = [
                o.key
                for o in cos.iter_objects(bucket, prefix=CODE_FOLDER)
                if holds_tag(o.key.split("/")[1], self.tag) or o.key.split("/")[1] in set(functions)
            ]
            for key in cos.delete_objects(bucket, keys):
                self.report.deleted.append(f"object {bucket}/{key}")
        except Exception as err:
            reason = redact(str(err), self.secrets)
            self.report.failed.append(f"objects {bucket}/{CODE_FOLDER}: {reason[:500]}")

    # -- Snova -------------------------------------------------------------------------------------
    def clean_snova(self, admin_dsn: str) -> None:
        """Drop the recorded and the tagged databases, then the roles.

        :param admin_dsn: a connection that may drop them (the user that created them).
        """
        import psycopg2

        try:
            conn = psycopg2.connect(admin_dsn)
        except psycopg2.Error as err:
            self.report.failed.append(f"snova connection: {redact(str(err), self.secrets)}")
            return
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                databases = self._existing(cur, "datname", "pg_database", self.databases)
                roles = self._existing(cur, "rolname", "pg_roles", self.roles)
            for name in databases:
                self._attempt(f"database {name}", lambda n=name: drop_database(conn, n))
            for name in roles:
                self._attempt(f"role {name}", lambda n=name: drop_role(conn, n))
        finally:
            conn.close()

    def _existing(self, cur: Any, column: str, catalog: str, recorded: dict) -> list[str]:
        """The recorded names, and those with the tag, that exist (the recorded ones first)."""
        cur.execute(
            f"SELECT {column} FROM pg_catalog.{catalog} WHERE {column} = ANY(%s) "
            f"OR {column} LIKE %s ORDER BY {column}",
            (list(recorded), f"%{self.tag}%"),
        )
        found = [name for (name,) in cur.fetchall()]
        tagged = [name for name in found if name in recorded or holds_tag(name, self.tag)]
        return sorted(tagged, key=lambda n: (n not in recorded, n))


def delete_function(scf: Any, name: str, namespace: str = "default", timeout: float = 120) -> bool:
    """Delete a function's triggers, then the function (once it has settled), and wait until it
    is gone; returns whether there was one to delete.

    :param scf: an SCFHook.
    :param name: the function.
    :param namespace: its namespace.
    :param timeout: seconds to wait for it to settle, and again for it to go.
    """
    from airflow_scf_snova.exceptions import ResourceNotFoundError

    try:
        scf.wait_for_function_status(
            name, SETTLED, namespace, timeout=timeout, poll_interval=0.05, max_poll_interval=5
        )
        for trigger in scf.list_triggers(name, namespace):
            scf.delete_trigger(
                name,
                trigger["TriggerName"],
                trigger["Type"],
                trigger_desc=trigger.get("TriggerDesc") if trigger["Type"] == "cos" else None,
                namespace=namespace,
                qualifier=trigger.get("Qualifier"),
            )
        scf.delete_function(name, namespace)
        scf.wait_for_function_deleted(
            name, namespace, timeout=timeout, poll_interval=0.05, max_poll_interval=5
        )
    except ResourceNotFoundError:
        return False
    return True


def _multipart_uploads(cos: Any, bucket: str, prefix: str) -> Iterator[tuple[str, str]]:
    """``(key, upload id)`` of the unfinished multipart uploads under ``prefix``."""
    full = cos.full_bucket_name(bucket)
    markers: dict[str, str] = {}
    while True:
        page = cos.conn.list_multipart_uploads(Bucket=full, Prefix=prefix, **markers)
        for upload in page.get("Upload") or []:
            yield upload["Key"], upload["UploadId"]
        if page.get("IsTruncated") != "true":
            return
        markers = {
            "KeyMarker": page.get("NextKeyMarker", ""),
            "UploadIdMarker": page.get("NextUploadIdMarker", ""),
        }


def drop_database(conn: Any, name: str, timeout: float = 60) -> None:
    """``DROP DATABASE IF EXISTS``, ending its other sessions first: ``WITH (FORCE)`` from
    PostgreSQL 13; before (Greenplum 6, Snova), ``pg_terminate_backend`` on the user's own
    sessions, and the drop retried while sessions linger (``ObjectInUse``) until ``timeout``.

    :param conn: an autocommit connection to another database.
    :param name: the database.
    :param timeout: seconds to keep trying while its sessions linger.
    """
    import psycopg2
    from psycopg2 import sql

    ident = sql.Identifier(name)
    with conn.cursor() as cur:
        if conn.server_version >= 130000:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            return
        deadline = time.monotonic() + timeout
        while True:
            cur.execute(  # another role's session may only end by itself (not a superuser)
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() AND usename = current_user",
                (name,),
            )
            try:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
                return
            except psycopg2.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.5)  # the terminated sessions are still going away


def as_admin(dsn: str, action: Callable[[Any], Any]) -> Any:
    """Run ``action(conn)`` on an autocommit connection to ``dsn``; returns what it returns.

    :param dsn: a ``postgresql://`` DSN.
    :param action: what to do with the connection.
    """
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        return action(conn)
    finally:
        conn.close()


def drop_role(conn: Any, name: str) -> None:
    """``DROP ROLE IF EXISTS`` (after the databases it had privileges in).

    :param conn: an autocommit connection.
    :param name: the role.
    """
    from psycopg2 import sql

    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


# -- by hand ---------------------------------------------------------------------------------------
def stale_tags(cos: Any, bucket: str, hours: float) -> tuple[list[str], list[str]]:
    """The run tags of the scratch bucket: those whose marker is older than ``hours`` (to sweep),
    and those with objects but no marker (listed, never swept on their own: a run writes its
    marker first and deletes it last, after a complete clean-up).

    :param cos: a COSHook.
    :param bucket: the scratch bucket.
    :param hours: how old a marker must be.
    """
    now = datetime.now(timezone.utc)
    markers: dict[str, datetime] = {}
    seen: set[str] = set()
    for obj in cos.iter_objects(bucket, prefix=TEST_FOLDER):
        seen |= tags_in(obj.key)
        parts = obj.key[len(TEST_FOLDER) :].split("/")
        if len(parts) == 2 and parts[1] == MARKER:
            markers[parts[0]] = obj.last_modified
    old = [t for t, when in markers.items() if (now - when).total_seconds() > hours * 3600]
    return sorted(old), sorted(seen - set(markers))


def _cloud_hooks(settings: CloudSettings):
    from scf_snova_devel.target import cloud_connection_json

    os.environ["AIRFLOW_CONN_TENCENTCLOUD_DEFAULT"] = cloud_connection_json(settings)
    from airflow_scf_snova.hooks.cos import COSHook
    from airflow_scf_snova.hooks.scf import SCFHook

    return SCFHook(namespace=settings.namespace), COSHook()


def sweep_main(argv: list[str]) -> int:
    """``python -m scf_snova_devel.cloud sweep``: delete what test runs on Tencent Cloud left
    behind (the variables of ``docs/cloud-tests.md`` say where); returns the exit status.

    :param argv: ``--tag TAG`` (repeatable) or ``--stale HOURS``, and ``--dry-run``.
    """
    parser = argparse.ArgumentParser(prog="python -m scf_snova_devel.cloud sweep")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--tag", action="append", help="a run tag, e.g. it3fa9c2 (repeatable)")
    which.add_argument(
        "--stale", type=float, metavar="HOURS", help="every run whose marker is older than HOURS"
    )
    parser.add_argument("--dry-run", action="store_true", help="only list the tags")
    args = parser.parse_args(argv)
    try:
        settings = CloudSettings.from_environ(os.environ)
    except CloudSettingsError as err:
        print(f"sweep: {err}")
        return 2
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="scf-snova-sweep-"))
    scf, cos = _cloud_hooks(settings)
    tags, unmarked = args.tag or [], []
    if args.stale is not None:
        tags, unmarked = stale_tags(cos, settings.bucket, args.stale)
    print(f"sweep: {settings.describe()}; run tags: {', '.join(tags) or 'none'}")
    if unmarked:
        print(f"  objects of runs without a marker (sweep them with --tag): {', '.join(unmarked)}")
    failed = False
    for tag in [] if args.dry_run else tags:
        tracker = ResourceTracker(tag, settings.secrets)
        tracker.clean_cloud(scf, cos, settings.bucket, settings.namespace)
        tracker.clean_snova(settings.dsn)
        tracker.delete_marker(cos, settings.bucket)
        print(f"  {tag}: {tracker.report.summary()}")
        failed |= bool(tracker.report.failed)
    return 1 if failed else 0
