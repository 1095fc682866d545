"""COSObject: one shape and one ETag format from listing to load result."""

from __future__ import annotations

from datetime import datetime, timezone

from scf_snova_core.objects import COSObject, normalize_etag, parse_cos_time

JAN1 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_etags_are_kept_without_quotes():
    obj = COSObject("b-1250000000", "k.csv", 3, '"abc123"', JAN1)
    assert obj.etag == "abc123"
    assert COSObject.from_dict(obj.to_dict()) == obj
    assert normalize_etag('"d41d8cd98f00b204e9800998ecf8427e-3"') == (
        "d41d8cd98f00b204e9800998ecf8427e-3"
    )
    assert normalize_etag(None) == ""


def test_the_cos_event_quotes_the_etag_as_cos_does():
    obj = COSObject("b-1250000000", "k.csv", 3, "abc123", JAN1)
    [record] = obj.to_cos_event("ap-guangzhou")["Records"]
    assert record["cos"]["cosObject"]["meta"]["ETag"] == '"abc123"'
    assert record["event"]["eventTime"] == 1704067200


def test_parse_cos_time_accepts_listing_header_and_naive_values():
    listing = parse_cos_time("2024-01-01T00:00:00.000Z")
    header = parse_cos_time("Mon, 01 Jan 2024 00:00:00 GMT")
    naive = parse_cos_time(datetime(2024, 1, 1))
    assert listing == header == naive
    assert listing.tzinfo is not None
