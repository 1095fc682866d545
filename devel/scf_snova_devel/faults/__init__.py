"""Test-only fault injection for SCF functions: a copy of a function's code directory with a
wrapper handler (:mod:`.fault_injection`, which runs inside the function) that makes chosen
attempts of an event fail. The function's own code stays untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

#: The wrapper, copied into the package as ``fault_injection.py``.
WRAPPER = Path(__file__).with_name("fault_injection.py")
#: The handler to deploy the package with.
HANDLER = "fault_injection.main_handler"


def code_dir_with_faults(source: Path, dest: Path) -> Path:
    """Copy the function directory ``source`` to ``dest`` and add the wrapper; returns ``dest``."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(WRAPPER, dest / WRAPPER.name)
    return dest
