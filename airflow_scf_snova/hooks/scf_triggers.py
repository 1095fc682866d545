"""SCF triggers: the trigger calls of :class:`~airflow_scf_snova.hooks.scf.SCFHook` and the
reconciliation of a function's triggers with a wanted definition.

SCF has no "update trigger": a changed trigger is deleted, then created again. The ``ensure_*``
methods list the function's triggers, compare each one with the definition, delete what differs
or is no longer wanted, create what is missing, and return a :class:`TriggerChange` saying what
they did. Running them again with the same definition changes nothing.

- **Timer** triggers are named by the caller. Their ``TriggerDesc`` is a 7-field SCF cron
  (``ListTriggers`` returns it as ``{"cron": ...}``), which SCF reads in its own zone
  (:data:`scf_snova_core.cron.SCF_CRON_TZ`): a schedule written in another zone is converted
  first. ``CustomArgument`` becomes the event's ``Message``.
- **COS** triggers are named after their bucket's domain,
  ``<name>-<appid>.cos.<region>.myqcloud.com``, and described by
  ``{"event": ..., "filter": {"Prefix": ..., "Suffix": ...}}``. SCF takes one event per trigger:
  a bucket watched for several events has one trigger per event, all with the same name.

Source: the ``CreateTrigger``, ``ListTriggers`` and ``DeleteTrigger`` models of
``tencentcloud-sdk-python-scf`` (API 2018-04-16).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from scf_snova_core.errors import InvalidValueError
from scf_snova_core.names import cos_bucket_domain
from scf_snova_core.states import LATEST

from airflow_scf_snova.exceptions import InvalidInputError, ResourceNotFoundError, invalid_input
from airflow_scf_snova.hooks.scf_client import SCFClientHook

TIMER = "timer"
COS = "cos"
TRIGGER_TYPES = (TIMER, COS)
#: The event a COS trigger listens to unless told otherwise: every new object.
DEFAULT_COS_EVENTS = ("cos:ObjectCreated:*",)


@dataclass(frozen=True)
class TriggerChange:
    """What a reconciliation found and did.

    :param trigger_name: the trigger's name (for COS: the bucket's domain).
    :param trigger_type: ``timer`` or ``cos``.
    :param triggers: the ``TriggerDesc`` of each trigger bound once done.
    :param created: the ``TriggerDesc`` of each trigger created.
    :param deleted: the ``TriggerDesc`` of each trigger deleted.
    """

    trigger_name: str
    trigger_type: str
    triggers: tuple[str, ...] = ()
    created: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether anything was created or deleted."""
        return bool(self.created or self.deleted)


def scf_cron(cron: str, timezone: str | tzinfo | None = "UTC") -> str:
    """The 7-field SCF cron of a timer schedule (SCF cron, crontab or preset) written in
    ``timezone``, converted to the zone SCF reads crons in.

    :param timezone: the zone the schedule is written in (an IANA name or a ``tzinfo``).
    :raises InvalidInputError: a schedule SCF cannot run, or that one cron in SCF's zone cannot
        follow (see :func:`scf_snova_core.cron.to_scf_cron`).
    """
    try:
        # Imported here: the cron parser is not needed to import the hook (DAG files import
        # operators and sensors, and they name their hook class).
        from scf_snova_core.cron import to_scf_cron

        return to_scf_cron(cron, timezone)
    except InvalidValueError as err:
        raise InvalidInputError(f"invalid timer schedule: {err}") from err


def cos_trigger_desc(event: str, prefix: str = "", suffix: str = "") -> str:
    """The ``TriggerDesc`` of a COS trigger, compact JSON as SCF stores it."""
    return json.dumps(
        {"event": event, "filter": {"Prefix": prefix, "Suffix": suffix}}, separators=(",", ":")
    )


def trigger_desc(trigger: Mapping[str, Any]) -> dict[str, Any]:
    """A listed trigger's ``TriggerDesc`` as a dict (a bare cron becomes ``{"cron": ...}``)."""
    try:
        value = json.loads(trigger.get("TriggerDesc") or "{}")
    except ValueError:
        return {"cron": trigger.get("TriggerDesc") or ""}
    return value if isinstance(value, dict) else {}


def cos_definition(trigger: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(event, prefix, suffix)`` of a listed COS trigger."""
    desc = trigger_desc(trigger)
    found = desc.get("filter") or {}
    return (str(desc.get("event") or ""), found.get("Prefix") or "", found.get("Suffix") or "")


def custom_argument_text(value: str | Mapping | list | None) -> str:
    """A timer's ``CustomArgument``: text as it is, a dict or list as JSON text."""
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def _same_binding(
    trigger: Mapping[str, Any], enabled: bool, qualifier: str, description: str | None
) -> bool:
    return (
        bool(trigger.get("Enable")) == enabled
        and (trigger.get("Qualifier") or LATEST) == qualifier
        and (description is None or (trigger.get("Description") or "") == description)
    )


class SCFTriggersMixin(SCFClientHook):
    """The trigger part of :class:`~airflow_scf_snova.hooks.scf.SCFHook`: the ``CreateTrigger``,
    ``ListTriggers`` and ``DeleteTrigger`` calls, and the reconciliation built on them."""

    # -- calls -----------------------------------------------------------------------------------
    def create_trigger(
        self,
        function_name: str,
        trigger_name: str,
        trigger_type: str,
        trigger_desc: str | None = None,
        namespace: str | None = None,
        qualifier: str | None = LATEST,
        enabled: bool = True,
        custom_argument: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """``CreateTrigger``; returns the ``TriggerInfo``.

        :param trigger_type: ``timer``, ``cos``, ...
        :param trigger_desc: a raw 7-field cron for timers, ``{"event", "filter"}`` JSON for COS.
        """
        response = self.call(
            "CreateTrigger",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "TriggerName": trigger_name,
                "Type": trigger_type,
                "TriggerDesc": trigger_desc,
                "Qualifier": qualifier,
                "Enable": "OPEN" if enabled else "CLOSE",
                "CustomArgument": custom_argument,
                "Description": description,
            },
        )
        return response.get("TriggerInfo") or {}

    def list_triggers(
        self, function_name: str, namespace: str | None = None, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """``ListTriggers``, every page (timer ``TriggerDesc`` comes back as ``{"cron": ...}``)."""
        params = {
            "FunctionName": function_name,
            "Namespace": self._ns(namespace),
            "OrderBy": "add_time",
            "Order": "ASC",
        }
        return self.list_all("ListTriggers", params, "Triggers", page_size)

    def delete_trigger(
        self,
        function_name: str,
        trigger_name: str,
        trigger_type: str,
        trigger_desc: str | None = None,
        namespace: str | None = None,
        qualifier: str | None = LATEST,
    ) -> None:
        """``DeleteTrigger`` (a COS trigger needs its ``TriggerDesc`` to say which event)."""
        self.call(
            "DeleteTrigger",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "TriggerName": trigger_name,
                "Type": trigger_type,
                "TriggerDesc": trigger_desc,
                "Qualifier": qualifier,
            },
        )

    # -- reconciliation --------------------------------------------------------------------------
    def cos_trigger_name(self, bucket: str) -> str:
        """The ``TriggerName`` of a COS trigger on ``bucket``: its domain in the hook's region.

        :raises InvalidInputError: an invalid bucket name, or a short one and no ``appid``.
        """
        with invalid_input():
            return cos_bucket_domain(bucket.strip(), self.appid, self.region)

    def ensure_timer_trigger(
        self,
        function_name: str,
        trigger_name: str,
        cron: str,
        *,
        custom_argument: str | Mapping | list | None = None,
        enabled: bool = True,
        qualifier: str = LATEST,
        description: str | None = None,
        namespace: str | None = None,
        timezone: str | tzinfo | None = "UTC",
    ) -> TriggerChange:
        """Bind the timer trigger ``trigger_name`` to the function as defined, replacing a timer
        of that name defined otherwise.

        :param cron: a 7-field SCF cron, a 5-field crontab or a preset such as ``@daily``.
        :param timezone: the zone ``cron`` is written in; it is converted to SCF's
            (:data:`scf_snova_core.cron.SCF_CRON_TZ`; give that, or ``"Asia/Shanghai"``, for a
            cron written for SCF).
        :param custom_argument: the event's ``Message`` (a dict or list is sent as JSON text).
        :param enabled: whether the trigger fires.
        :param qualifier: the version or alias the trigger invokes.
        :param description: the trigger's description (``None``: any description is kept).
        :raises InvalidInputError: an invalid schedule, or a trigger of another type with the
            same name.
        """
        cron = scf_cron(cron, timezone)
        custom = custom_argument_text(custom_argument)
        deleted: list[str] = []
        for trigger in self.list_triggers(function_name, namespace):
            if trigger.get("TriggerName") != trigger_name:
                continue
            if trigger.get("Type") != TIMER:
                raise InvalidInputError(
                    f"function {function_name!r} already has a {trigger.get('Type')} trigger "
                    f"named {trigger_name!r}"
                )
            if (
                " ".join(str(trigger_desc(trigger).get("cron", "")).split()) == cron
                and (trigger.get("CustomArgument") or "") == custom
                and _same_binding(trigger, enabled, qualifier, description)
            ):
                self.log.info(
                    "Timer trigger %s (%s) is already bound: unchanged", trigger_name, cron
                )
                return TriggerChange(trigger_name, TIMER, (cron,), deleted=tuple(deleted))
            self.log.info("Timer trigger %s changed: replacing it", trigger_name)
            self.delete_trigger(
                function_name,
                trigger_name,
                TIMER,
                namespace=namespace,
                qualifier=trigger.get("Qualifier"),
            )
            deleted.append(trigger.get("TriggerDesc") or "")
        self.create_trigger(
            function_name,
            trigger_name,
            TIMER,
            cron,
            namespace=namespace,
            qualifier=qualifier,
            enabled=enabled,
            custom_argument=custom or None,
            description=description,
        )
        self.log.info("Bound timer trigger %s (%s) to %s", trigger_name, cron, function_name)
        return TriggerChange(trigger_name, TIMER, (cron,), (cron,), tuple(deleted))

    def ensure_cos_triggers(
        self,
        function_name: str,
        bucket: str,
        events: Sequence[str] = DEFAULT_COS_EVENTS,
        *,
        prefix: str | None = None,
        suffix: str | None = None,
        enabled: bool = True,
        qualifier: str = LATEST,
        description: str | None = None,
        namespace: str | None = None,
    ) -> TriggerChange:
        """Bind one COS trigger per event of ``events`` on ``bucket`` to the function; COS
        triggers on that bucket that differ, or whose event is not listed, are deleted.

        :param bucket: ``name-appid``, or ``name`` with the connection's ``appid``; in the
            function's region.
        :param events: COS events, e.g. ``("cos:ObjectCreated:*",)``.
        :param prefix: only keys starting with this.
        :param suffix: only keys ending with this.
        :param enabled: whether the triggers fire.
        :param qualifier: the version or alias the triggers invoke.
        :param description: the triggers' description (``None``: any description is kept).
        """
        name = self.cos_trigger_name(bucket)
        wanted = {
            event: (event, prefix or "", suffix or "")
            for event in dict.fromkeys((events,) if isinstance(events, str) else events)
        }
        if not wanted:
            raise InvalidInputError("a COS trigger needs at least one event")
        keep: set[str] = set()
        deleted: list[str] = []
        for trigger in self.list_triggers(function_name, namespace):
            if trigger.get("TriggerName") != name:
                continue
            definition = cos_definition(trigger)
            event = definition[0]
            if (
                wanted.get(event) == definition
                and _same_binding(trigger, enabled, qualifier, description)
                and event not in keep
            ):
                keep.add(event)
                continue
            self.log.info("COS trigger %s for %s is not wanted as it is: deleting it", name, event)
            self.delete_trigger(
                function_name,
                name,
                COS,
                trigger_desc=trigger.get("TriggerDesc"),
                namespace=namespace,
                qualifier=trigger.get("Qualifier"),
            )
            deleted.append(trigger.get("TriggerDesc") or "")
        descs, created = [], []
        for event, (_, event_prefix, event_suffix) in wanted.items():
            desc = cos_trigger_desc(event, event_prefix, event_suffix)
            descs.append(desc)
            if event in keep:
                continue
            self.create_trigger(
                function_name,
                name,
                COS,
                desc,
                namespace=namespace,
                qualifier=qualifier,
                enabled=enabled,
                description=description,
            )
            self.log.info("Bound COS trigger %s (%s) to %s", name, event, function_name)
            created.append(desc)
        change = TriggerChange(name, COS, tuple(descs), tuple(created), tuple(deleted))
        if not change.changed:
            self.log.info("COS trigger %s is already bound as defined: unchanged", name)
        return change

    def delete_triggers(
        self,
        function_name: str,
        trigger_type: str,
        trigger_name: str | None = None,
        *,
        bucket: str | None = None,
        events: Collection[str] | None = None,
        namespace: str | None = None,
        missing_ok: bool = True,
    ) -> TriggerChange:
        """Delete a timer trigger by name, or the COS triggers of a bucket (all, or those of
        ``events``).

        :param trigger_type: ``timer`` or ``cos``.
        :param trigger_name: the timer's name (for COS it is derived from ``bucket``).
        :param bucket: the COS bucket.
        :param events: for COS, only the triggers of these events (``None``: all).
        :param missing_ok: a missing function or trigger deletes nothing instead of raising.
        :raises ResourceNotFoundError: nothing to delete and not ``missing_ok``.
        """
        if trigger_type not in TRIGGER_TYPES:
            raise InvalidInputError(f"trigger_type must be 'timer' or 'cos', got {trigger_type!r}")
        if trigger_type == COS:
            if not bucket:
                raise InvalidInputError("deleting COS triggers needs bucket")
            name = self.cos_trigger_name(bucket)
        elif trigger_name:
            name = trigger_name
        else:
            raise InvalidInputError("deleting a timer trigger needs trigger_name")
        try:
            existing = self.list_triggers(function_name, namespace)
        except ResourceNotFoundError:
            if not missing_ok:
                raise
            existing = []
        matching = [
            t
            for t in existing
            if t.get("TriggerName") == name
            and t.get("Type") == trigger_type
            and (events is None or cos_definition(t)[0] in events)
        ]
        if not matching and not missing_ok:
            raise ResourceNotFoundError(
                "ResourceNotFound.Trigger",
                f"function {function_name!r} has no {trigger_type} trigger {name!r}",
            )
        for trigger in matching:
            self.delete_trigger(
                function_name,
                name,
                trigger_type,
                trigger_desc=trigger.get("TriggerDesc") if trigger_type == COS else None,
                namespace=namespace,
                qualifier=trigger.get("Qualifier"),
            )
        self.log.info("Deleted %d %s trigger(s) %s", len(matching), trigger_type, name)
        deleted = tuple(t.get("TriggerDesc") or "" for t in matching)
        return TriggerChange(name, trigger_type, deleted=deleted)
