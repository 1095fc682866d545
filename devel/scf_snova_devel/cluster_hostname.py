"""``[core] hostname_callable`` for the local Celery cluster's workers.

Both workers of ``make demo-cluster`` run on one machine, so the default callable (the FQDN)
would record the same ``TaskInstance.hostname`` for both. Each worker's environment names it in
``SCF_SNOVA_WORKER_NAME``; its task processes inherit it.
"""

from __future__ import annotations

import os
import socket


def name() -> str:
    """The worker's name (``SCF_SNOVA_WORKER_NAME``), or the FQDN outside the cluster."""
    return os.environ.get("SCF_SNOVA_WORKER_NAME") or socket.getfqdn()
