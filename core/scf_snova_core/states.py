"""SCF function statuses, invocation result codes and failure status codes.

Sources: the GetFunction ``Status`` table (https://cloud.tencent.com/document/api/583/115197),
the ``GetRequestStatus`` and ``Invoke`` models of ``tencentcloud-sdk-python-scf``, Tencent's
function-to-function client (PyPI ``tencentserverless``, ``scf.py``) and the SCF error-code page
for function executions (https://cloud.tencent.com/document/product/583/42611).
"""

from __future__ import annotations

ACTIVE = "Active"
#: Statuses a function passes through while SCF works on it; they settle by themselves.
TRANSIENT_STATES = frozenset({"Creating", "Updating", "Publishing", "Deleting"})
#: Statuses that end a wait with an error (unless they are what the caller waits for).
FAILED_STATES = frozenset({"CreateFailed", "UpdateFailed", "PublishFailed", "DeleteFailed"})
#: Statuses from which a function can be updated, published, invoked or given triggers (the
#: previous code keeps serving after a failed update or publish).
READY_STATES = frozenset({ACTIVE, "UpdateFailed", "PublishFailed"})

#: The qualifier of the unpublished code, and the default alias.
LATEST = "$LATEST"
DEFAULT_ALIAS = "$DEFAULT"

#: ``InvocationType`` of ``Invoke``: sync and async.
SYNC = "RequestResponse"
ASYNC = "Event"
INVOCATION_TYPES = (SYNC, ASYNC)

#: ``GetRequestStatus`` ``RetCode`` values.
RET_CODE_SUCCESS = 0
RET_CODE_RUNNING = 1
RET_CODE_FAILED = -1

#: ``Invoke`` ``InvokeResult`` values, as Tencent's function-to-function client
#: (``tencentserverless``) reads them: 0 success (``RetMsg`` is the return value), 1 the user
#: code raised (``RetMsg`` is the JSON error object), -1 any other failure.
INVOKE_RESULT_SUCCESS = 0
INVOKE_RESULT_USER_ERROR = 1
INVOKE_RESULT_FAILED = -1

#: The runtime status code of a run that is still going (CLS records' ``SCF_StatusCode``), and of
#: a run whose user code raised.
STATUS_CODE_RUNNING = 202
STATUS_CODE_USER_EXCEPTION = 430

#: Runtime status codes of failed executions: 430 user code exception, 433 timeout, 434 memory
#: exceeded, 439 the process exited while running (an async event terminated with
#: ``TerminateAsyncEvent``), and the platform's 4xx codes for invalid events and throttling.
FAILURE_STATUS_CODES = frozenset({400, 405, 406, 407, 429, 430, 433, 434, 439})
