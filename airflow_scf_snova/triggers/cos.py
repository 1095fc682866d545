"""Triggers that watch COS: for deferred sensors, and for event-driven DAGs (``AssetWatcher``).

- :class:`COSObjectTrigger`: polls until matching objects exist (``COSObjectSensor``).
- :class:`COSObjectsUnchangedTrigger`: polls until a prefix stops changing
  (``COSObjectsUnchangedSensor``).
- :class:`COSObjectEventTrigger`: a ``BaseEventTrigger`` emitting one event per new or changed
  object, with a durable, bounded watermark, so a DAG can be scheduled on
  ``Asset("cos://bucket/prefix", watchers=[AssetWatcher(...)])``.

The COS SDK is synchronous: calls run in a worker thread (``asyncio.to_thread``), the hook is built
inside ``run`` and nothing SDK-related is imported by this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent
from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE

from airflow_scf_snova.cos.filters import KeyFilter
from airflow_scf_snova.cos.quiescence import InactivityTracker, ListingSnapshot
from airflow_scf_snova.cos.watermark import OrderedScan, Watermark, WatermarkScan
from airflow_scf_snova.deprecations import warn_renamed
from airflow_scf_snova.exceptions import (
    InvalidInputError,
    TencentCloudNetworkError,
    TencentCloudThrottledError,
)
from airflow_scf_snova.hooks.base import TencentCloudBaseHook

if TYPE_CHECKING:
    from airflow_scf_snova.hooks.cos import COSHook

DEFAULT_CONN_ID = TencentCloudBaseHook.default_conn_name
#: Consecutive network or throttling failures a polling trigger sits out before it gives up.
MAX_TRANSIENT_FAILURES = 5
#: ``COSObjectEventTrigger``'s listing modes.
LISTING_MODES = ("full", "ordered")
_TRANSIENT = (TencentCloudNetworkError, TencentCloudThrottledError)


def _classpath(trigger: BaseTrigger) -> str:
    return f"{type(trigger).__module__}.{type(trigger).__qualname__}"


def _build_hook(conn_id: str, region: str | None) -> COSHook:
    from airflow_scf_snova.hooks.cos import COSHook

    return COSHook(tencentcloud_conn_id=conn_id, region=region)


def _poll_interval(owner: BaseTrigger, poll_interval: float, poke_interval: float | None) -> float:
    """``poll_interval``, or the deprecated ``poke_interval`` a trigger serialised by an earlier
    release still carries."""
    if poke_interval is None:
        return float(poll_interval)
    warn_renamed(type(owner).__name__, "poke_interval", "poll_interval", stacklevel=4)
    return float(poke_interval)


class _COSPollingTrigger(BaseTrigger):
    """Polls COS until a condition holds, then fires once.

    Subclasses implement :meth:`_poller`, which returns the poll: a function run in a worker
    thread that returns the success event's fields once the condition holds, ``None`` before.
    Network and throttling failures are sat out, up to :data:`MAX_TRANSIENT_FAILURES` in a row;
    any other error ends the wait with ``{"status": "error", "message": ...}``.
    """

    bucket: str
    poll_interval: float

    def _poller(self) -> Callable[[], dict[str, Any] | None]:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            poll = self._poller()
        except Exception as err:
            yield TriggerEvent({"status": "error", "message": str(err)})
            return
        failures = 0
        while True:
            try:
                fields = await asyncio.to_thread(poll)
            except _TRANSIENT as err:
                failures += 1
                if failures >= MAX_TRANSIENT_FAILURES:
                    yield TriggerEvent({"status": "error", "message": str(err)})
                    return
                self.log.warning(
                    "Polling COS bucket %s failed (%d in a row), retrying: %s",
                    self.bucket,
                    failures,
                    err,
                )
            except Exception as err:  # a non-transient COS error, or the condition's own
                yield TriggerEvent({"status": "error", "message": str(err)})
                return
            else:
                failures = 0
                if fields is not None:
                    yield TriggerEvent({"status": "success", **fields})
                    return
            await asyncio.sleep(self.poll_interval)


class COSObjectTrigger(_COSPollingTrigger):
    """Poll COS until objects match, then fire once with the matches.

    The event: ``{"status": "success", "objects": [COSObject dicts], "truncated": bool}``, or
    ``{"status": "error", "message": ...}`` on a non-transient error (or after
    ``MAX_TRANSIENT_FAILURES`` network/throttling failures in a row).

    :param bucket: the bucket, ``name`` or ``name-appid``.
    :param key: an exact key (a HEAD request per poll) instead of a listing.
    :param prefix: listing filters, see :mod:`airflow_scf_snova.cos.filters`.
    :param suffix: see ``prefix``.
    :param glob: see ``prefix``.
    :param regex: see ``prefix``.
    :param modified_after: ISO-8601 instant; only objects modified at or after it.
    :param min_size: only objects of at least this many bytes.
    :param start_after: only keys that sort after this one (the listing's ``marker``).
    :param max_objects: at most this many objects are returned (``None``: all).
    :param poll_interval: seconds between polls.
    :param tencentcloud_conn_id: the connection.
    :param region: overrides the connection's region.
    :param poke_interval: deprecated name of ``poll_interval``.
    :param not_loaded_into: a Snova table: only objects its load ledger does not record count
        (see :mod:`airflow_scf_snova.snova.pending`).
    :param ledger_table: the load ledger read for ``not_loaded_into``.
    :param snova_conn_id: the ``snova`` connection read for ``not_loaded_into``.
    """

    def __init__(
        self,
        bucket: str,
        key: str | None = None,
        prefix: str = "",
        suffix: str | None = None,
        glob: str | None = None,
        regex: str | None = None,
        modified_after: str | None = None,
        min_size: int | None = None,
        max_objects: int | None = 1000,
        poll_interval: float = 60.0,
        tencentcloud_conn_id: str = DEFAULT_CONN_ID,
        region: str | None = None,
        poke_interval: float | None = None,
        not_loaded_into: str | None = None,
        ledger_table: str = DEFAULT_LEDGER_TABLE,
        snova_conn_id: str = "snova_default",
        start_after: str | None = None,
    ) -> None:
        super().__init__()
        self.bucket = bucket
        self.key = key
        self.start_after = start_after
        self.prefix = prefix or ""
        self.suffix = suffix
        self.glob = glob
        self.regex = regex
        self.modified_after = modified_after
        self.min_size = min_size
        self.max_objects = max_objects
        self.poll_interval = _poll_interval(self, poll_interval, poke_interval)
        self.tencentcloud_conn_id = tencentcloud_conn_id
        self.region = region
        self.not_loaded_into = not_loaded_into
        self.ledger_table = ledger_table
        self.snova_conn_id = snova_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return _classpath(self), {
            "bucket": self.bucket,
            "key": self.key,
            "prefix": self.prefix,
            "suffix": self.suffix,
            "glob": self.glob,
            "regex": self.regex,
            "modified_after": self.modified_after,
            "min_size": self.min_size,
            "max_objects": self.max_objects,
            "poll_interval": self.poll_interval,
            "tencentcloud_conn_id": self.tencentcloud_conn_id,
            "region": self.region,
            "not_loaded_into": self.not_loaded_into,
            "ledger_table": self.ledger_table,
            "snova_conn_id": self.snova_conn_id,
            # Only when set, so that the hash of a trigger without it does not depend on it.
            **({"start_after": self.start_after} if self.start_after else {}),
        }

    def _selection(self) -> KeyFilter:
        return KeyFilter(
            self.prefix,
            self.suffix,
            self.glob,
            self.regex,
            self.modified_after,
            self.min_size,
            self.start_after,
        )

    def _match(self, hook: COSHook, selection: KeyFilter, limit: int | None) -> list:
        if not self.not_loaded_into:
            return hook.match_objects(self.bucket, self.key, selection, limit)
        from airflow_scf_snova.snova.pending import NotLoadedFilter

        not_loaded = NotLoadedFilter(self.not_loaded_into, self.ledger_table, self.snova_conn_id)
        return not_loaded.match(hook, self.bucket, self.key, selection, limit)

    def _poller(self) -> Callable[[], dict[str, Any] | None]:
        hook = _build_hook(self.tencentcloud_conn_id, self.region)
        selection = self._selection()
        limit = None if self.max_objects is None else self.max_objects + 1

        def poll() -> dict[str, Any] | None:
            found = self._match(hook, selection, limit)
            if not found:
                self.log.debug("No matching COS objects yet in %s", self.bucket)
                return None
            truncated = self.max_objects is not None and len(found) > self.max_objects
            objects = found[: self.max_objects] if truncated else found
            return {"objects": [obj.to_dict() for obj in objects], "truncated": truncated}

        return poll


class COSObjectsUnchangedTrigger(_COSPollingTrigger):
    """Poll a prefix until its listing stayed unchanged for ``inactivity_period`` seconds.

    Events: ``{"status": "success", "count": n}``, or ``{"status": "error", "message": ...}`` when
    objects were deleted and ``allow_delete`` is false (or COS kept failing).

    :param bucket: the bucket.
    :param prefix: the prefix being uploaded to.
    :param inactivity_period: seconds without changes.
    :param min_objects: objects that must be present.
    :param allow_delete: whether a shrinking listing is acceptable.
    :param poll_interval: seconds between listings.
    :param previous: the sensor's last :class:`ListingSnapshot` as a dict, to resume from.
    :param inactive_for: seconds the sensor had already seen no change.
    :param tencentcloud_conn_id: the connection.
    :param region: overrides the connection's region.
    :param poke_interval: deprecated name of ``poll_interval``.
    """

    #: The clock (monotonic seconds). Not serialised: tests replace it on the instance.
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(
        self,
        bucket: str,
        prefix: str,
        inactivity_period: float,
        min_objects: int = 1,
        allow_delete: bool = True,
        poll_interval: float = 60.0,
        previous: dict[str, Any] | None = None,
        inactive_for: float = 0.0,
        tencentcloud_conn_id: str = DEFAULT_CONN_ID,
        region: str | None = None,
        poke_interval: float | None = None,
    ) -> None:
        super().__init__()
        self.bucket = bucket
        self.prefix = prefix
        self.inactivity_period = float(inactivity_period)
        self.min_objects = min_objects
        self.allow_delete = allow_delete
        self.poll_interval = _poll_interval(self, poll_interval, poke_interval)
        self.previous = previous
        self.inactive_for = float(inactive_for)
        self.tencentcloud_conn_id = tencentcloud_conn_id
        self.region = region

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return _classpath(self), {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "inactivity_period": self.inactivity_period,
            "min_objects": self.min_objects,
            "allow_delete": self.allow_delete,
            "poll_interval": self.poll_interval,
            "previous": self.previous,
            "inactive_for": self.inactive_for,
            "tencentcloud_conn_id": self.tencentcloud_conn_id,
            "region": self.region,
        }

    def _poller(self) -> Callable[[], dict[str, Any] | None]:
        hook = _build_hook(self.tencentcloud_conn_id, self.region)
        tracker = InactivityTracker(
            self.inactivity_period,
            self.min_objects,
            self.allow_delete,
            clock=self.clock,
            previous=ListingSnapshot.from_dict(self.previous),
            inactive_for=self.inactive_for,
        )

        def poll() -> dict[str, Any] | None:
            current = ListingSnapshot.of(hook.iter_objects(self.bucket, prefix=self.prefix))
            if not tracker.observe(current):  # ObjectsDeletedError ends the wait
                return None
            return {
                "count": current.count,
                "message": (
                    f"{current.count} object(s) under {self.bucket}/{self.prefix} "
                    f"unchanged for {self.inactivity_period:g} s"
                ),
            }

        return poll


class COSObjectEventTrigger(BaseEventTrigger):
    """Emit one event per new or changed COS object, for ``AssetWatcher`` (event-driven DAGs).

    Each poll lists the matching objects and announces those not yet announced with the same
    ETag; the payload is the object (``bucket``, ``key``, ``etag``, ``size``,
    ``last_modified``, ``url``) plus ``previous_etag`` (``None`` for a new object). Downstream,
    ``context["triggering_asset_events"][asset]`` holds the events; several may land in one DAG
    run when files arrive faster than the scheduler creates runs, so iterate over them.

    **Watermark.** What was announced is kept as a bounded high-water mark (see
    :mod:`airflow_scf_snova.cos.watermark`): it is stored in the watched
    asset's ``asset_state_store`` (key :attr:`state_key`) after every poll, so a triggerer
    restart neither replays old objects nor loses the ones uploaded while it was down. Delivery is
    at-least-once: a restart during a poll may announce that poll's objects again (the ETag in the
    payload lets consumers deduplicate). Without a state store (one trigger shared by several
    assets, or a trigger run outside a triggerer) the watermark lives in memory only: after a
    restart the trigger starts over as on its first start.

    **First start.** With ``emit_existing=False`` (default) the objects already present are
    recorded, not announced; with ``True`` every existing object is announced once.

    **Listing.** ``listing="full"`` (default) lists the whole selection on every poll.
    ``listing="ordered"`` lists only the keys after the greatest key listed so far (COS's
    ``marker``): a poll then costs the new objects, not the prefix, when keys arrive in
    lexicographic order (date-partitioned paths). An object whose key sorts at or before that key
    when it appears (an out-of-order upload, an overwrite) is announced by the next *full*
    listing. Full listings run on the first poll of a trigger that has no ordered state, then at
    the first poll that starts ``full_listing_interval`` seconds or more after the previous full
    listing started (``0``: every poll); the time of the last one is kept in the watermark, so a
    triggerer restart does not postpone it. Such an object is therefore announced at most
    ``full_listing_interval + poll_interval`` seconds (plus one listing's duration) after it
    becomes listable, provided its COS timestamp is not older than ``settle_seconds`` before the
    newest object of the previous full listing (the watermark's rule, see
    :mod:`airflow_scf_snova.cos.watermark`).

    :param bucket: the bucket, ``name`` or ``name-appid``.
    :param prefix: listing filters, see :mod:`airflow_scf_snova.cos.filters`.
    :param suffix: see ``prefix``.
    :param glob: see ``prefix``.
    :param regex: see ``prefix``.
    :param min_size: only objects of at least this many bytes.
    :param poll_interval: seconds between listings.
    :param settle_seconds: how far the watermark trails the newest object: objects that become
        listable up to this long after their COS timestamp are still announced; larger values
        keep more keys in the state.
    :param emit_existing: announce objects present at the first start.
    :param tencentcloud_conn_id: the connection.
    :param region: overrides the connection's region.
    :param listing: ``"full"`` or ``"ordered"`` (see *Listing*).
    :param full_listing_interval: with ``listing="ordered"``, seconds between full listings.
    """

    #: Monotonic seconds, for the full-listing schedule. Not serialised: tests replace it.
    clock: Callable[[], float] = staticmethod(time.monotonic)
    #: POSIX seconds, stored with the watermark so that the schedule survives a restart.
    wall_clock: Callable[[], float] = staticmethod(time.time)

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        suffix: str | None = None,
        glob: str | None = None,
        regex: str | None = None,
        min_size: int | None = None,
        poll_interval: float = 60.0,
        settle_seconds: float = 60.0,
        emit_existing: bool = False,
        tencentcloud_conn_id: str = DEFAULT_CONN_ID,
        region: str | None = None,
        listing: str = "full",
        full_listing_interval: float = 3600.0,
    ) -> None:
        super().__init__()
        self.bucket = bucket
        self.prefix = prefix or ""
        self.suffix = suffix
        self.glob = glob
        self.regex = regex
        self.min_size = min_size
        self.poll_interval = float(poll_interval)
        self.settle_seconds = float(settle_seconds)
        self.emit_existing = emit_existing
        self.tencentcloud_conn_id = tencentcloud_conn_id
        self.region = region
        if listing not in LISTING_MODES:
            raise InvalidInputError(f"listing must be one of {LISTING_MODES}, got {listing!r}")
        if full_listing_interval < 0:
            raise InvalidInputError(
                f"full_listing_interval must not be negative, got {full_listing_interval!r}"
            )
        self.listing = listing
        self.full_listing_interval = float(full_listing_interval)
        self._persist = True
        # Validate at DAG-parse time: a bad pattern should fail the DAG file, not the triggerer.
        self._selection()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return _classpath(self), {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "suffix": self.suffix,
            "glob": self.glob,
            "regex": self.regex,
            "min_size": self.min_size,
            "poll_interval": self.poll_interval,
            "settle_seconds": self.settle_seconds,
            "emit_existing": self.emit_existing,
            "tencentcloud_conn_id": self.tencentcloud_conn_id,
            "region": self.region,
            # Only when not the default, so that a full-listing watcher's hash (its identity for
            # the triggerer) does not depend on these arguments.
            **(
                {"listing": self.listing, "full_listing_interval": self.full_listing_interval}
                if self.listing != "full"
                else {}
            ),
        }

    def _selection(self) -> KeyFilter:
        return KeyFilter(self.prefix, self.suffix, self.glob, self.regex, None, self.min_size)

    @property
    def state_key(self) -> str:
        """The asset-state-store key: one per watched selection (not per poll settings)."""
        what = json.dumps(
            [self.bucket, self.prefix, self.suffix, self.glob, self.regex, self.min_size]
        )
        return f"cos_watermark:{hashlib.sha256(what.encode()).hexdigest()[:24]}"

    async def _load_state(self) -> Watermark | None:
        store = getattr(self, "asset_state_store", None)
        if store is None or not self._persist:
            return None
        try:
            value = await _store_call(store, "get", self.state_key)
        except ValueError:
            # Airflow hands one trigger shared by several assets a multi-asset accessor.
            self.log.warning(
                "This COS watcher is shared by several assets: its watermark is kept in memory "
                "only. Give each asset its own watcher to make it durable."
            )
            self._persist = False
            return None
        return Watermark.from_json(value)

    async def _save_state(self, state: Watermark) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is None or not self._persist:
            return
        await _store_call(store, "set", self.state_key, state.to_json())

    def _full_listing_due(self, state: Watermark, due: float) -> bool:
        """Whether this poll lists the whole selection (see *Listing*)."""
        if self.listing == "full" or state.after_key is None:
            return True
        return self.clock() >= due

    def _first_due(self, state: Watermark) -> float:
        """When (on :attr:`clock`) the first full listing of this run is due: the stored time of
        the last one plus the interval, never later than one interval from now."""
        now = self.clock()
        if state.full_at is None:
            return now
        elapsed = max(0.0, self.wall_clock() - state.full_at)
        return now + max(0.0, self.full_listing_interval - elapsed)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = _build_hook(self.tencentcloud_conn_id, self.region)
        selection = self._selection()
        settle = timedelta(seconds=self.settle_seconds)
        state = await self._load_state()
        announce = state is not None or self.emit_existing
        state = state or Watermark()
        due = self._first_due(state)
        loop = asyncio.get_running_loop()
        while True:
            started = self.clock()
            scan: WatermarkScan | OrderedScan
            if self._full_listing_due(state, due):
                ordered = self.listing == "ordered"
                scan = WatermarkScan(
                    state, settle, announce, started_at=self.wall_clock() if ordered else None
                )
                start_after = ""
            else:
                scan, start_after = OrderedScan(state), state.after_key or ""
            try:
                # One thread walks the listing page by page; announcements come back in batches
                # so that a big first listing never sits in memory as a whole.
                listed = replace(selection, start_after=start_after) if start_after else selection
                iterator = hook.iter_matching(self.bucket, listed)
                while True:
                    batch = await loop.run_in_executor(None, _take, iterator, scan, 100)
                    if batch is None:
                        break
                    for item in batch:
                        payload = item.obj.to_dict()
                        payload["url"] = item.obj.url
                        payload["previous_etag"] = item.previous_etag
                        yield TriggerEvent(payload)
            except Exception:
                # Never turn an error into an event: that would schedule the DAG. Keep polling.
                self.log.exception(
                    "Listing %s failed; retrying in %ss", self.bucket, self.poll_interval
                )
            else:
                new_state = scan.result()
                if new_state != state or not announce:
                    await self._save_state(new_state)
                state, announce = new_state, True
                if isinstance(scan, WatermarkScan):
                    due = started + self.full_listing_interval
            await asyncio.sleep(self.poll_interval)


async def _store_call(store: Any, method: str, *args: Any) -> Any:
    """``store.a<method>(*args)``; Airflow 3.3.0's accessor has only the synchronous ``get`` and
    ``set``, which the triggerer lets a trigger call from its event loop (its comms channel
    awaits the supervisor's answer through a greenback portal)."""
    asynchronous = getattr(store, f"a{method}", None)
    if asynchronous is not None:
        return await asynchronous(*args)
    return getattr(store, method)(*args)


def _take(iterator: Any, scan: WatermarkScan | OrderedScan, count: int) -> list | None:
    """Advance ``iterator`` until ``count`` announcements (``None`` once it is exhausted)."""
    found: list = []
    exhausted = True
    for obj in iterator:
        item = scan.offer(obj)
        if item is not None:
            found.append(item)
            if len(found) >= count:
                exhausted = False
                break
    if exhausted and not found:
        return None
    return found
