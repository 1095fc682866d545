"""Extra links from SCF tasks to the Tencent Cloud console: the function page and its logs.

Airflow 3 never runs link code on the API server: during ``execute`` an operator stores the
link parameters in XCom (:meth:`SCFFunctionLink.persist`); when the task finishes the task
runner calls :meth:`get_link` on the worker and stores the URL for the UI.

URL format, as Tencent's own documents link the SCF console:
``https://console.cloud.tencent.com/scf/list-detail?rid=1&ns=<namespace>&id=<function>`` with
``&menu=log`` for the log page (Tencent VOD "event notification" demo, tencentyun
intlcloud-documents) and ``&tab=codeTab`` for the code tab. ``rid`` is the console's numeric
region id (1 Guangzhou, 4 Shanghai, 8 Beijing...; the table below is the one Tencent's
serverless toolkit uses for CLS); a region missing from it is passed by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

CONSOLE_URL = "https://console.cloud.tencent.com/scf/list-detail"
#: XCom key holding ``{"region", "namespace", "function_name"}`` for both links.
XCOM_KEY = "scf_function"

#: Console region ids (``rid``).
REGION_IDS = {
    "ap-guangzhou": 1,
    "ap-shanghai": 4,
    "ap-hongkong": 5,
    "na-toronto": 6,
    "ap-shanghai-fsi": 7,
    "ap-beijing": 8,
    "ap-singapore": 9,
    "ap-shenzhen-fsi": 11,
    "ap-guangzhou-open": 12,
    "na-siliconvalley": 15,
    "ap-chengdu": 16,
    "eu-frankfurt": 17,
    "ap-seoul": 18,
    "ap-chongqing": 19,
    "ap-mumbai": 21,
    "na-ashburn": 22,
    "ap-bangkok": 23,
    "eu-moscow": 24,
    "ap-tokyo": 25,
    "ap-nanjing": 33,
    "ap-tianjin": 36,
    "ap-shenzhen": 37,
    "ap-taipei": 39,
    "ap-beijing-fsi": 46,
    "ap-jakarta": 72,
    "sa-saopaulo": 74,
}


def console_region(region: str) -> str:
    """The console's ``rid`` for a region (its number, or the name when unknown)."""
    return str(REGION_IDS.get(region, region))


def function_console_url(
    region: str, namespace: str, function_name: str, menu: str | None = None
) -> str:
    """The console page of a function.

    :param menu: ``None`` for the function's page (code tab), ``"log"`` for its logs.
    """
    query: dict[str, str] = {"rid": console_region(region), "ns": namespace, "id": function_name}
    if menu:
        query["menu"] = menu
    query["tab"] = "codeTab"
    return f"{CONSOLE_URL}?{urlencode(query)}"


class _SCFConsoleLink(BaseOperatorLink):
    """Formats a console URL from the parameters an operator persisted during ``execute``."""

    name: ClassVar[str]
    menu: ClassVar[str | None] = None

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        params: dict[str, Any] | None = XCom.get_value(key=XCOM_KEY, ti_key=ti_key)
        if not params:
            return ""
        return function_console_url(
            params["region"], params["namespace"], params["function_name"], self.menu
        )

    @staticmethod
    def persist(
        context: Context, operator: BaseOperator, region: str, namespace: str, function_name: str
    ) -> None:
        """Store the link parameters (unless the operator does not push XComs).

        :param context: the task context of ``execute``.
        """
        if not operator.do_xcom_push:
            return
        context["ti"].xcom_push(
            key=XCOM_KEY,
            value={"region": region, "namespace": namespace, "function_name": function_name},
        )


class SCFFunctionLink(_SCFConsoleLink):
    """The function's page in the SCF console."""

    name = "SCF Function"


class SCFFunctionLogsLink(_SCFConsoleLink):
    """The function's invocation logs in the SCF console."""

    name = "SCF Invocation Logs"
    menu = "log"
