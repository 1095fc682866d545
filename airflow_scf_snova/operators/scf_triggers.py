"""Operators that bind SCF's own timer and COS triggers to a function, and remove them.

Each is idempotent: it hands its definition to the hook
(:meth:`~airflow_scf_snova.hooks.scf.SCFHook.ensure_timer_trigger`,
:meth:`~airflow_scf_snova.hooks.scf.SCFHook.ensure_cos_triggers`), which changes nothing when
the function's triggers already match and replaces those that do not. All return
``{"function_name", "namespace", "trigger_name", "trigger_type", "qualifier", "triggers",
"changed"}`` (``triggers``: the ``TriggerDesc`` of each bound trigger).

These operators are also importable from :mod:`airflow_scf_snova.operators.scf`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from scf_snova_core.states import LATEST

from airflow_scf_snova.exceptions import InvalidInputError
from airflow_scf_snova.hooks.scf_triggers import (
    COS,
    DEFAULT_COS_EVENTS,
    TIMER,
    TRIGGER_TYPES,
    TriggerChange,
    scf_cron,
)
from airflow_scf_snova.links.scf import SCFFunctionLink
from airflow_scf_snova.operators.base import is_templated
from airflow_scf_snova.operators.scf import SCFBaseOperator, scf_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context


def _timer(trigger_name: str | None, cron: str | None) -> tuple[str, str]:
    if not trigger_name or cron is None:
        raise InvalidInputError("a timer trigger needs trigger_name and cron")
    return trigger_name, cron


def _check_timer(trigger_name: str | None, cron: str | None, zone: str | tzinfo) -> None:
    _, cron = _timer(trigger_name, cron)
    if not is_templated(cron):
        scf_cron(cron, zone)  # reject at parse time what SCF cannot run


def _schedule_zone(operator: SCFBaseOperator, timezone: str | tzinfo | None) -> str | tzinfo:
    """The zone a timer's ``cron`` is written in: ``timezone``, else the DAG's, else UTC."""
    if timezone is not None:
        return timezone
    return operator.dag.timezone if operator.has_dag() else "UTC"


def _bucket(bucket: str | None) -> str:
    if not bucket:
        raise InvalidInputError("a COS trigger needs bucket")
    return bucket


def _cos_events(bucket: str | None, events: Sequence[str] | str) -> tuple[str, ...]:
    _bucket(bucket)
    events = (events,) if isinstance(events, str) else tuple(events)
    if not events:
        raise InvalidInputError("a COS trigger needs at least one event")
    return events


class _SCFBindTriggerOperator(SCFBaseOperator):
    """What binding a trigger takes besides its definition: whether it fires, the version or
    alias it invokes, and its description."""

    operator_extra_links = (SCFFunctionLink(),)

    def __init__(
        self,
        *,
        enabled: bool = True,
        qualifier: str = LATEST,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.enabled = enabled
        self.qualifier = qualifier
        self.description = description

    def _binding(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "qualifier": self.qualifier,
            "description": self.description,
        }

    def _result(self, change: TriggerChange) -> dict[str, Any]:
        return {
            "function_name": self.function_name,
            "namespace": self.hook.namespace,
            "trigger_name": change.trigger_name,
            "trigger_type": change.trigger_type,
            "qualifier": self.qualifier,
            "triggers": list(change.triggers),
            "changed": change.changed,
        }

    def _persist_link(self, context: Context) -> None:
        hook = self.hook
        SCFFunctionLink.persist(context, self, hook.region, hook.namespace, self.function_name)


class SCFCreateTimerTriggerOperator(_SCFBindTriggerOperator):
    """Bind a timer trigger to a function, idempotently: the same definition changes nothing, a
    changed one replaces the trigger of that name (deleted, then created again).

    ``cron`` is a 7-field SCF cron (``second minute hour day month week year``), a 5-field
    crontab or an Airflow preset such as ``@daily``, written in ``timezone`` (by default the
    DAG's, as Airflow reads its schedules) and converted by
    :func:`scf_snova_core.cron.to_scf_cron` into the zone SCF reads crons in (UTC+8), weekdays
    named; what SCF cannot run, and what one cron cannot follow there (daylight saving), is
    rejected when the DAG is parsed (or, for a templated ``cron``, when the task runs).

    .. seealso:: ``docs/scf.md`` ("Timer and COS triggers")

    :param function_name: the function.
    :param trigger_name: the timer's name (letters, digits, ``-``, ``_``; starts with a letter).
    :param cron: the timer's schedule.
    :param timezone: the zone ``cron`` is written in (an IANA name such as ``"UTC"`` or
        ``"Asia/Shanghai"``, or a ``tzinfo``); ``None``: the DAG's time zone, UTC without a DAG.
    :param custom_argument: the event's ``Message`` (a dict is sent as JSON text).
    :param enabled: whether the trigger fires.
    :param qualifier: the version or alias the trigger invokes.
    :param description: the trigger's description.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = scf_template_fields(
        "trigger_name", "cron", "custom_argument", "qualifier"
    )

    def __init__(
        self,
        *,
        trigger_name: str,
        cron: str,
        timezone: str | tzinfo | None = None,
        custom_argument: str | Mapping | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_timer(trigger_name, cron, _schedule_zone(self, timezone))
        self.trigger_name = trigger_name
        self.cron = cron
        self.timezone = timezone
        self.custom_argument = custom_argument

    def execute(self, context: Context) -> dict[str, Any]:
        self._persist_link(context)
        change = self.hook.ensure_timer_trigger(
            self.function_name,
            self.trigger_name,
            self.cron,
            custom_argument=self.custom_argument,
            timezone=_schedule_zone(self, self.timezone),
            **self._binding(),
        )
        return self._result(change)


class SCFCreateCOSTriggerOperator(_SCFBindTriggerOperator):
    """Bind COS triggers to a function, idempotently: one per event of ``events`` on
    ``bucket``, with the filter ``prefix`` + ``suffix``.

    The trigger's name is the bucket's domain ``<name>-<appid>.cos.<region>.myqcloud.com`` and
    its description ``{"event": ..., "filter": {"Prefix": ..., "Suffix": ...}}``. SCF takes one
    event per trigger: with several ``events`` one trigger per event is bound to the same bucket,
    and COS triggers on that bucket whose event is no longer listed are removed.

    .. seealso:: ``docs/scf.md`` ("Timer and COS triggers")

    :param function_name: the function.
    :param bucket: the COS bucket (``name-appid`` or ``name``), same region as the function.
    :param events: COS events, e.g. ``("cos:ObjectCreated:*",)``.
    :param prefix: only keys starting with this.
    :param suffix: only keys ending with this.
    :param enabled: whether the triggers fire.
    :param qualifier: the version or alias the triggers invoke.
    :param description: the triggers' description.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = scf_template_fields("bucket", "prefix", "suffix", "qualifier")

    def __init__(
        self,
        *,
        bucket: str,
        events: Sequence[str] = DEFAULT_COS_EVENTS,
        prefix: str | None = None,
        suffix: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.events = _cos_events(bucket, events)
        self.bucket = bucket
        self.prefix = prefix
        self.suffix = suffix

    def execute(self, context: Context) -> dict[str, Any]:
        self._persist_link(context)
        change = self.hook.ensure_cos_triggers(
            self.function_name,
            self.bucket,
            self.events,
            prefix=self.prefix,
            suffix=self.suffix,
            **self._binding(),
        )
        return self._result(change)


class SCFCreateTriggerOperator(_SCFBindTriggerOperator):
    """Bind a timer or a COS trigger to a function: :class:`SCFCreateTimerTriggerOperator` or
    :class:`SCFCreateCOSTriggerOperator`, chosen by ``trigger_type``.

    .. deprecated:: 0.2.0
        Use :class:`SCFCreateTimerTriggerOperator` or :class:`SCFCreateCOSTriggerOperator`.

    :param trigger_type: ``timer`` or ``cos``.
    :param trigger_name: the timer's name; for COS it is derived from ``bucket`` (if given, it
        must be that name).

    The other arguments are those of the two operators.
    """

    template_fields: Sequence[str] = scf_template_fields(
        "trigger_name",
        "cron",
        "custom_argument",
        "bucket",
        "prefix",
        "suffix",
        "qualifier",
    )

    def __init__(
        self,
        *,
        trigger_name: str | None = None,
        trigger_type: str = TIMER,
        cron: str | None = None,
        timezone: str | tzinfo | None = None,
        custom_argument: str | Mapping | None = None,
        bucket: str | None = None,
        events: Sequence[str] = DEFAULT_COS_EVENTS,
        prefix: str | None = None,
        suffix: str | None = None,
        **kwargs: Any,
    ) -> None:
        warnings.warn(
            "SCFCreateTriggerOperator is deprecated: use SCFCreateTimerTriggerOperator or "
            "SCFCreateCOSTriggerOperator",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(**kwargs)
        if trigger_type not in TRIGGER_TYPES:
            raise InvalidInputError(f"trigger_type must be 'timer' or 'cos', got {trigger_type!r}")
        if trigger_type == TIMER:
            _check_timer(trigger_name, cron, _schedule_zone(self, timezone))
        else:
            events = _cos_events(bucket, events)
        self.trigger_name = trigger_name
        self.trigger_type = trigger_type
        self.cron = cron
        self.timezone = timezone
        self.custom_argument = custom_argument
        self.bucket = bucket
        self.events = tuple(events)
        self.prefix = prefix
        self.suffix = suffix

    def execute(self, context: Context) -> dict[str, Any]:
        self._persist_link(context)
        hook = self.hook
        if self.trigger_type == TIMER:
            trigger_name, cron = _timer(self.trigger_name, self.cron)
            change = hook.ensure_timer_trigger(
                self.function_name,
                trigger_name,
                cron,
                custom_argument=self.custom_argument,
                timezone=_schedule_zone(self, self.timezone),
                **self._binding(),
            )
            return self._result(change)
        bucket = _bucket(self.bucket)
        name = hook.cos_trigger_name(bucket)
        if self.trigger_name and self.trigger_name != name:
            raise InvalidInputError(
                f"a COS trigger is named after its bucket's domain ({name}), not "
                f"{self.trigger_name!r}; omit trigger_name"
            )
        change = hook.ensure_cos_triggers(
            self.function_name,
            bucket,
            self.events,
            prefix=self.prefix,
            suffix=self.suffix,
            **self._binding(),
        )
        return self._result(change)


class SCFDeleteTriggerOperator(SCFBaseOperator):
    """Remove a timer trigger by name, or the COS triggers of a bucket (all, or those of
    ``events``).

    :param function_name: the function.
    :param trigger_name: the timer's name (for COS: derived from ``bucket``).
    :param trigger_type: ``timer`` or ``cos``.
    :param bucket: the COS bucket.
    :param events: for COS, only the triggers of these events (default: all).
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param ignore_if_missing: succeed when there is nothing to delete.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = scf_template_fields("trigger_name", "bucket")

    def __init__(
        self,
        *,
        trigger_name: str | None = None,
        trigger_type: str = TIMER,
        bucket: str | None = None,
        events: Sequence[str] | None = None,
        ignore_if_missing: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if trigger_type not in TRIGGER_TYPES:
            raise InvalidInputError(f"trigger_type must be 'timer' or 'cos', got {trigger_type!r}")
        if trigger_type == TIMER and not trigger_name:
            raise InvalidInputError("deleting a timer trigger needs trigger_name")
        if trigger_type == COS and not bucket:
            raise InvalidInputError("deleting COS triggers needs bucket")
        self.trigger_name = trigger_name
        self.trigger_type = trigger_type
        self.bucket = bucket
        self.events = tuple(events) if events else None
        self.ignore_if_missing = ignore_if_missing

    def execute(self, context: Context) -> int:
        """:return: how many triggers were deleted."""
        change = self.hook.delete_triggers(
            self.function_name,
            self.trigger_type,
            self.trigger_name,
            bucket=self.bucket,
            events=self.events,
            missing_ok=self.ignore_if_missing,
        )
        return len(change.deleted)
