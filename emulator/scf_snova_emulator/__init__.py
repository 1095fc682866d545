"""An offline emulator of Tencent Cloud SCF (API 3.0), COS (XML API) and the part of CLS (API 3.0)
that holds function logs, for development and tests.

Nothing here imports Airflow or a Tencent SDK. Start it with ``python -m scf_snova_emulator`` or
in-process::

    from scf_snova_emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(port=0)) as server:
        ...  # point a tencentcloud connection's ``endpoint`` at server.endpoint

Layout:

- :mod:`.server` listens on one port and sends each request to the control API
  (:mod:`.control`), to COS (:mod:`.cos`), to CLS (:mod:`.cls`) or to SCF (:mod:`.scf`);
  :mod:`.http` is the request and its answer as the services see them, :mod:`.api3` the API 3.0
  request cycle SCF and CLS share, :mod:`.faults` the injected faults, :mod:`.config` the
  settings, :mod:`.types` what crosses from COS to SCF (object events).
- :mod:`.scf` and :mod:`.cos` have the same layers, as in moto: ``urls`` (routing), ``auth``
  (request signatures), ``wire`` (the wire format: envelope, rendering, parsing), ``models``
  (plain state objects), ``backend`` (the rules and state machine over the models),
  ``responses`` (one handler per action or operation: request -> backend -> response),
  ``exceptions`` (errors carrying their wire code), ``storage`` (on disk) and ``service`` (the
  entry point the server calls), plus what only one service needs. :mod:`.cls` has the layers it
  needs and reuses SCF's API 3.0 ones.
- Facts shared with the provider and the SCF functions (names, statuses, limits, cron, event
  shapes) come from :mod:`scf_snova_core`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import EmulatorConfig

if TYPE_CHECKING:
    from .server import EmulatorServer

__version__ = "0.2.0"

__all__ = ["EmulatorConfig", "EmulatorServer", "__version__"]


def __getattr__(name: str):
    # Lazy, so that ``scf_snova_emulator.config`` can be read without loading the services.
    if name == "EmulatorServer":
        from .server import EmulatorServer

        return EmulatorServer
    raise AttributeError(name)
