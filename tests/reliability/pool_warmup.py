"""Imported once by the forkserver of the concurrent-load pool, before it forks the workers.

It does what every task process would otherwise do on its own before its first load: import the
provider, the COS SDK and both PostgreSQL drivers, and let Airflow discover its providers (which
imports every installed provider's asset and hook modules). A Celery or Local executor's worker
has all of this warm as well; each forked worker still runs its task in its own process, with its
own connections.
"""

from __future__ import annotations

from airflow.providers_manager import ProvidersManager

_providers = ProvidersManager()
_providers.initialize_providers_asset_uri_resources()
_providers.initialize_providers_hooks()
