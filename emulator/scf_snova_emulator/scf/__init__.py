"""The emulated SCF (Serverless Cloud Function) API 3.0 endpoint.

Layers: :mod:`.protocol` (TC3 signature, envelope) -> :mod:`.responses` (one method per action)
-> :mod:`.backend` (state machine over :mod:`.models`, saved by :mod:`.store`); functions run
through :mod:`.invoker` and :mod:`.runtime` (child process running :mod:`.bootstrap`); timers
through :mod:`.scheduler`; :mod:`.service` wires it together.
"""
