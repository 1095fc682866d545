"""SCF extra ``triggers``: timer and COS trigger rules: validation of TriggerName/TriggerDesc,
matching, conflicts.

Trigger names follow :mod:`scf_snova_core.names`, timer crons :mod:`scf_snova_core.cron`.
"""

from __future__ import annotations

import json
import logging

from scf_snova_core.cron import CronError, numeric_weekdays, parse_scf_cron
from scf_snova_core.names import COS_TRIGGER_NAME, TIMER_TRIGGER_NAME

from ..types import ObjectEvent
from .exceptions import InvalidParameterValue, MissingParameter
from .models import Function

COS_EVENTS = frozenset(
    {
        "cos:ObjectCreated:*",
        "cos:ObjectCreated:Put",
        "cos:ObjectCreated:Post",
        "cos:ObjectCreated:Copy",
        "cos:ObjectCreated:CompleteMultipartUpload",
        "cos:ObjectCreated:Origin",
        "cos:ObjectCreated:Replication",
        "cos:ObjectRemove:*",
        "cos:ObjectRemove:Delete",
        "cos:ObjectRemove:DeleteMarkerCreated",
        "cos:ObjectRestore:Post",
        "cos:ObjectRestore:Completed",
    }
)
MAX_CUSTOM_ARGUMENT = 4096

log = logging.getLogger(__name__)


def timer_name(name: str) -> str:
    if not TIMER_TRIGGER_NAME.match(name):
        raise InvalidParameterValue(
            "TriggerName",
            f"timer TriggerName {name!r} must be 1-60 letters, digits, '-' or '_', starting with "
            "a letter",
        )
    return name


def timer_cron(desc: str | None) -> str:
    """The validated cron of a timer TriggerDesc (the raw expression; ``{"cron": ...}`` is
    accepted too), in either documented form: 7 fields, or the legacy 5."""
    if not desc:
        raise MissingParameter(None, "TriggerDesc (the cron expression) is required for timers")
    text = desc.strip()
    if text.startswith("{"):
        try:
            text = json.loads(text)["cron"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidParameterValue(
                "TriggerCronConfig", f"TriggerDesc {desc!r} is neither a cron nor {{'cron': ...}}"
            ) from exc
    try:
        cron = parse_scf_cron(text)
    except CronError as exc:
        raise InvalidParameterValue("TriggerCronConfig", str(exc)) from exc
    if numeric_weekdays(cron):
        log.warning(
            "timer cron %r numbers its weekdays: read with 0 = Sunday, as most of Tencent's "
            "pages say (one says 0 = Monday); names such as MON-FRI cannot be misread",
            cron.expression,
        )
    return cron.expression


def cos_bucket(name: str, appid: str, region: str) -> str:
    """The full bucket name (``name-appid``) a COS TriggerName designates."""
    match = COS_TRIGGER_NAME.match(name)
    if not match:
        raise InvalidParameterValue(
            "TriggerName",
            f"COS TriggerName {name!r} must be the bucket domain "
            "<bucket>-<appid>.cos.<region>.myqcloud.com",
        )
    if match.group("appid") != str(appid):
        raise InvalidParameterValue(
            "TriggerName", f"bucket {match.group('bucket')} does not belong to appid {appid}"
        )
    if match.group("region") != region:
        raise InvalidParameterValue(
            "TriggerName",
            f"bucket region {match.group('region')} differs from the function's region {region}",
        )
    return match.group("bucket")


def cos_rule(desc: str | None) -> dict:
    """The normalised COS TriggerDesc: ``{"event": ..., "filter": {"Prefix", "Suffix"}}``."""
    if not desc:
        raise MissingParameter(None, "TriggerDesc is required for COS triggers")
    try:
        data = json.loads(desc)
        event = data["event"]
        flt = data.get("filter") or {}
        prefix = flt.get("Prefix", "") or ""
        suffix = flt.get("Suffix", "") or ""
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidParameterValue(
            "TriggerDesc",
            'COS TriggerDesc must be JSON like {"event":"cos:ObjectCreated:*",'
            '"filter":{"Prefix":"","Suffix":""}}',
        ) from exc
    if event not in COS_EVENTS:
        raise InvalidParameterValue(
            "TriggerDesc", f"event {event!r} is not one of {', '.join(sorted(COS_EVENTS))}"
        )
    if not isinstance(prefix, str) or not isinstance(suffix, str):
        raise InvalidParameterValue("TriggerDesc", "filter Prefix and Suffix must be strings")
    return {"event": event, "filter": {"Prefix": prefix, "Suffix": suffix}}


def dump_rule(rule: dict) -> str:
    return json.dumps(rule, separators=(",", ":"), ensure_ascii=False)


def event_matches(pattern: str, concrete: str) -> bool:
    """``cos:ObjectCreated:*`` matches every ``cos:ObjectCreated:...`` event."""
    if pattern.endswith(":*"):
        return concrete.startswith(pattern[:-1])
    return pattern == concrete


def _events_overlap(a: str, b: str) -> bool:
    return event_matches(a, b) or event_matches(b, a) or a == b


def rules_overlap(a: dict, b: dict) -> bool:
    """Whether one object event could match both rules (same bucket assumed)."""
    if not _events_overlap(a["event"], b["event"]):
        return False
    pa, pb = a["filter"]["Prefix"], b["filter"]["Prefix"]
    sa, sb = a["filter"]["Suffix"], b["filter"]["Suffix"]
    return (pa.startswith(pb) or pb.startswith(pa)) and (sa.endswith(sb) or sb.endswith(sa))


def rule_matches(rule: dict, event: ObjectEvent) -> bool:
    return (
        event_matches(rule["event"], event.event_name)
        and event.key.startswith(rule["filter"]["Prefix"])
        and event.key.endswith(rule["filter"]["Suffix"])
    )


def check_conflict(trigger_name: str, rule: dict, owner: Function, functions: list[Function]):
    """Refuse a COS rule that overlaps a rule of another function on the same bucket."""
    for function in functions:
        if function.key == owner.key:
            continue
        for trigger in function.triggers:
            if trigger.type == "cos" and trigger.name == trigger_name:
                if rules_overlap(rule, trigger.cos_rule):
                    raise InvalidParameterValue(
                        "CosNotifyRuleConflict",
                        f"the rule overlaps the rule of function {function.name!r} on the same "
                        f"bucket ({trigger.desc}); one event would fire both",
                    )
