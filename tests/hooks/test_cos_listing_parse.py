"""COSHook parses listing pages itself (the SDK's ``list_objects`` converts the XML with
``eval(str(dict))``, most of a listing's time; see docs/benchmarks.md): the pages it reads must
be exactly what the SDK returns for the same request, special keys and markers included."""

from __future__ import annotations

import pytest

from airflow_scf_snova.hooks.cos import COSHook

KEYS = [
    "p/a b.csv",
    "p/plus+sign.csv",
    "p/100%.csv",
    "p/%2F not a slash.csv",
    "p/数据/文件 一.csv",
    "p/<&>'.csv",
    "p/folder/",
    "p/zero.bin",
]


@pytest.mark.parametrize("page_size", [1, 3, 1000])
def test_pages_match_the_sdk_list_objects(emulator, bucket, page_size):
    for n, key in enumerate(KEYS):
        emulator.cos.put_object(bucket, key, b"x" * n)
    hook = COSHook(retries=0)
    marker, pages = "", 0
    while True:
        ours = hook._list_page(bucket, "p/", marker, page_size)
        sdk = hook.conn.list_objects(Bucket=bucket, Prefix="p/", Marker=marker, MaxKeys=page_size)
        fields = ("Key", "Size", "ETag", "LastModified")
        assert [{f: e.get(f) for f in fields} for e in ours["Contents"]] == [
            {f: e.get(f) for f in fields} for e in sdk.get("Contents", [])
        ]
        assert ours.get("IsTruncated") == sdk.get("IsTruncated")
        assert ours.get("NextMarker") == sdk.get("NextMarker")
        pages += 1
        if ours["IsTruncated"] != "true":
            break
        marker = ours["NextMarker"]
    assert pages == -(-len(KEYS) // page_size)
    assert [o.key for o in hook.iter_objects(bucket, prefix="p/", page_size=page_size)] == sorted(
        KEYS
    )


def test_an_empty_listing_has_no_contents(emulator, bucket):
    page = COSHook(retries=0)._list_page(bucket, "nothing/", "", 1000)
    assert page["Contents"] == []
    assert page["IsTruncated"] == "false"
