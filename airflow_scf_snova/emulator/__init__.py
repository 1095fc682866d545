"""An offline emulator of Tencent Cloud SCF (API 3.0) and COS (XML API) for development and tests.

Nothing here imports Airflow. Start it with ``python -m airflow_scf_snova.emulator`` or in-process::

    from airflow_scf_snova.emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(port=0)) as server:
        ...  # point a tencentcloud connection's ``endpoint`` at server.endpoint
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import EmulatorConfig

if TYPE_CHECKING:
    from .server import EmulatorServer

__all__ = ["EmulatorConfig", "EmulatorServer"]


def __getattr__(name: str):
    # Lazy, so that ``emulator.config`` or ``emulator.snova`` can be used without the services.
    if name == "EmulatorServer":
        from .server import EmulatorServer

        return EmulatorServer
    raise AttributeError(name)
