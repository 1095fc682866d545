"""COSObject from the two COS answers that describe an object: HEAD Object headers and a GET Bucket
``Contents`` entry (what the SCF import function and the COS hook both read)."""

from __future__ import annotations

from datetime import datetime, timezone

from scf_snova_core.objects import COSObject

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_from_head_headers():
    headers = {
        "Content-Length": "52311",
        "ETag": '"9b2cf535f27731c974343645a3985328"',
        "Last-Modified": "Tue, 02 Jan 2024 03:04:05 GMT",
        "Content-Type": "text/csv",
    }
    assert COSObject.from_head("b-1250000000", "in/a.csv", headers) == COSObject(
        "b-1250000000", "in/a.csv", 52311, "9b2cf535f27731c974343645a3985328", WHEN
    )


def test_from_listing_entry():
    entry = {
        "Key": "in/a b.csv",
        "Size": "7",
        "ETag": '"d41d8cd98f00b204e9800998ecf8427e-3"',
        "LastModified": "2024-01-02T03:04:05.000Z",
        "StorageClass": "STANDARD",
    }
    obj = COSObject.from_listing("b-1250000000", entry)
    assert obj == COSObject(
        "b-1250000000", "in/a b.csv", 7, "d41d8cd98f00b204e9800998ecf8427e-3", WHEN
    )
    assert obj.to_dict()["etag"] == "d41d8cd98f00b204e9800998ecf8427e-3"
