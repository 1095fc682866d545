"""The cloud target's settings (``scf_snova_devel.cloud``), offline: what the variables must hold,
what a missing or malformed one says, and that no secret ever shows in a ``repr``, a message or a
pytest report; the run's names."""

from __future__ import annotations

import re

import pytest
from scf_snova_core.names import validate_function_name, validate_identifier
from scf_snova_devel.cloud import (
    REQUIRED,
    TEST_FOLDER,
    CloudSettings,
    CloudSettingsError,
    Redacted,
    RunNames,
    choose_target,
    holds_tag,
    redact,
    redact_report,
    redacted_dsn,
    tags_in,
)
from scf_snova_devel.target import Target, cloud_connection_json

SECRET_KEY = "Gu5t-s3cret-KEY-do-not-show"
PASSWORD = "db pa$$:w/rd@x"  # quoted in the DSN
ENVIRON = {
    "TENCENTCLOUD_SECRET_ID": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
    "TENCENTCLOUD_SECRET_KEY": SECRET_KEY,
    "TENCENTCLOUD_REGION": "ap-shanghai",
    "TENCENTCLOUD_APPID": "1250000000",
    "SCF_SNOVA_TEST_BUCKET": "scratch-1250000000",
    "SNOVA_TEST_DSN": "postgresql://loader:db%20pa%24%24%3Aw%2Frd%40x@10.0.0.8:5436/dw",
}


def shown(*values) -> str:
    """Everything a value can show: ``str`` of messages, ``repr`` of objects."""
    return " ".join(str(v) if isinstance(v, Exception) else repr(v) for v in values)


def test_complete_settings_are_read_and_show_no_secret():
    settings = CloudSettings.from_environ({**ENVIRON, "TENCENTCLOUD_SESSION_TOKEN": "tok-123456"})
    assert (settings.region, settings.appid, settings.bucket, settings.namespace) == (
        "ap-shanghai",
        "1250000000",
        "scratch-1250000000",
        "default",
    )
    assert settings.secrets == [SECRET_KEY, "tok-123456", PASSWORD]
    for text in (repr(settings), settings.describe()):
        assert not any(secret in text for secret in settings.secrets), text
        assert "%24%24" not in text  # nor the password as the DSN quotes it
    assert "loader@10.0.0.8:5436/dw (password hidden)" in settings.describe()
    assert "AKID...MPLE" in settings.describe()


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_each_missing_variable_is_named(missing):
    environ = {k: v for k, v in ENVIRON.items() if k != missing}
    with pytest.raises(CloudSettingsError) as err:
        CloudSettings.from_environ(environ)
    assert f"variables that are not set: {missing} (" in str(err.value)
    assert "docs/cloud-tests.md" in str(err.value)
    assert SECRET_KEY not in str(err.value) and PASSWORD not in str(err.value)


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("TENCENTCLOUD_SECRET_KEY", f" {SECRET_KEY}", "TENCENTCLOUD_SECRET_KEY without spaces"),
        ("TENCENTCLOUD_SECRET_ID", "AKID abc", "TENCENTCLOUD_SECRET_ID without spaces"),
        ("TENCENTCLOUD_REGION", "Guangzhou", "TENCENTCLOUD_REGION like ap-guangzhou"),
        ("TENCENTCLOUD_APPID", "12x", "TENCENTCLOUD_APPID of digits"),
        ("SCF_SNOVA_TEST_BUCKET", "scratch", "SCF_SNOVA_TEST_BUCKET as <name>-1250000000"),
        ("SCF_SNOVA_TEST_BUCKET", "scratch-1300000000", "as <name>-1250000000"),
        ("SNOVA_TEST_DSN", "mysql://u:p@h/db", "(scheme 'mysql')"),
        ("SNOVA_TEST_DSN", "postgresql://u:pw@h:5436", "(no database)"),
        ("SNOVA_TEST_DSN", "postgresql://h:5436/db", "(no user)"),
        ("SNOVA_TEST_DSN", "postgresql://u:pw@h:port/db", "(it does not parse)"),
        ("SCF_SNOVA_TEST_NAMESPACE", "my namespace", "SCF_SNOVA_TEST_NAMESPACE of letters"),
    ],
)
def test_a_malformed_variable_is_named_without_its_secret(name, value, said):
    with pytest.raises(CloudSettingsError) as err:
        CloudSettings.from_environ({**ENVIRON, name: value})
    assert said in str(err.value)
    assert len(err.value.problems) == 1, err.value.problems
    assert SECRET_KEY not in str(err.value) and "pw@" not in str(err.value)


def test_every_problem_is_listed_at_once():
    environ = {**ENVIRON, "TENCENTCLOUD_APPID": "x", "TENCENTCLOUD_REGION": "X"}
    with pytest.raises(CloudSettingsError) as err:
        CloudSettings.from_environ(environ)
    assert len(err.value.problems) == 2  # the region and the appid


def test_the_switch_selects_the_cloud_and_an_incomplete_one_says_why():
    assert choose_target(ENVIRON) == choose_target({}) == choose_target({"X": "1"})
    assert choose_target(ENVIRON).cloud is False
    assert choose_target({**ENVIRON, "SCF_SNOVA_TEST_CLOUD": "0"}).cloud is False
    chosen = choose_target({**ENVIRON, "SCF_SNOVA_TEST_CLOUD": "yes"})
    assert chosen.cloud and chosen.settings.region == "ap-shanghai"
    assert chosen.skip_reason is None
    broken = choose_target({"SCF_SNOVA_TEST_CLOUD": "1", "TENCENTCLOUD_SECRET_KEY": SECRET_KEY})
    assert broken.cloud and broken.settings is None
    assert broken.skip_reason.startswith("SCF_SNOVA_TEST_CLOUD=1 selects Tencent Cloud, but ")
    assert "TENCENTCLOUD_SECRET_ID" in broken.skip_reason
    assert "TENCENTCLOUD_SECRET_KEY" not in broken.skip_reason  # it is set
    assert SECRET_KEY not in broken.skip_reason


def test_redacted_values_hide_in_repr_only():
    dsn = redacted_dsn(ENVIRON["SNOVA_TEST_DSN"])
    assert str(dsn) == ENVIRON["SNOVA_TEST_DSN"] and f"{dsn}" == str(dsn)
    assert repr(dsn) == "'postgresql://loader:***@10.0.0.8:5436/dw'"
    assert repr({"DB_PASSWORD": Redacted(PASSWORD)}) == "{'DB_PASSWORD': '***'}"
    assert repr(redacted_dsn("postgresql://u@h/db")) == "'postgresql://u@h/db'"
    text = f"key {SECRET_KEY}, dsn {ENVIRON['SNOVA_TEST_DSN']}, raw {PASSWORD}"
    assert redact(text, [SECRET_KEY, PASSWORD, ""]) == (
        "key ***, dsn postgresql://loader:***@10.0.0.8:5436/dw, raw ***"
    )


def test_a_failing_tests_report_is_redacted():
    from _pytest._code import ExceptionInfo
    from _pytest.reports import TestReport

    try:
        assert SECRET_KEY == "something else", f"the key was {SECRET_KEY}"
    except AssertionError as err:
        longrepr = ExceptionInfo.from_exception(err).getrepr(style="long", showlocals=True)
    report = TestReport(
        "t.py::test_x",
        ("t.py", 1, "test_x"),
        {},
        "failed",
        longrepr,
        "call",
        sections=[("Captured stdout call", f"connecting with {PASSWORD}\n")],
    )
    assert SECRET_KEY in str(report.longrepr)
    redact_report(report, [SECRET_KEY, PASSWORD])
    assert SECRET_KEY not in str(report.longrepr) and "the key was ***" in str(report.longrepr)
    assert report.sections == [("Captured stdout call", "connecting with ***\n")]


def test_run_names_carry_the_tag_and_are_valid_where_they_go():
    names = RunNames()
    assert re.fullmatch(r"it[0-9a-f]{6}", names.tag)
    assert RunNames().tag != names.tag
    function, ident, root = names.name("import"), names.ident("scf_visit"), names.root("seed")
    assert validate_function_name(function) == function
    assert validate_identifier(ident) == ident == ident.lower()
    assert root.startswith(f"{TEST_FOLDER}{names.tag}/seed-") and root.endswith("/")
    assert all(holds_tag(n, names.tag) for n in (function, ident, root, f"scf-code/{function}/x"))
    assert len({names.name("x") for _ in range(50)}) == 50
    with pytest.raises(ValueError, match="'it' and 6 hex digits"):
        RunNames("prod")


def test_a_tag_is_found_only_between_separators():
    assert holds_tag("import-it3fa9c2-4", "it3fa9c2")
    assert holds_tag("t_it3fa9c2_0", "it3fa9c2")
    assert not holds_tag("import-xit3fa9c2-4", "it3fa9c2")
    assert not holds_tag("import-it3fa9c20-4", "it3fa9c2")
    assert tags_in("scf-snova-tests/it3fa9c2/seed-1/RUN") == {"it3fa9c2"}
    assert tags_in("edit-it3fa9c2x emitabcdef") == set()


def test_the_cloud_connection_and_target_show_no_secret():
    from airflow.sdk import Connection

    from airflow_scf_snova.hooks.base import parse_connection

    settings = CloudSettings.from_environ(
        {**ENVIRON, "TENCENTCLOUD_SESSION_TOKEN": "tok-123456", "SCF_SNOVA_TEST_NAMESPACE": "ns1"}
    )
    conn = Connection.from_json(cloud_connection_json(settings), conn_id="tencentcloud_default")
    parsed = parse_connection(conn)
    assert (parsed.region, parsed.appid, parsed.namespace, parsed.endpoint) == (
        "ap-shanghai",
        "1250000000",
        "ns1",
        None,  # the SDKs' own endpoints
    )
    assert parsed.credentials.token == "tok-123456"
    target = Target.for_cloud(settings, RunNames())
    assert target.cloud and target.endpoint == "" and target.time_scale > 1
    assert set(settings.secrets) <= target.secrets
    text = shown(target, target.secret_key, target.tracker.report)
    assert not any(secret in text for secret in settings.secrets), text


def test_the_command_line_checks_and_refuses_without_settings(capsys, monkeypatch):
    from scf_snova_devel.cloud import SKIP_STATUS, main

    for name in REQUIRED:
        monkeypatch.delenv(name, raising=False)
    assert main(["check"]) == SKIP_STATUS
    assert capsys.readouterr().out.startswith("make test-cloud: skipped: the cloud target needs")
    assert main(["sweep", "--tag", "it3fa9c2"]) == 2  # nothing to sweep with
    assert "sweep: the cloud target needs variables that are not set" in capsys.readouterr().out
    assert main(["bogus"]) == 2
    assert capsys.readouterr().out.startswith("usage: python -m scf_snova_devel.cloud check")
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("make test-cloud: Tencent Cloud ap-shanghai") and SECRET_KEY not in out
