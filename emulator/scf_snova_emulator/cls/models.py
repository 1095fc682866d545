"""CLS layer ``models``: log topics and the log records in them, as plain objects.

Records arrive in batches (:class:`LogBatch`): the lines one writer reported at one time (SCF
reports a run's ``START`` line when the run starts and the rest when it ends). Fields shared by the
batch are stored once; each line adds its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LogTopic:
    """A log topic and the logset it belongs to; ids are UUIDs, as in CLS."""

    logset_id: str
    logset_name: str
    topic_id: str
    topic_name: str
    create_time: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LogTopic:
        return cls(**data)


@dataclass
class LogBatch:
    """Lines reported together to one topic.

    :param time_ms: when they were reported (epoch milliseconds): every line's ``Time``.
    :param pkg_id: the upload's id (``LogInfo.PkgId``); lines are numbered in it (``PkgLogId``).
    :param fields: fields every line carries.
    :param line_fields: the names of the per-line values in ``lines``.
    :param lines: one tuple of values per line, in the order written.
    :param seq: the batch's place in the order of arrival (set by the backend).
    """

    topic_id: str
    time_ms: int
    pkg_id: str
    fields: dict
    line_fields: tuple[str, ...]
    lines: list[tuple]
    seq: int = 0

    def records(self) -> Iterator[tuple[int, dict]]:
        """``(line number, fields)`` of every line."""
        for number, values in enumerate(self.lines):
            yield number, {**self.fields, **dict(zip(self.line_fields, values, strict=True))}

    def to_dict(self) -> dict:
        return {
            "topic_id": self.topic_id,
            "time_ms": self.time_ms,
            "pkg_id": self.pkg_id,
            "fields": self.fields,
            "line_fields": list(self.line_fields),
            "lines": [list(values) for values in self.lines],
            "seq": self.seq,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LogBatch:
        return cls(
            topic_id=data["topic_id"],
            time_ms=int(data["time_ms"]),
            pkg_id=data["pkg_id"],
            fields=dict(data["fields"]),
            line_fields=tuple(data["line_fields"]),
            lines=[tuple(values) for values in data["lines"]],
            seq=int(data.get("seq", 0)),
        )
