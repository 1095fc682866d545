"""The naming rules of the core: one definition, used by the provider, the emulator and the
SCF functions."""

from __future__ import annotations

import pytest
from scf_snova_core.errors import InvalidValueError
from scf_snova_core.names import (
    check_object_key,
    cos_bucket_domain,
    full_bucket_name,
    parse_cos_url,
    split_bucket,
    split_table_name,
    validate_env_key,
    validate_function_name,
    validate_identifier,
    validate_namespace,
    validate_timer_trigger_name,
)


@pytest.mark.parametrize("name", ["ab", "Etl_load-2", "a" * 60])
def test_valid_function_names(name):
    assert validate_function_name(name) == name


@pytest.mark.parametrize("name", ["a", "1abc", "abc-", "abc_", "a" * 61, "a.b", "", None])
def test_invalid_function_names(name):
    with pytest.raises(InvalidValueError, match="SCF function name"):
        validate_function_name(name)


def test_namespaces_trigger_names_and_env_keys():
    assert validate_namespace("team_a-1") == "team_a-1"
    with pytest.raises(InvalidValueError):
        validate_namespace("x" * 31)
    assert validate_timer_trigger_name("nightly-sweep") == "nightly-sweep"
    with pytest.raises(InvalidValueError):
        validate_timer_trigger_name("9lives")
    assert validate_env_key("DB_HOST") == "DB_HOST"
    with pytest.raises(InvalidValueError):
        validate_env_key("DB-HOST")


def test_bucket_names():
    assert split_bucket("logs-1250000000") == ("logs", "1250000000")
    assert split_bucket("logs", "1250000000") == ("logs", "1250000000")
    assert full_bucket_name("logs", "1250000000") == "logs-1250000000"
    assert full_bucket_name("logs-1250000000", None) == "logs-1250000000"
    with pytest.raises(InvalidValueError, match="does not belong to appid"):
        split_bucket("logs-1250000000", "1300000000")
    with pytest.raises(InvalidValueError, match="no -<appid> suffix"):
        full_bucket_name("logs", None)
    for bad in ("Logs", "-logs", "logs-", "a" * 51, "lo_gs"):
        with pytest.raises(InvalidValueError, match="invalid COS bucket name"):
            full_bucket_name(bad, "1250000000")
    assert cos_bucket_domain("logs", "1250000000", "ap-shanghai") == (
        "logs-1250000000.cos.ap-shanghai.myqcloud.com"
    )


def test_object_keys_and_urls():
    assert check_object_key("a/b.csv") == "a/b.csv"
    for bad in ("", "/a.csv", None):
        with pytest.raises(InvalidValueError):
            check_object_key(bad)
    assert parse_cos_url("cos://logs-1250000000/a/%20b") == ("logs-1250000000", "a/%20b")
    with pytest.raises(InvalidValueError):
        parse_cos_url("s3://b/k")


@pytest.mark.parametrize(
    "name",
    ["t1; DROP TABLE x", 'a"b', "1abc", "", "a b", "x" * 64, "t1--", "schema.t.x"],
)
def test_unsafe_identifiers_are_rejected(name):
    with pytest.raises(InvalidValueError):
        split_table_name(name)


def test_valid_identifiers():
    assert validate_identifier("t1") == "t1"
    assert validate_identifier("表_1") == "表_1"
    assert split_table_name("public.t1") == ("public", "t1")
    assert split_table_name("t1") == (None, "t1")


@pytest.mark.parametrize("name", ["t1\n", "a\tb", "$a", "9a", "a-b", "a.b", "😀"])
def test_identifier_characters_outside_the_accepted_set_are_refused(name):
    with pytest.raises(InvalidValueError):
        validate_identifier(name)


def test_identifier_accepts_non_ascii_letters_and_dollar_inside():
    assert validate_identifier("数据$1") == "数据$1"
    assert validate_identifier("_x") == "_x"
