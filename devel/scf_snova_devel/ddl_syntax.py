"""A checker for ``cos_ext`` external-table DDL against the syntax documented by Tencent
(https://cloud.tencent.com/document/product/878/34875 for CDWPG and
https://cloud.tencent.com/document/product/878/33622 for Snova's ``CREATE EXTERNAL TABLE``).

Plain PostgreSQL cannot run this DDL, so the provider's statements are verified as text: this
module encodes the documented grammar (clause order, option order, the one-URL LOCATION with its
case-sensitive parameters) and fails loudly on anything outside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STATEMENT = re.compile(
    r"^CREATE (?P<kind>READABLE|WRITABLE) EXTERNAL TABLE "
    r'(?P<name>(?:"[^"]+"\.)?"[^"]+") '
    r"\((?P<columns>.+?)\) "
    r"LOCATION \('(?P<location>[^']*)'\) "
    r"FORMAT '(?P<format>CSV|TEXT)'(?: \((?P<options>.*?)\))? "
    r"ENCODING '(?P<encoding>[A-Za-z0-9_-]+)'"
    r"(?: LOG ERRORS SEGMENT REJECT LIMIT (?P<limit>\d+) (?P<unit>ROWS|PERCENT))?"
    r"(?P<distributed> DISTRIBUTED RANDOMLY| DISTRIBUTED BY \([^)]+\))?$",
    re.S,
)
_COLUMN = re.compile(r'^"[A-Za-z_][A-Za-z0-9_$]*" [a-z][a-z0-9 ()," ,]*$')
_URL = re.compile(
    r"^cos://(?P<bucket>[a-z0-9][a-z0-9-]*-\d+)\.cos\.(?P<region>[a-z]+(?:-[a-z0-9]+)+)"
    r"\.myqcloud\.com/(?P<prefix>\S+)$"
)
_PARAM = re.compile(r"^(?P<key>secretId|secretKey|compressType|https)=(?P<value>\S+)$")
_OPTION = re.compile(
    r"(?P<option>HEADER|QUOTE|DELIMITER|NULL|ESCAPE)(?: (?:AS )?'(?P<value>(?:[^']|'')*)')?"
)
#: The documented order of the FORMAT options (the bracketed grammar of those pages).
_ORDER = {
    ("READABLE", "CSV"): ["HEADER", "QUOTE", "DELIMITER", "NULL", "ESCAPE"],
    ("READABLE", "TEXT"): ["HEADER", "DELIMITER", "NULL", "ESCAPE"],
    ("WRITABLE", "CSV"): ["QUOTE", "DELIMITER", "NULL", "ESCAPE"],
    ("WRITABLE", "TEXT"): ["DELIMITER", "NULL", "ESCAPE"],
}


@dataclass
class ParsedDDL:
    kind: str
    name: str
    columns: list[str]
    url: str
    bucket: str
    region: str
    prefix: str
    params: dict[str, str]
    format: str
    options: dict[str, str | None]
    encoding: str
    reject_limit: int | None


def check_cos_ext_ddl(text: str) -> ParsedDDL:
    """Parse ``text`` as documented cos_ext DDL; raise ``AssertionError`` on any deviation."""
    match = _STATEMENT.match(text)
    assert match, f"not documented CREATE EXTERNAL TABLE syntax: {text}"
    kind, fmt = match["kind"], match["format"]
    columns = [c.strip() for c in match["columns"].split(", ")]
    for column in columns:
        assert _COLUMN.match(column), f"column definition {column!r}"

    location = match["location"]
    assert location.count("cos://") == 1, "only ONE URL per LOCATION"
    url, *raw_params = location.split(" ")
    url_match = _URL.match(url)
    assert url_match, f"COS V5 URL expected, got {url!r}"
    params: dict[str, str] = {}
    for raw in raw_params:
        param = _PARAM.match(raw)
        assert param, f"undocumented LOCATION parameter {raw!r} (keys are case-sensitive)"
        assert param["key"] not in params, f"duplicate parameter {param['key']}"
        params[param["key"]] = param["value"]
    assert {"secretId", "secretKey"} <= params.keys(), "secretId and secretKey are required"
    assert params.get("compressType", "gzip") in ("gzip", "none")
    assert params.get("https", "true") in ("true", "false")

    options: dict[str, str | None] = {}
    order = _ORDER[(kind, fmt)]
    position = -1
    rest = (match["options"] or "").strip()
    while rest:
        option = _OPTION.match(rest)
        assert option, f"undocumented FORMAT option at {rest!r}"
        name = option["option"]
        assert name in order, f"{name} is not a documented {kind} {fmt} option"
        assert order.index(name) > position, f"{name} out of the documented order"
        position = order.index(name)
        if name == "HEADER":
            assert option["value"] is None
        else:
            assert option["value"] is not None, f"{name} needs a value"
        options[name] = option["value"]
        rest = rest[option.end() :].strip()

    limit = match["limit"]
    if kind == "WRITABLE":
        assert limit is None, "writable tables take no reject limit"
    else:
        assert match["distributed"] is None, "readable tables take no DISTRIBUTED clause"
    return ParsedDDL(
        kind=kind,
        name=match["name"],
        columns=columns,
        url=url,
        bucket=url_match["bucket"],
        region=url_match["region"],
        prefix=url_match["prefix"],
        params=params,
        format=fmt,
        options=options,
        encoding=match["encoding"],
        reject_limit=int(limit) if limit else None,
    )
