"""Run SQL on Snova.

Any common-sql operator works with a ``snova`` connection (``SQLExecuteQueryOperator(conn_id=
"snova_default", ...)``, the check operators, ``SqlSensor``); :class:`SnovaSQLOperator` only
defaults the connection. Importing this module loads no database driver.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator


class SnovaSQLOperator(SQLExecuteQueryOperator):
    """Execute SQL on Snova: :class:`SQLExecuteQueryOperator` with ``conn_id`` defaulting to
    ``snova_default``. Everything else (``parameters``, ``split_statements``, ``return_last``,
    ``handler``, ``.sql`` templates) is the parent's.

    :param conn_id: the ``snova`` connection. (templated)
    """

    ui_color = "#c6e2ff"

    def __init__(self, *, conn_id: str = "snova_default", **kwargs: Any) -> None:
        super().__init__(conn_id=conn_id, **kwargs)
