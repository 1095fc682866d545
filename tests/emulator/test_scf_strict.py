"""The SCF emulator as strict as SCF: timer crons in SCF's zone and both documented forms, the
quota limits with SCF's error codes, and ``VpcConfig``; through the real ``ScfClient``.

Rules and sources: ``docs/emulator.md``, "Strictness: rules, sources and tests".
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from scf_snova_core.cron import SCF_CRON_TZ
from scf_snova_core.limits import (
    SCF_MAX_COS_TRIGGERS_PER_BUCKET,
    SCF_MAX_FUNCTIONS_PER_NAMESPACE,
    SCF_MAX_TRIGGERS_PER_TYPE,
    SCF_MAX_VERSIONS,
)
from scf_snova_devel.scf_api import (
    call,
    create_function,
    error_code,
    wait_gone,
    wait_status,
    zip_b64,
)
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.scf.v20180416.scf_client import ScfClient

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


# -- limits -------------------------------------------------------------------------------------
@pytest.fixture
def own_emulator(tmp_path):
    """An emulator of its own, so that filling a namespace leaves the session's alone."""
    from scf_snova_emulator import EmulatorConfig, EmulatorServer

    config = EmulatorConfig(port=0, data_dir=str(tmp_path / "emu"), status_delay=0, timers=False)
    with EmulatorServer(config) as server:
        yield server, client_of(server)


def client_of(server) -> ScfClient:
    config = server.config
    http = HttpProfile(protocol="http", endpoint=f"127.0.0.1:{server.port}")
    return ScfClient(
        credential.Credential(config.secret_id, config.secret_key),
        config.region,
        ClientProfile(httpProfile=http),
    )


def test_functions_per_namespace(own_emulator):
    server, client = own_emulator
    for i in range(SCF_MAX_FUNCTIONS_PER_NAMESPACE):
        create_function(client, f"fn-{i}", wait=False)
    assert SCF_MAX_FUNCTIONS_PER_NAMESPACE == 50
    code = {"FunctionName": "one-too-many", "Runtime": "Python3.10", "Code": {"ZipFile": zip_b64()}}
    assert error_code(client, "CreateFunction", code) == "LimitExceeded.Function"
    call(client, "DeleteFunction", {"FunctionName": "fn-0"})
    wait_gone(client, "fn-0")
    create_function(client, "one-too-many")  # room again


def test_triggers_of_one_type_per_function_and_cos_triggers_per_bucket(own_emulator):
    server, client = own_emulator
    bucket = f"b-{server.config.appid}"
    server.cos.create_bucket(bucket)
    domain = f"{bucket}.cos.{server.config.region}.myqcloud.com"
    create_function(client, "fn")
    for i in range(SCF_MAX_TRIGGERS_PER_TYPE):
        timer(client, "fn", f"t{i}", "0 0 * * * * *")
    assert SCF_MAX_TRIGGERS_PER_TYPE == 10
    eleventh = {
        "FunctionName": "fn",
        "TriggerName": "t10",
        "Type": "timer",
        "TriggerDesc": "0 0 * * * * *",
    }
    assert error_code(client, "CreateTrigger", eleventh) == "LimitExceeded.Trigger"

    def cos(function, prefix):
        desc = json.dumps(
            {"event": "cos:ObjectCreated:*", "filter": {"Prefix": prefix, "Suffix": ""}}
        )
        return {"FunctionName": function, "TriggerName": domain, "Type": "cos", "TriggerDesc": desc}

    call(client, "CreateTrigger", cos("fn", "p0/"))  # another type: room for it
    for i in range(1, SCF_MAX_COS_TRIGGERS_PER_BUCKET):
        create_function(client, f"fn{i}")
        call(client, "CreateTrigger", cos(f"fn{i}", f"p{i}/"))
    create_function(client, "fn-last")
    assert error_code(client, "CreateTrigger", cos("fn-last", "last/")) == "LimitExceeded.Trigger"


def test_versions_per_function(tmp_path):
    """999 versions are written into the saved state (publishing them one by one rewrites the
    whole state each time), then the emulator is restarted on it and the SDK publishes."""
    from scf_snova_emulator import EmulatorConfig, EmulatorServer
    from scf_snova_emulator.scf.models import Function, Version
    from scf_snova_emulator.scf.storage import ScfStorage

    config = EmulatorConfig(port=0, data_dir=str(tmp_path), status_delay=0, timers=False)
    with EmulatorServer(config) as server:
        create_function(client_of(server), "fn")
    storage = ScfStorage(tmp_path / "scf")
    state = storage.load_state()
    function = Function.from_dict(state["functions"][0])
    for number in range(1, SCF_MAX_VERSIONS):
        function.versions[str(number)] = Version(str(number), function.config, "", 0.0)
    function.next_version = SCF_MAX_VERSIONS
    storage.save_state({"functions": [function.to_dict()]})
    with EmulatorServer(config) as server:
        client = client_of(server)
        assert call(client, "PublishVersion", {"FunctionName": "fn"})["FunctionVersion"] == "1000"
        assert SCF_MAX_VERSIONS == 1000
        refused = error_code(client, "PublishVersion", {"FunctionName": "fn"})
        assert refused == "LimitExceeded.FunctionVersions"
        publish = {"FunctionName": "fn", "Timeout": 5, "Publish": "TRUE"}
        refused = error_code(client, "UpdateFunctionConfiguration", publish)
        assert refused == "LimitExceeded.FunctionVersions"
        call(client, "DeleteFunction", {"FunctionName": "fn", "Qualifier": "1"})
        assert call(client, "PublishVersion", {"FunctionName": "fn"})["FunctionVersion"] == "1001"


# -- VpcConfig ----------------------------------------------------------------------------------
def test_vpc_config_is_stored_returned_and_snapshotted(scf_client, unique_name):
    name = unique_name("fn")
    vpc = {"VpcId": "vpc-2ari9m7h", "SubnetId": "subnet-hhi88a58"}
    create_function(scf_client, name, VpcConfig=vpc)
    assert call(scf_client, "GetFunction", {"FunctionName": name})["VpcConfig"] == vpc
    moved = {"VpcId": "vpc-2ari9m7h", "SubnetId": "subnet-0therone"}
    call(scf_client, "UpdateFunctionConfiguration", {"FunctionName": name, "VpcConfig": moved})
    wait_status(scf_client, name)
    version = call(scf_client, "PublishVersion", {"FunctionName": name})["FunctionVersion"]
    wait_status(scf_client, name)
    call(scf_client, "UpdateFunctionConfiguration", {"FunctionName": name, "Timeout": 7})
    wait_status(scf_client, name)
    latest = call(scf_client, "GetFunction", {"FunctionName": name})
    assert (latest["VpcConfig"], latest["Timeout"]) == (moved, 7)  # not sent: unchanged
    snapshot = call(scf_client, "GetFunction", {"FunctionName": name, "Qualifier": version})
    assert snapshot["VpcConfig"] == moved
    plain = unique_name("fn")
    create_function(scf_client, plain)
    assert call(scf_client, "GetFunction", {"FunctionName": plain})["VpcConfig"] == {
        "VpcId": "",
        "SubnetId": "",
    }


def test_a_vpc_needs_both_ids_in_tencent_form(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    for bad in (
        {"VpcId": "vpc-2ari9m7h"},
        {"SubnetId": "subnet-hhi88a58"},
        {"VpcId": "", "SubnetId": ""},
        {"VpcId": "my-vpc", "SubnetId": "subnet-hhi88a58"},
        {"VpcId": "vpc-2ari9m7h", "SubnetId": "vpc-2ari9m7h"},
    ):
        params = {"FunctionName": name, "VpcConfig": bad}
        assert error_code(scf_client, "UpdateFunctionConfiguration", params) == (
            "InvalidParameterValue.Vpc"
        ), bad
    other = unique_name("fn")
    code = {"FunctionName": other, "Runtime": "Python3.10", "Code": {"ZipFile": zip_b64()}}
    refused = error_code(scf_client, "CreateFunction", {**code, "VpcConfig": {"VpcId": "vpc-1"}})
    assert refused == "InvalidParameterValue.Vpc"
