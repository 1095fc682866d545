"""CLS extra ``query``: the part of the CLS search syntax the emulator understands, compiled into a
predicate over a record's fields.

``SearchLog``'s ``QueryString`` is CQL by default (``QuerySyntax=1``) or Lucene
(``QuerySyntax=0``); https://cloud.tencent.com/document/product/614/47044. Understood here, in
both (operators in capitals; CQL also takes them in lower case):

- ``key:value``, ``key:"a phrase"`` and ``key:prefix*``: SCF's own examples
  (https://cloud.tencent.com/document/product/583/43329) are ``SCF_RequestId:"<id>"``,
  ``SCF_Namespace:"default" AND SCF_FunctionName:"hello-scf"`` and ``SCF_Message:Report*``;
- ``key:>n``, ``key:>=n``, ``key:<n``, ``key:<=n`` and ``key:n`` on numeric fields
  (``SCF_RetryNum:0``, ``SCF_StatusCode:>200``);
- ``AND``, ``OR``, ``NOT`` and parentheses; ``*`` or an empty query matches every record.

A text value matches when its words appear, in order and next to each other, among the field's
words (words are runs of letters, digits, ``_``, ``.`` and ``$``; case matters). Anything else
(full-text terms without a key, SQL after ``|``, fuzzy or range syntax) is refused with
``FailedOperation.SyntaxError``, so that a query the emulator cannot answer never returns a
misleading empty result. Keys must be fields of the topic's index (``FailedOperation.QueryError``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..scf.exceptions import FailedOperation

Predicate = Callable[[Mapping], bool]

_WORD = re.compile(r"[A-Za-z0-9_.$]+")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<open>\() | (?P<close>\)) |
        (?P<term>[A-Za-z_][A-Za-z0-9_.]*:\s*(?:"(?:[^"\\]|\\.)*"|[^\s()"]+)) |
        (?P<star>\*(?=[\s()]|$)) |
        (?P<word>[^\s()]+)
    )""",
    re.VERBOSE,
)
_COMPARISON = re.compile(r"^(>=|<=|>|<)?(-?\d+(?:\.\d+)?)$")
_OPERATORS = ("AND", "OR", "NOT")


@dataclass(frozen=True)
class CompiledQuery:
    """A parsed query.

    :param predicate: whether a record's fields match.
    :param keys: values of ``key_field`` one of which every match must have (a top-level
        ``key_field:"value"`` term), or ``None`` when the query does not pin one.
    """

    predicate: Predicate
    keys: frozenset[str] | None


def _syntax_error(message: str) -> FailedOperation:
    return FailedOperation("SyntaxError", f"query syntax error: {message}")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _text_matcher(key: str, raw: str) -> Predicate:
    prefix = raw.endswith("*") and not raw.startswith('"')
    if raw.startswith('"'):
        raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
    elif prefix:
        raw = raw[:-1]
    wanted = _words(raw)
    if not wanted or "*" in raw or "?" in raw:
        raise _syntax_error(f"{key}:{raw!r}: the emulator supports words, phrases and word*")
    size = len(wanted)

    def matches(fields: Mapping) -> bool:
        have = _words(str(fields.get(key, "")))
        for start in range(len(have) - size + 1):
            window = have[start : start + size]
            if window[:-1] == wanted[:-1] and (
                window[-1].startswith(wanted[-1]) if prefix else window[-1] == wanted[-1]
            ):
                return True
        return False

    return matches


def _number_matcher(key: str, raw: str) -> Predicate:
    found = _COMPARISON.match(raw)
    if not found:
        raise _syntax_error(f"{key}:{raw}: a numeric field takes n, >n, >=n, <n or <=n")
    operator, number = found.group(1) or "=", float(found.group(2))
    compare = {
        "=": lambda v: v == number,
        ">": lambda v: v > number,
        ">=": lambda v: v >= number,
        "<": lambda v: v < number,
        "<=": lambda v: v <= number,
    }[operator]

    def matches(fields: Mapping) -> bool:
        try:
            return compare(float(fields.get(key)))
        except (TypeError, ValueError):
            return False

    return matches


class _Parser:
    def __init__(
        self, text: str, syntax: int, text_fields: frozenset[str], number_fields: frozenset[str]
    ):
        self.text_fields = text_fields
        self.number_fields = number_fields
        self.lucene = syntax == 0
        self.tokens = self._tokenise(text)
        self.pos = 0

    def _tokenise(self, text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            found = _TOKEN.match(text, pos)
            if not found or found.end() == pos:
                raise _syntax_error(f"cannot read {text[pos : pos + 20]!r}")
            pos = found.end()
            kind = found.lastgroup or ""
            tokens.append((kind, found.group(kind).strip()))
        return tokens

    def _operator(self, name: str) -> bool:
        if self.pos >= len(self.tokens):
            return False
        kind, value = self.tokens[self.pos]
        if kind != "word":
            return False
        if value == name or (not self.lucene and value == name.lower()):
            self.pos += 1
            return True
        return False

    def parse(self) -> tuple[Predicate, list[tuple[str, str]]]:
        if not self.tokens or self.tokens == [("star", "*")]:
            return (lambda fields: True), []
        for kind, value in self.tokens:
            if kind == "word" and "|" in value:
                raise _syntax_error("SQL after '|' is not supported by the emulator")
        predicate, pinned = self._or()
        if self.pos != len(self.tokens):
            raise _syntax_error(f"unexpected {self.tokens[self.pos][1]!r}")
        return predicate, pinned

    def _or(self) -> tuple[Predicate, list[tuple[str, str]]]:
        left, pinned = self._and()
        parts = [left]
        while self._operator("OR"):
            parts.append(self._and()[0])
        if len(parts) == 1:
            return left, pinned
        return (lambda fields: any(p(fields) for p in parts)), []

    def _and(self) -> tuple[Predicate, list[tuple[str, str]]]:
        first, pinned = self._not()
        parts = [first]
        while self._operator("AND"):
            part, more = self._not()
            parts.append(part)
            pinned = pinned + more
        if len(parts) == 1:
            return first, pinned
        return (lambda fields: all(p(fields) for p in parts)), pinned

    def _not(self) -> tuple[Predicate, list[tuple[str, str]]]:
        if self._operator("NOT"):
            inner, _ = self._not()
            return (lambda fields: not inner(fields)), []
        return self._primary()

    def _primary(self) -> tuple[Predicate, list[tuple[str, str]]]:
        if self.pos >= len(self.tokens):
            raise _syntax_error("the query ends where a term was expected")
        kind, value = self.tokens[self.pos]
        self.pos += 1
        if kind == "open":
            inner = self._or()
            if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != "close":
                raise _syntax_error("a '(' is not closed")
            self.pos += 1
            return inner
        if kind == "term":
            return self._term(value)
        if kind == "star":
            return (lambda fields: True), []
        if kind == "word" and value.upper() in _OPERATORS:
            raise _syntax_error(f"{value!r} where a term was expected")
        raise _syntax_error(
            f"{value!r}: the emulator searches key:value terms only (no full-text search)"
        )

    def _term(self, text: str) -> tuple[Predicate, list[tuple[str, str]]]:
        key, raw = text.split(":", 1)
        raw = raw.strip()
        if key in self.number_fields:
            return _number_matcher(key, raw), []
        if key not in self.text_fields:
            known = ", ".join(sorted(self.text_fields | self.number_fields))
            raise FailedOperation(
                "QueryError", f"{key} is not a field of the topic's index ({known})"
            )
        pinned = []
        if raw.startswith('"') or not raw.endswith("*"):
            pinned = [(key, re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw)]
        return _text_matcher(key, raw), pinned


def compile_query(
    text: str,
    syntax: int,
    text_fields: frozenset[str],
    number_fields: frozenset[str],
    key_field: str | None = None,
) -> CompiledQuery:
    """Parse ``text``.

    :param syntax: 0 Lucene, 1 CQL.
    :param text_fields: the indexed text fields; ``number_fields``: the numeric ones.
    :param key_field: a field whose exact values the caller can look up directly.
    :raises FailedOperation: ``SyntaxError`` or ``QueryError``.
    """
    predicate, pinned = _Parser(text or "", syntax, text_fields, number_fields).parse()
    values = [value for key, value in pinned if key == key_field]
    return CompiledQuery(predicate, frozenset(values[:1]) if values else None)
