"""Which COS object keys a sensor, trigger or listing selects.

Five filters, all optional and combined with AND:

- ``prefix`` and ``suffix``: plain string tests, exactly what a COS trigger's ``Prefix`` and
  ``Suffix`` filter does (``snova/`` + ``.log`` selects ``snova/sub/d.log`` too);
- ``glob``: matched against the whole key, path-aware: ``*`` and ``?`` never match ``/``,
  ``**`` matches across ``/`` (``a/**/b`` selects ``a/b`` and ``a/x/y/b``; ``logs/**`` selects
  everything under ``logs/``), ``[abc]``/``[!abc]`` are one non-``/`` character, and ``\\``
  escapes the next character. Unlike :mod:`fnmatch` (whose ``*`` crosses ``/``), ``*.csv``
  selects only top-level keys;
- ``regex``: a Python regular expression that must match the **whole** key (``re.fullmatch``);
- ``start_after``: keys that sort after this one, such as ``logs/2024-06-03/~`` for what
  landed after that day's partition.

Listings are narrowed server-side: the listing prefix is ``prefix`` or the glob's literal head
(``data/2024-*.csv`` lists ``data/2024-``), whichever is longer, and ``start_after`` is the
listing's ``marker``. A regex alone lists the whole bucket, so give it a ``prefix`` on large
buckets.

Pure Python: no Airflow and no SDK imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from scf_snova_core.objects import COSObject, parse_cos_time

_GLOB_SPECIAL = "*?[\\"


def is_blank(value: object) -> bool:
    """Whether a (rendered) filter argument means "not set": ``None``, ``""`` or ``"None"``
    (templates render a missing value such as ``{{ data_interval_start }}`` of a manual run as
    ``""`` or ``"None"``)."""
    return value is None or (isinstance(value, str) and value.strip() in ("", "None"))


def glob_literal_prefix(pattern: str) -> str:
    """The part of ``pattern`` before its first wildcard, escape or character class."""
    for index, char in enumerate(pattern):
        if char in _GLOB_SPECIAL:
            return pattern[:index]
    return pattern


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path-aware glob (see the module docstring) into an anchored regex.

    :param pattern: the glob.
    :raises ValueError: on an unterminated ``[`` or a trailing ``\\``.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            if pattern.startswith("**", i):
                at_segment_start = i == 0 or pattern[i - 1] == "/"
                if at_segment_start and pattern.startswith("**/", i):
                    out.append("(?:.*/)?")  # zero or more whole directories
                    i += 3
                else:
                    out.append(".*")
                    i += 2
                    while i < n and pattern[i] == "*":  # "***" is "**"
                        i += 1
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            # As in fnmatch, a "]" right after "[" or "[!" is a literal member of the class.
            end = pattern.find("]", i + 3 if pattern.startswith(("[!", "[^"), i) else i + 2)
            if end < 0:
                raise ValueError(f"glob {pattern!r} has an unterminated '['")
            body = pattern[i + 1 : end]
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            for special in ("\\", "^", "[", "]"):
                body = body.replace(special, "\\" + special)
            out.append(f"(?!/)[{'^' if negate else ''}{body}]")
            i = end
        elif char == "\\":
            if i + 1 >= n:
                raise ValueError(f"glob {pattern!r} ends with an escape character")
            out.append(re.escape(pattern[i + 1]))
            i += 1
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _merge_prefixes(prefix: str, other: str) -> str | None:
    """The longer of two prefixes when one extends the other, ``None`` when they conflict."""
    if other.startswith(prefix):
        return other
    if prefix.startswith(other):
        return prefix
    return None


@dataclass(frozen=True)
class KeyFilter:
    """A selection of objects (see the module docstring).

    :param prefix: keys start with this.
    :param suffix: keys end with this.
    :param glob: path-aware glob on the whole key.
    :param regex: regular expression matching the whole key.
    :param modified_after: only objects modified at or after this instant, compared at COS's
        one-second resolution (an object stamped in the bound's second is included); a datetime
        (naive means UTC) or an ISO-8601 string.
    :param min_size: only objects of at least this many bytes.
    :param start_after: only keys that sort after this one (UTF-8 byte order, the key itself
        excluded); sent to COS as the listing's ``marker``, so the keys before it cost nothing.
    """

    prefix: str = ""
    suffix: str | None = None
    glob: str | None = None
    regex: str | None = None
    modified_after: datetime | str | None = None
    min_size: int | None = None
    start_after: str | None = None
    _since: datetime | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.prefix is None:
            object.__setattr__(self, "prefix", "")
        if self.modified_after not in (None, ""):
            # COS timestamps are whole seconds: an object stamped in the bound's second may have
            # been written after the bound, so compare at one-second resolution.
            since = parse_cos_time(self.modified_after).replace(microsecond=0)
            object.__setattr__(self, "_since", since)
        # Fail fast on bad patterns (the caller turns ValueError into its own error type).
        _ = self.glob_pattern, self.regex_pattern

    @cached_property
    def glob_pattern(self) -> re.Pattern[str] | None:
        return glob_to_regex(self.glob) if self.glob else None

    @cached_property
    def regex_pattern(self) -> re.Pattern[str] | None:
        if not self.regex:
            return None
        try:
            return re.compile(self.regex)
        except re.error as err:
            raise ValueError(f"invalid regex {self.regex!r}: {err}") from err

    @property
    def since(self) -> datetime | None:
        """``modified_after`` as an aware UTC datetime."""
        return self._since

    @property
    def listing_prefix(self) -> str | None:
        """The prefix to list with; ``None`` when ``prefix`` and ``glob`` can never both match."""
        if not self.glob:
            return self.prefix
        return _merge_prefixes(self.prefix, glob_literal_prefix(self.glob))

    def matches_key(self, key: str) -> bool:
        """Whether ``key`` passes the key filters (prefix, suffix, glob, regex, start_after)."""
        if not key.startswith(self.prefix):
            return False
        if self.start_after and key <= self.start_after:
            return False
        if self.suffix and not key.endswith(self.suffix):
            return False
        if self.glob_pattern is not None and not self.glob_pattern.fullmatch(key):
            return False
        return self.regex_pattern is None or self.regex_pattern.fullmatch(key) is not None

    def matches(self, obj: COSObject) -> bool:
        """Whether ``obj`` passes every filter."""
        if self._since is not None and obj.last_modified < self._since:
            return False
        if self.min_size is not None and obj.size < self.min_size:
            return False
        return self.matches_key(obj.key)
