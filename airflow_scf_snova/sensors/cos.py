"""Sensors that wait for COS objects: the same Prefix + Suffix filter a COS trigger applies, plus
glob, regex, modification time and size; and a quiescence sensor for "upload finished".

Both are sensors of :class:`~airflow_scf_snova.sensors.base.TencentCloudBaseSensor` with a
:class:`~airflow_scf_snova.hooks.cos.COSHook`, built on first use (no SDK at import time); the
triggers (with ``airflow.triggers.base``) are imported only when a sensor defers, so a DAG file
pays for neither.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import PokeReturnValue
from airflow.sdk.bases.sensor import poke_mode_only
from airflow.sdk.exceptions import AirflowException
from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE
from scf_snova_core.objects import COSObject

from airflow_scf_snova.cos.filters import KeyFilter, is_blank
from airflow_scf_snova.cos.quiescence import (
    InactivityTracker,
    ListingSnapshot,
    ObjectsDeletedError,
)
from airflow_scf_snova.exceptions import InvalidInputError
from airflow_scf_snova.hooks.cos import COSHook
from airflow_scf_snova.operators.base import default_deferrable, tencentcloud_template_fields
from airflow_scf_snova.operators.cos import COS_UI_COLOR
from airflow_scf_snova.sensors.base import TencentCloudBaseSensor

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_scf_snova.snova.pending import NotLoadedFilter

#: XCom key under which :class:`COSObjectSensor` pushes COS-trigger-shaped events.
COS_EVENTS_XCOM_KEY = "cos_events"


class COSObjectSensor(TencentCloudBaseSensor[COSHook]):
    """Wait until objects exist in a bucket: one exact ``key``, or every object matching the
    filters (a COS trigger's ``Prefix`` + ``Suffix``, plus ``glob``, ``regex``,
    ``modified_after`` and ``min_size``, all combined with AND; see
    :mod:`airflow_scf_snova.cos.filters` for glob semantics: ``*`` stays within one ``/``
    segment, ``**`` crosses them).

    Returns (XCom ``return_value``) the matching objects as
    :meth:`~scf_snova_core.objects.COSObject.to_dict` dictionaries, in key order,
    at most ``max_objects`` of them; and pushes under the XCom key ``cos_events`` the same objects
    as COS-trigger events (``{"Records": [...]}``, one per object), which an SCF function written
    for a COS trigger accepts unchanged.

    With ``not_loaded_into`` it waits for work: only objects whose current version the table's
    load ledger (``ledger_table``, read on ``snova_conn_id``) does not record count, that is
    objects never loaded into that table or overwritten since (see
    :mod:`airflow_scf_snova.snova.pending`). Pass the table and ledger of the
    ``COSToSnovaOperator`` that loads them.

    With ``deferrable=True`` it checks once, then waits in the triggerer
    (:class:`~airflow_scf_snova.triggers.cos.COSObjectTrigger`, polling every
    ``poke_interval``); ``timeout``, ``soft_fail`` and ``never_fail`` behave as for any Airflow
    sensor.

    :param bucket: the bucket, ``name`` (the connection's appid is appended) or ``name-appid``.
    :param key: an exact key (checked with a HEAD request); excludes the key filters below.
    :param prefix: keys start with this (sent to COS, narrows the listing).
    :param suffix: keys end with this.
    :param glob: path-aware glob on the whole key.
    :param regex: regular expression the whole key must match (``re.fullmatch``).
    :param modified_after: only objects modified at or after this instant: a datetime or an
        ISO-8601 string such as ``"{{ data_interval_start }}"`` (blank or ``"None"``: no limit).
    :param min_size: only objects of at least this many bytes.
    :param start_after: only keys that sort after this one, sent to COS as the listing's
        ``marker``: with date-partitioned keys, ``"logs/{{ ds }}/"`` skips the days before
        without listing them (blank or ``"None"``: from the start).
    :param max_objects: at most this many objects are returned (``None``: no limit; mind XCom).
    :param not_loaded_into: a Snova table: skip the objects its load ledger records.
    :param ledger_table: the load ledger read for ``not_loaded_into``.
    :param snova_conn_id: the ``snova`` connection read for ``not_loaded_into``.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = tencentcloud_template_fields(
        "bucket",
        "key",
        "prefix",
        "suffix",
        "glob",
        "regex",
        "modified_after",
        "start_after",
        "not_loaded_into",
        "ledger_table",
        "snova_conn_id",
    )
    hook_class = COSHook
    ui_color = COS_UI_COLOR

    def __init__(
        self,
        *,
        bucket: str,
        key: str | None = None,
        prefix: str | None = None,
        suffix: str | None = None,
        glob: str | None = None,
        regex: str | None = None,
        modified_after: datetime | str | None = None,
        min_size: int | None = None,
        start_after: str | None = None,
        max_objects: int | None = 1000,
        not_loaded_into: str | None = None,
        ledger_table: str = DEFAULT_LEDGER_TABLE,
        snova_conn_id: str = "snova_default",
        deferrable: bool = default_deferrable(),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if key is not None and any(
            v is not None for v in (prefix, suffix, glob, regex, start_after)
        ):
            raise InvalidInputError(
                "pass either key or prefix/suffix/glob/regex/start_after, not both"
            )
        if max_objects is not None and max_objects < 1:
            raise InvalidInputError("max_objects must be at least 1 (or None)")
        self.bucket = bucket
        self.key = key
        self.prefix = prefix
        self.suffix = suffix
        self.glob = glob
        self.regex = regex
        self.modified_after = modified_after
        self.min_size = min_size
        self.start_after = start_after
        self.max_objects = max_objects
        self.not_loaded_into = not_loaded_into
        self.ledger_table = ledger_table
        self.snova_conn_id = snova_conn_id
        self.deferrable = deferrable

    # -- matching ----------------------------------------------------------------------------------
    def _modified_after(self) -> str | None:
        if is_blank(self.modified_after):
            return None
        if isinstance(self.modified_after, datetime):
            return self.modified_after.isoformat()
        return str(self.modified_after).strip()

    def _selection(self) -> KeyFilter:
        try:
            return KeyFilter(
                self.prefix or "",
                self.suffix or None,
                self.glob or None,
                self.regex or None,
                self._modified_after(),
                self.min_size,
                self._start_after(),
            )
        except ValueError as err:
            raise InvalidInputError(str(err)) from err

    def _start_after(self) -> str | None:
        return None if is_blank(self.start_after) else str(self.start_after)

    def _key(self) -> str | None:
        return None if is_blank(self.key) else self.key

    def _not_loaded(self) -> NotLoadedFilter | None:
        if is_blank(self.not_loaded_into):
            return None
        from airflow_scf_snova.snova.pending import NotLoadedFilter

        return NotLoadedFilter(self.not_loaded_into, self.ledger_table, self.snova_conn_id)

    def _find(self) -> tuple[list[COSObject], bool]:
        limit = None if self.max_objects is None else self.max_objects + 1
        not_loaded = self._not_loaded()
        if not_loaded is None:
            found = self.hook.match_objects(self.bucket, self._key(), self._selection(), limit)
        else:
            found = not_loaded.match(self.hook, self.bucket, self._key(), self._selection(), limit)
        truncated = self.max_objects is not None and len(found) > self.max_objects
        return (found[: self.max_objects] if truncated else found), truncated

    def _finish(
        self, context: Context, objects: list[COSObject], truncated: bool
    ) -> list[dict[str, Any]]:
        if truncated:
            self.log.warning(
                "More than %d objects match in %s; returning the first %d (raise max_objects)",
                self.max_objects,
                self.bucket,
                self.max_objects,
            )
        self.log.info("%d matching object(s) in %s", len(objects), self.bucket)
        region = self.hook.region
        context["ti"].xcom_push(
            key=COS_EVENTS_XCOM_KEY, value=[obj.to_cos_event(region) for obj in objects]
        )
        return [obj.to_dict() for obj in objects]

    # -- sensor protocol ---------------------------------------------------------------------------
    def poke(self, context: Context) -> bool | PokeReturnValue:
        objects, truncated = self._find()
        if not objects:
            self.log.info("No matching object in %s%s yet", self.bucket, self._pending_note())
            return False
        return PokeReturnValue(True, self._finish(context, objects, truncated))

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        objects, truncated = self._find()
        if objects:
            return self._finish(context, objects, truncated)
        self.log.info(
            "No matching object in %s%s yet; deferring", self.bucket, self._pending_note()
        )
        from airflow_scf_snova.triggers.cos import COSObjectTrigger

        self.defer(
            trigger=COSObjectTrigger(
                bucket=self.bucket,
                key=self._key(),
                prefix=self.prefix or "",
                suffix=self.suffix or None,
                glob=self.glob or None,
                regex=self.regex or None,
                modified_after=self._modified_after(),
                min_size=self.min_size,
                start_after=self._start_after(),
                max_objects=self.max_objects,
                poll_interval=self.poke_interval,
                not_loaded_into=None if is_blank(self.not_loaded_into) else self.not_loaded_into,
                ledger_table=self.ledger_table,
                snova_conn_id=self.snova_conn_id,
                **self.hook_kwargs(),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def _pending_note(self) -> str:
        return (
            "" if is_blank(self.not_loaded_into) else f" that {self.not_loaded_into} has not loaded"
        )

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Resume after :class:`COSObjectTrigger` fired."""
        if not event:
            raise AirflowException("COSObjectSensor resumed without a trigger event")
        if event.get("status") != "success":
            raise AirflowException(f"Waiting for COS objects failed: {event.get('message')}")
        objects = [COSObject.from_dict(item) for item in event.get("objects") or []]
        return self._finish(context, objects, bool(event.get("truncated")))


@poke_mode_only
class COSObjectsUnchangedSensor(TencentCloudBaseSensor[COSHook]):
    """Wait until uploads under a prefix are finished: the listing (keys, ETags, sizes) stayed the
    same for ``inactivity_period`` seconds and holds at least ``min_objects`` objects.

    The state is a count and a digest of the listing, computed in one streaming pass, so any
    number of objects costs constant memory. It is kept between pokes of one try, so the sensor
    runs in ``poke`` mode only; ``deferrable=True`` hands the state to
    :class:`~airflow_scf_snova.triggers.cos.COSObjectsUnchangedTrigger` after the first listing.

    :param bucket: the bucket, ``name`` or ``name-appid``.
    :param prefix: the prefix being uploaded to.
    :param inactivity_period: seconds without changes.
    :param min_objects: objects that must be present; fewer keeps the sensor waiting.
    :param allow_delete: whether objects may disappear (which restarts the clock); if not, the
        sensor fails when the object count drops.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param clock: monotonic seconds; inject a fake clock in tests (default ``time.monotonic``).
    """

    template_fields: Sequence[str] = tencentcloud_template_fields("bucket", "prefix")
    hook_class = COSHook
    ui_color = COS_UI_COLOR

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        inactivity_period: float = 60 * 60,
        min_objects: int = 1,
        allow_delete: bool = True,
        deferrable: bool = default_deferrable(),
        clock: Callable[[], float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if inactivity_period < 0:
            raise InvalidInputError("inactivity_period must be >= 0")
        if min_objects < 0:
            raise InvalidInputError("min_objects must be >= 0")
        self.bucket = bucket
        self.prefix = prefix
        self.inactivity_period = inactivity_period
        self.min_objects = min_objects
        self.allow_delete = allow_delete
        self.deferrable = deferrable
        self.clock = clock
        self._tracker: InactivityTracker | None = None

    @property
    def tracker(self) -> InactivityTracker:
        if self._tracker is None:
            self._tracker = InactivityTracker(
                self.inactivity_period, self.min_objects, self.allow_delete, clock=self.clock
            )
        return self._tracker

    def poke(self, context: Context) -> bool:
        snapshot = ListingSnapshot.of(self.hook.iter_objects(self.bucket, prefix=self.prefix))
        try:
            done = self.tracker.observe(snapshot)
        except ObjectsDeletedError as err:
            raise AirflowException(f"{self.bucket}/{self.prefix}: {err}") from err
        self.log.info(
            "%d object(s) under %s/%s, unchanged for %.0f of %.0f s",
            snapshot.count,
            self.bucket,
            self.prefix,
            self.tracker.inactive_for,
            self.inactivity_period,
        )
        return done

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            super().execute(context)
            return
        if self.poke(context):
            return
        tracker = self.tracker
        from airflow_scf_snova.triggers.cos import COSObjectsUnchangedTrigger

        self.defer(
            trigger=COSObjectsUnchangedTrigger(
                bucket=self.bucket,
                prefix=self.prefix,
                inactivity_period=self.inactivity_period,
                min_objects=self.min_objects,
                allow_delete=self.allow_delete,
                poll_interval=self.poke_interval,
                previous=tracker.previous.to_dict() if tracker.previous else None,
                inactive_for=tracker.inactive_for,
                **self.hook_kwargs(),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after :class:`COSObjectsUnchangedTrigger` fired."""
        if not event:
            raise AirflowException("COSObjectsUnchangedSensor resumed without a trigger event")
        if event.get("status") != "success":
            raise AirflowException(
                f"Waiting for {self.bucket}/{self.prefix}: {event.get('message')}"
            )
        self.log.info("%s", event.get("message"))
