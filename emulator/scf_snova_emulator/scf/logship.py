"""SCF extra ``logship``: an invocation's log, as text and as the CLS records SCF writes.

SCF writes every line of every run (each attempt of a retried one) to the function's CLS topic,
one record per line, with the fields of https://cloud.tencent.com/document/product/583/60336:
``SCF_FunctionName``, ``SCF_Namespace``, ``SCF_StartTime`` and ``SCF_LogTime`` (epoch ms),
``SCF_RequestId``, ``SCF_Duration`` (ms), ``SCF_Alias``, ``SCF_Qualifier``, ``SCF_MemUsage``,
``SCF_Level``, ``SCF_Message`` (the line), ``SCF_Type`` (``Platform`` for SCF's own lines,
``Custom`` for the function's output), ``SCF_StatusCode`` ("202 表示请求状态为运行中", *202 means
the request is running*) and ``SCF_RetryNum``.

:class:`LogShipper` reports the ``START`` line when a run is accepted or an attempt starts (status
202) and the other lines when it ends, with the run's status code. The function's output is read
when the run ends, so its lines carry the end time.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable

from scf_snova_core.apitime import epoch_ms
from scf_snova_core.states import STATUS_CODE_RUNNING

from .models import Invocation

PLATFORM = "Platform"
CUSTOM = "Custom"
#: The values each line adds to the fields of its batch.
LINE_FIELDS = ("SCF_Type", "SCF_Message")

#: Receives the lines of one report: ``(record, time_ms, status_code, [(type, message)])``.
Sink = Callable[[Invocation, int, int, list[tuple[str, str]]], None]


def log_lines(
    request_id: str, output: str, duration_ms: float, memory_size: int, mem_usage: int
) -> list[tuple[str, str]]:
    """The ``(type, text)`` lines of a run's log in SCF's ``START ... END ... Report`` layout."""
    body = output[:-1] if output.endswith("\n") else output
    custom = [(CUSTOM, line) for line in body.split("\n")] if output else []
    return [
        (PLATFORM, f"START RequestId: {request_id}"),
        (PLATFORM, f"Event RequestId: {request_id}"),
        *custom,
        (PLATFORM, f"END RequestId: {request_id}"),
        (
            PLATFORM,
            f"Report RequestId: {request_id} Duration:{math.ceil(duration_ms)}ms "
            f"Memory:{memory_size}MB MemUsage:{mem_usage / 1048576:.6g}MB",
        ),
    ]


def join_lines(lines: list[tuple[str, str]]) -> str:
    return "\n".join(text for _, text in lines)


def record_fields(record: Invocation, time_ms: int, status_code: int) -> dict:
    """The fields every line of one report of ``record`` carries."""
    return {
        "SCF_FunctionName": record.function_name,
        "SCF_Namespace": record.namespace,
        "SCF_StartTime": epoch_ms(record.start_time),
        "SCF_LogTime": time_ms,
        "SCF_RequestId": record.request_id,
        "SCF_Duration": math.ceil(record.duration_ms),
        "SCF_Alias": "",
        "SCF_Qualifier": record.qualifier,
        "SCF_MemUsage": round(record.mem_usage / 1048576, 4),
        "SCF_Level": "INFO",
        "SCF_StatusCode": status_code,
        "SCF_RetryNum": record.retry_num,
    }


class LogShipper:
    """Reports the lines of runs to a sink (the CLS emulator); without one, nothing is shipped.

    :param sink: where the lines go.
    :param clock: epoch seconds, replaceable in tests.
    """

    def __init__(self, sink: Sink | None = None, clock: Callable[[], float] = time.time) -> None:
        self._sink = sink
        self._clock = clock
        self._lock = threading.Lock()
        self._running: set[tuple[str, int]] = set()

    def started(self, record: Invocation) -> None:
        """The ``START`` line of a run (an attempt: ``record.retry_num``) that has started
        (status 202), once per attempt: calling it again before :meth:`finished` does nothing."""
        key = (record.request_id, record.retry_num)
        with self._lock:
            if key in self._running:
                return
            self._running.add(key)
        if self._sink is not None:
            line = (PLATFORM, f"START RequestId: {record.request_id}")
            self._sink(record, epoch_ms(self._clock()), STATUS_CODE_RUNNING, [line])

    def finished(self, record: Invocation, lines: list[tuple[str, str]]) -> None:
        """Every line of a finished attempt's log after its ``START`` line (which went out when
        it started), with its status code."""
        with self._lock:
            self._running.discard((record.request_id, record.retry_num))
        if self._sink is not None:
            rest = lines[1:] if lines and lines[0][1].startswith("START RequestId") else lines
            self._sink(record, epoch_ms(self._clock()), record.status_code, rest)


def cls_sink(append: Callable, topic_id: Callable[[], str]) -> Sink:
    """A :data:`Sink` that appends each report to a CLS topic as one batch.

    :param append: ``ClsBackend.append``.
    :param topic_id: the topic the function's logs go to.
    """
    from ..cls.models import LogBatch

    def ship(record: Invocation, time_ms: int, status_code: int, lines) -> None:
        append(
            LogBatch(
                topic_id=topic_id(),
                time_ms=time_ms,
                pkg_id=uuid.uuid4().hex.upper(),
                fields=record_fields(record, time_ms, status_code),
                line_fields=LINE_FIELDS,
                lines=[tuple(line) for line in lines],
            )
        )

    return ship
