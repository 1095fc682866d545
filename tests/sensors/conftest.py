"""The sensors' tests share a task context whose task instance records its XComs."""

from __future__ import annotations

import pytest


class RecordingTI:
    """Collects ``xcom_push`` calls. A real RuntimeTaskInstance needs a supervisor process; the
    end-to-end XComs are checked with ``dag.test()`` (tests/system)."""

    def __init__(self) -> None:
        self.xcom: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = value


@pytest.fixture
def context():
    """``{"ti": RecordingTI()}``: ``context["ti"].xcom`` holds what the sensor pushed."""
    return {"ti": RecordingTI()}
