"""Key selection: COS-trigger Prefix/Suffix, path-aware globs, regexes, time and size."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from scf_snova_core.objects import COSObject

from airflow_scf_snova.cos.filters import KeyFilter, glob_literal_prefix, glob_to_regex

KEYS = [
    "a.csv",
    "data/a.csv",
    "data/2024/b.csv",
    "data/2024/01/c.csv",
    "data/x.json",
    "data2/d.csv",
    "[x].csv",
]


def _select(pattern: str) -> list[str]:
    regex = glob_to_regex(pattern)
    return [key for key in KEYS if regex.fullmatch(key)]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.csv", ["a.csv", "[x].csv"]),  # '*' does not cross '/': top-level keys only
        ("data/*.csv", ["data/a.csv"]),
        ("data/**", ["data/a.csv", "data/2024/b.csv", "data/2024/01/c.csv", "data/x.json"]),
        ("data/**/*.csv", ["data/a.csv", "data/2024/b.csv", "data/2024/01/c.csv"]),
        ("**/*.csv", [k for k in KEYS if k.endswith(".csv")]),
        ("data/20[0-9][0-9]/*.csv", ["data/2024/b.csv"]),
        ("data/[!2]*", ["data/a.csv", "data/x.json"]),
        ("data?/*", ["data2/d.csv"]),
        ("\\[x].csv", ["[x].csv"]),
        ("data/**.json", ["data/x.json"]),
        ("data/2024/*", ["data/2024/b.csv"]),
    ],
)
def test_glob_semantics(pattern, expected):
    assert _select(pattern) == expected


def test_character_class_never_matches_a_slash():
    assert not glob_to_regex("a[/x]b").fullmatch("a/b")
    assert glob_to_regex("a[]]b").fullmatch("a]b")  # as in fnmatch, a leading ']' is literal


@pytest.mark.parametrize("bad", ["a[b", "ab\\"])
def test_bad_globs(bad):
    with pytest.raises(ValueError):
        glob_to_regex(bad)


@pytest.mark.parametrize(
    ("pattern", "head"),
    [("data/2024-*.csv", "data/2024-"), ("*.csv", ""), ("plain/key", "plain/key"), ("a\\*", "a")],
)
def test_glob_literal_prefix(pattern, head):
    assert glob_literal_prefix(pattern) == head


def test_listing_prefix_is_the_longer_consistent_prefix():
    assert KeyFilter(prefix="data/").listing_prefix == "data/"
    assert KeyFilter(prefix="data/", glob="data/2024/*.csv").listing_prefix == "data/2024/"
    assert KeyFilter(prefix="data/2024/", glob="data/*/*.csv").listing_prefix == "data/2024/"
    assert KeyFilter(prefix="logs/", glob="data/*").listing_prefix is None


def _obj(key: str, size: int = 10, when: datetime | None = None) -> COSObject:
    when = when or datetime(2024, 1, 1, tzinfo=timezone.utc)
    return COSObject("b-1250000000", key, size, '"e"', when)


def test_filters_combine_with_and():
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    selection = KeyFilter(
        prefix="snova/",
        suffix=".log",
        regex=r"snova/(?:sub/)?[a-z]\.log",
        modified_after="2024-01-01T00:00:00Z",
        min_size=5,
    )
    assert selection.matches(_obj("snova/a.log", when=start))  # inclusive bound
    assert selection.matches(_obj("snova/sub/d.log"))
    assert not selection.matches(_obj("snova/a.log", when=start - timedelta(seconds=1)))
    assert not selection.matches(_obj("snova/a.log", size=4))
    assert not selection.matches(_obj("snova/a.txt"))
    assert not selection.matches(_obj("snova2/b.log"))
    assert not selection.matches(_obj("other/snova/c.log"))
    assert not selection.matches(_obj("snova/deep/er/e.log"))


def test_modified_after_has_cos_one_second_resolution():
    bound = datetime(2024, 1, 1, 0, 0, 5, 700_000, tzinfo=timezone.utc)
    selection = KeyFilter(modified_after=bound)
    # Uploaded at 00:00:05.900, after the bound, but COS stamps it 00:00:05.
    assert selection.matches(_obj("k", when=bound.replace(microsecond=0)))
    assert not selection.matches(_obj("k", when=bound.replace(second=4, microsecond=0)))


def test_naive_modified_after_means_utc():
    assert KeyFilter(modified_after=datetime(2024, 1, 1)).since == datetime(
        2024, 1, 1, tzinfo=timezone.utc
    )
    assert KeyFilter(modified_after="2024-01-01 08:00:00+08:00").since == datetime(
        2024, 1, 1, tzinfo=timezone.utc
    )


def test_invalid_regex_is_a_value_error():
    with pytest.raises(ValueError, match="invalid regex"):
        KeyFilter(regex="(")


def test_start_after_excludes_the_key_itself_and_everything_before():
    selection = KeyFilter("d/", start_after="d/2024-06-02/")
    keys = ["d/2024-06-01/x", "d/2024-06-02/", "d/2024-06-02/a", "d/2024-06-03/b", "e/z"]
    assert [k for k in keys if selection.matches_key(k)] == ["d/2024-06-02/a", "d/2024-06-03/b"]
    assert KeyFilter("d/", start_after="d/\u65e5").matches_key("d/z") is False  # UTF-8 order
