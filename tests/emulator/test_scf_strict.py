"""The SCF emulator as strict as SCF: timer crons in SCF's zone and both documented forms, the
quota limits with SCF's error codes, and ``VpcConfig``; through the real ``ScfClient``.

Rules and sources: ``docs/emulator.md``, "Strictness: rules, sources and tests".
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from scf_snova_core.cron import SCF_CRON_TZ
from scf_snova_devel.scf_api import call, create_function, error_code

UTC = timezone.utc


def timer(client, function, name, cron, **params) -> dict:
    request = {"FunctionName": function, "TriggerName": name, "Type": "timer", "TriggerDesc": cron}
    return call(client, "CreateTrigger", {**request, **params})["TriggerInfo"]


# -- timers -------------------------------------------------------------------------------------
def test_timers_fire_on_scf_wall_clock_and_the_event_time_is_utc(emulator, scf_client, unique_name):
    """A cron naming a second a few seconds ahead on SCF's wall clock (UTC+8) fires then; read in
    UTC it would be eight hours away and the wait would time out."""
    name = unique_name("fn")
    create_function(scf_client, name)
    due = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    wall = due.astimezone(SCF_CRON_TZ)
    cron = f"{wall.second} {wall.minute} {wall.hour} {wall.day} {wall.month} * {wall.year}"
    timer(scf_client, name, "once", cron)
    try:
        (record,) = emulator.control.wait_for_invocations(1, name, timeout=30)
    finally:
        call(
            scf_client,
            "DeleteTrigger",
            {"FunctionName": name, "TriggerName": "once", "Type": "timer"},
        )
    assert record["trigger"] == "timer"
    assert record["event"]["Time"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_legacy_five_field_cron_is_accepted(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    info = timer(scf_client, name, "legacy", " */5  * * *   MON-FRI ")
    assert json.loads(info["TriggerDesc"]) == {"cron": "*/5 * * * MON-FRI"}
    bad = {"FunctionName": name, "TriggerName": "l2", "Type": "timer", "TriggerDesc": "0 9 L * *"}
    assert error_code(scf_client, "CreateTrigger", bad) == "InvalidParameterValue.TriggerCronConfig"
