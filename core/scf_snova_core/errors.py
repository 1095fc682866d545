"""The core's exceptions: plain Python, so that SCF functions and the emulator can use them.

The Airflow provider turns :class:`InvalidValueError` into its own ``InvalidInputError`` where a
DAG author's input is checked.
"""

from __future__ import annotations


class CoreError(Exception):
    """Base of every exception the core raises."""


class InvalidValueError(CoreError, ValueError):
    """A name, identifier, cron expression or value breaks Tencent Cloud's (or SQL's) rules. The
    message names the input and the rule."""
