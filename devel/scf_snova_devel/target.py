"""Where the system tests run: the emulator, or Tencent Cloud (``make test-cloud``), behind one
interface, :class:`Target`.

Both targets are laid out alike: one scratch bucket (on the emulator, one the session creates;
on the cloud, ``SCF_SNOVA_TEST_BUCKET``) and, per test, a folder of the run's folder
(:meth:`Target.root`); names carrying the run's tag (:meth:`Target.name`). What a test does goes
through the public API on both: objects through the COS SDK, invocations through CLS and
``GetRequestStatus`` (:class:`~.invocations.InvocationWatcher`). Only firing a timer differs: the
emulator fires the real trigger, the cloud cannot (:func:`~.invocations.fire_timer`).
"""

from __future__ import annotations

import json
import time
from functools import cached_property
from typing import Any

from scf_snova_devel.cleanup import ResourceTracker
from scf_snova_devel.cloud import CloudSettings, Redacted, RunNames
from scf_snova_devel.invocations import InvocationWatcher, fire_timer

#: How much longer the cloud takes than the emulator (deploys, SCF's 1-minute retries, CLS's
#: delivery): waits in the tests are multiplied by it there.
CLOUD_TIME_SCALE = 10.0


def cloud_connection_json(settings: CloudSettings) -> str:
    """An ``AIRFLOW_CONN_*`` value for a ``tencentcloud`` connection to Tencent Cloud.

    :param settings: the cloud's settings.
    """
    extra = {"region": settings.region, "appid": settings.appid, "namespace": settings.namespace}
    if settings.token:
        extra["token"] = settings.token
    return json.dumps(
        {
            "conn_type": "tencentcloud",
            "login": settings.secret_id,
            "password": settings.secret_key,
            "extra": extra,
        }
    )


class Target:
    """One target of the system tests.

    :param cloud: whether it is Tencent Cloud.
    :param region: the region.
    :param appid: the APPID.
    :param secret_id: the SecretId.
    :param secret_key: the SecretKey.
    :param namespace: the SCF namespace.
    :param endpoint: the emulator's URL (``""`` on the cloud): what ``COS_ENDPOINT`` gets.
    :param bucket: the scratch bucket.
    :param names: the run's names.
    :param tracker: what the run created (a new one when omitted).
    :param emulator: the emulator, when it is the target.
    """

    def __init__(
        self,
        *,
        cloud: bool,
        region: str,
        appid: str,
        secret_id: str,
        secret_key: str,
        namespace: str,
        endpoint: str,
        bucket: str,
        names: RunNames,
        tracker: ResourceTracker | None = None,
        emulator: Any = None,
    ) -> None:
        self.cloud = cloud
        self.region = region
        self.appid = appid
        self.secret_id = secret_id
        self.secret_key = Redacted(secret_key)
        self.namespace = namespace
        self.endpoint = endpoint
        self.bucket = bucket
        self.names = names
        self.emulator = emulator
        self.time_scale = CLOUD_TIME_SCALE if cloud else 1.0
        self.started = time.time()
        self.tracker = tracker or ResourceTracker(names.tag)
        self.tracker.secrets.add(secret_key)

    def __repr__(self) -> str:
        where = "Tencent Cloud" if self.cloud else f"the emulator at {self.endpoint}"
        return f"<Target {where} {self.region}, bucket {self.bucket}, run {self.names.tag}>"

    @classmethod
    def for_emulator(
        cls, server: Any, names: RunNames, tracker: ResourceTracker | None = None
    ) -> Target:
        """The emulator ``server``, with a scratch bucket of its own.

        :param server: a started :class:`~scf_snova_emulator.EmulatorServer`.
        :param names: the run's names.
        :param tracker: what the run created.
        """
        cfg = server.config
        bucket = f"{names.name('scratch')}-{cfg.appid}"
        server.cos.create_bucket(bucket)
        return cls(
            cloud=False,
            region=cfg.region,
            appid=cfg.appid,
            secret_id=cfg.secret_id,
            secret_key=cfg.secret_key,
            namespace="default",
            endpoint=server.endpoint,
            bucket=bucket,
            names=names,
            tracker=tracker,
            emulator=server,
        )

    @classmethod
    def for_cloud(
        cls, settings: CloudSettings, names: RunNames, tracker: ResourceTracker | None = None
    ) -> Target:
        """Tencent Cloud as ``settings`` say.

        :param settings: the cloud's settings.
        :param names: the run's names.
        :param tracker: what the run created.
        """
        target = cls(
            cloud=True,
            region=settings.region,
            appid=settings.appid,
            secret_id=settings.secret_id,
            secret_key=settings.secret_key,
            namespace=settings.namespace,
            endpoint="",
            bucket=settings.bucket,
            names=names,
            tracker=tracker,
        )
        target.tracker.secrets.update(settings.secrets)
        return target

    # -- names and secrets -------------------------------------------------------------------------
    def name(self, label: str = "t") -> str:
        """A fresh name with the run's tag (functions, triggers).

        :param label: what it names, e.g. ``import``.
        """
        return self.names.name(label)

    def root(self, label: str = "t") -> str:
        """A fresh folder of the scratch bucket, ``scf-snova-tests/<tag>/<label>-<n>/``.

        :param label: whose folder, e.g. the test module's name.
        """
        return self.names.root(label)

    def secret(self, value: str) -> Redacted:
        """Register a value no output may show (a generated password); returns it redacted.

        :param value: the secret.
        """
        self.tracker.secrets.add(value)
        return Redacted(value)

    @property
    def secrets(self) -> set[str]:
        return self.tracker.secrets

    def seconds(self, emulator_seconds: float) -> float:
        """A wait that takes ``emulator_seconds`` on the emulator, scaled for the target.

        :param emulator_seconds: the wait on the emulator.
        """
        return emulator_seconds * self.time_scale

    # -- hooks -------------------------------------------------------------------------------------
    @cached_property
    def scf(self):
        """An SCFHook on ``tencentcloud_default`` (fast retries on the emulator)."""
        from airflow_scf_snova.hooks.scf import SCFHook

        if self.cloud:
            return SCFHook(namespace=self.namespace)
        return SCFHook(retry_delay=0.01, max_retry_delay=0.05)

    @cached_property
    def cos(self):
        """A COSHook on ``tencentcloud_default``."""
        from airflow_scf_snova.hooks.cos import COSHook

        return COSHook()

    @cached_property
    def watcher(self) -> InvocationWatcher:
        return InvocationWatcher(
            self.scf,
            since=self.started,
            poll_interval=3.0 if self.cloud else 0.05,
            log_grace=60.0 if self.cloud else 5.0,
        )

    # -- what the tests do -------------------------------------------------------------------------
    def put_object(self, bucket: str, key: str, body: bytes | str) -> str:
        """Upload an object through the COS SDK; returns its ETag (no quotes).

        :param bucket: the bucket.
        :param key: the key (under the test's folder).
        :param body: the content (``str`` is sent as UTF-8).
        """
        return self.cos.put_object(bucket, key, body)

    def head_object(self, bucket: str, key: str):
        """The object's :class:`~scf_snova_core.objects.COSObject` (``size``, ``etag``...).

        :param bucket: the bucket.
        :param key: the key.
        """
        return self.cos.head_object(bucket, key)

    def fire_timer(self, function: str, trigger_name: str) -> str:
        """Run a timer trigger now; returns the FunctionRequestId. The emulator fires the trigger
        itself; the cloud invokes the function with the trigger's event
        (:func:`~.invocations.fire_timer`).

        :param function: the function.
        :param trigger_name: its timer trigger.
        """
        if self.emulator is not None:
            return self.emulator.control.fire_timer(function, trigger_name, self.namespace)
        return fire_timer(self.scf, function, trigger_name, self.namespace)

    def invocations(self, function: str) -> list[dict[str, Any]]:
        """Every attempt of every run of ``function`` so far (see
        :meth:`~.invocations.InvocationWatcher.invocations`).

        :param function: the function.
        """
        return self.watcher.invocations(function, self.namespace)

    def wait_for_invocations(
        self, count: int, function: str, final: bool = False, timeout: float = 60
    ) -> list[dict[str, Any]]:
        """Wait for ``count`` finished attempts of ``function``.

        :param count: how many.
        :param function: the function.
        :param final: count only attempts no retry follows (one per run).
        :param timeout: the emulator's seconds, scaled for the target.
        """
        return self.watcher.wait_for(count, function, final, self.seconds(timeout), self.namespace)

    # -- the run's clean-up ------------------------------------------------------------------------
    def begin(self) -> None:
        """Write the run's marker (before anything else is created)."""
        self.tracker.write_marker(self.cos, self.bucket, "cloud" if self.cloud else "emulator")

    def clean_up(self) -> None:
        """Delete every function, layer and object of the run (recorded or tagged)."""
        self.tracker.clean_cloud(self.scf, self.cos, self.bucket, self.namespace)

    def end(self) -> None:
        """Delete the marker, when the clean-ups left nothing behind."""
        self.tracker.delete_marker(self.cos, self.bucket)
