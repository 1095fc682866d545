"""SCF and COS limits a client must respect before sending a request.

Sources: the API 3.0 request structure (a POST signed with TC3-HMAC-SHA256 carries at most
10 MB, e.g. https://cloud.tencent.com/document/api/213/15693), the ``Invoke`` model docstring of
``tencentcloud-sdk-python-scf`` (``ClientContext``: 6 MB sync, 128 KB async; the sync call ends
after 300 s), the ``LogType`` docstring (``Tail`` returns the last 4 KB) and the
``GetRequestStatus`` docstring (``StartTime`` defaults to 15 minutes ago); SCF's quota page
(https://cloud.tencent.com/document/product/583/11637: functions per namespace, triggers,
versions, a sync response of at most 6 MB); CLS ``SearchLog`` (``tencentcloud-sdk-python-cls``:
``Limit`` at most 1000, a ``Context`` chain reads at most 10,000 logs); COS multipart rules
(https://cloud.tencent.com/document/product/436/14112).
"""

from __future__ import annotations

#: Largest ``ClientContext`` of a sync (``RequestResponse``) and an async (``Event``) invoke.
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 128 * 1024
#: SCF ends a sync (``RequestResponse``) invoke after at most this many seconds.
SYNC_INVOKE_MAX_SECONDS = 300
#: ``LogType=Tail`` returns at most the last 4 KB of an execution log.
LOG_TAIL_BYTES = 4096
#: SCF quotas: functions in one namespace (``LimitExceeded.Function``), triggers of one type on
#: one function and COS triggers on one bucket (``LimitExceeded.Trigger``), published versions of
#: one function (``LimitExceeded.FunctionVersions``).
SCF_MAX_FUNCTIONS_PER_NAMESPACE = 50
SCF_MAX_TRIGGERS_PER_TYPE = 10
SCF_MAX_COS_TRIGGERS_PER_BUCKET = 10
SCF_MAX_VERSIONS = 1000
#: The largest body of an API 3.0 request (``RequestSizeLimitExceeded`` above it): 10 MB, read
#: as 10,000,000 bytes. A base64 ``ZipFile`` of more than about 7.4 MB cannot be sent inline.
API_REQUEST_BODY_LIMIT = 10_000_000
#: Largest return value of a sync invoke; a larger one fails the run with status 407.
SYNC_RESPONSE_LIMIT = 6 * 1024 * 1024

#: ``GetRequestStatus`` without ``StartTime`` searches runs started this many seconds ago or later.
REQUEST_STATUS_DEFAULT_LOOKBACK = 15 * 60
#: The longest ``StartTime``..``EndTime`` window of ``GetRequestStatus``. SCF documents none; one
#: day is what its older log API allowed (a stricter assumption).
REQUEST_STATUS_MAX_WINDOW = 24 * 60 * 60

#: CLS ``SearchLog``: at most this many logs per call, and per ``Context`` chain.
CLS_SEARCH_MAX_LIMIT = 1000
CLS_CONTEXT_MAX_LOGS = 10_000

#: COS allows at most 1,000 keys per list page and per multi-delete request.
COS_MAX_KEYS = 1000
#: COS multipart rules: parts of 1 MiB .. 5 GiB (the last one may be smaller), 10,000 parts.
COS_MIN_PART_SIZE = 1024 * 1024
COS_MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
COS_MAX_PARTS = 10_000
