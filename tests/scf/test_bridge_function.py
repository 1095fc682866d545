"""The COS-to-asset bridge function (``airflow_scf_snova/scf/bridge/function/index.py``) against
a recording fake of the three Airflow endpoints it calls.

Why a fake and not the real api-server: these tests count the requests the function sends (one
``POST /api/v2/assets/events`` per upload, none on a retry, a second ``POST /auth/token`` after a
401) and make the server revoke a token or fail *after* storing an event, which a real
api-server cannot be told to do. The fake answers with the shapes of Airflow 3.3's routes
(``auth/managers/simple/routes/login.py`` ``create_token``, ``core_api/routes/public/assets.py``
``get_assets``, ``get_asset_events`` with ``asset_id``, ``timestamp_gte``, ``limit``,
``offset``, and ``create_asset_event``). ``tests/system/test_cos_push_bridge.py`` runs the
same function on the emulator against a real ``airflow standalone``.

The handler runs in-process on the test's CPython; that its file is Python 3.9 is checked here
by parsing, and on the emulator's CPython 3.9 by the system test.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from scf_snova_core.events import cos_event
from scf_snova_core.objects import COSObject

from airflow_scf_snova.scf.bridge import FUNCTION_DIR

BUCKET = "landing-1250000000"
ASSET_URI = f"cos://{BUCKET}/incoming"  # as Airflow stores it (no trailing /)
ASSET_ID = 7


def _jwt(exp: float, serial: int) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS512'})}.{part({'exp': exp, 'sub': str(serial)})}.sig"


class FakeAirflow(ThreadingHTTPServer):
    """Airflow's token, asset and asset-event routes, recording every request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str]] = []
        self.events: list[dict] = []
        self.valid_tokens: set[str] = set()
        self.tokens_issued = 0
        self.token_lifetime = 3600.0
        #: Store the next N posted events, then answer 503 (the client sees a failure).
        self.fail_after_post = 0
        #: Answer the next N event listings with 500, as Airflow 3.3 does while a run an event
        #: created is queued (apache/airflow#71360).
        self.listing_errors = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p == path)


class _Handler(BaseHTTPRequestHandler):
    server: FakeAirflow

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

    def _authorized(self) -> bool:
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if token in self.server.valid_tokens:
            return True
        self._reply(401, {"detail": "Invalid JWT token"})
        return False

    def do_POST(self) -> None:
        split = urlsplit(self.path)
        server = self.server
        with server.lock:
            server.requests.append(("POST", split.path))
        if split.path == "/auth/token":
            body = self._body()
            if (body.get("username"), body.get("password")) != ("scf_bridge", "s3cret-pw"):
                return self._reply(401, {"detail": "Invalid credentials"})
            with server.lock:
                server.tokens_issued += 1
                token = _jwt(time.time() + server.token_lifetime, server.tokens_issued)
                server.valid_tokens.add(token)
            return self._reply(201, {"access_token": token})
        if split.path == "/api/v2/assets/events":
            if not self._authorized():
                return None
            body = self._body()
            assert set(body) <= {"asset_id", "partition_key", "extra", "access_control"}
            if body["asset_id"] != ASSET_ID:
                return self._reply(404, {"detail": "no such asset"})
            with server.lock:
                event = {
                    "id": len(server.events) + 1,
                    "asset_id": ASSET_ID,
                    "extra": {**body.get("extra", {}), "from_rest_api": True},
                    "timestamp": datetime.now(UTC),
                }
                server.events.append(event)
                failing = server.fail_after_post > 0
                server.fail_after_post -= failing
            if failing:
                return self._reply(503, {"detail": "lost after commit"})
            return self._reply(200, {**event, "timestamp": event["timestamp"].isoformat()})
        return self._reply(404, {"detail": "Not Found"})

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        server = self.server
        with server.lock:
            server.requests.append(("GET", split.path))
        if not self._authorized():
            return None
        if split.path == "/api/v2/assets":
            assets = [{"id": ASSET_ID, "uri": ASSET_URI}, {"id": 8, "uri": ASSET_URI + "/x"}]
            found = [a for a in assets if query.get("uri_pattern", "") in a["uri"]]
            return self._reply(200, {"assets": found, "total_entries": len(found)})
        if split.path == "/api/v2/assets/events":
            with server.lock:
                failing = server.listing_errors > 0
                server.listing_errors -= failing
            if failing:
                return self._reply(500, {"detail": "Internal Server Error"})
            since = datetime.fromisoformat(query["timestamp_gte"].replace("Z", "+00:00"))
            with server.lock:
                matching = [
                    e
                    for e in server.events
                    if e["asset_id"] == int(query["asset_id"]) and e["timestamp"] >= since
                ]
            matching.sort(key=lambda e: e["timestamp"], reverse=True)
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 50))
            page = [
                {**e, "timestamp": e["timestamp"].isoformat()}
                for e in matching[offset : offset + limit]
            ]
            return self._reply(200, {"asset_events": page, "total_entries": len(matching)})
        return self._reply(404, {"detail": "Not Found"})


@pytest.fixture
def airflow_api():
    server = FakeAirflow()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def bridge(airflow_api, monkeypatch):
    """A fresh import of the function (a cold instance), configured for the fake."""
    monkeypatch.setenv("AIRFLOW_API_URL", airflow_api.url + "/")
    monkeypatch.setenv("AIRFLOW_API_USERNAME", "scf_bridge")
    monkeypatch.setenv("AIRFLOW_API_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("AIRFLOW_ASSET_URI", ASSET_URI)
    spec = importlib.util.spec_from_file_location("bridge_index", FUNCTION_DIR / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _upload(key: str, request_id: str, etag: str = "0cc175b9c0f1b6a831c399e269772661") -> dict:
    return cos_event(
        BUCKET,
        key,
        size=123,
        etag=etag,
        region="ap-guangzhou",
        request_id=request_id,
        event_time=int(time.time()),
    )


def test_the_function_is_python_3_9():
    source = (FUNCTION_DIR / "index.py").read_text()
    ast.parse(source, feature_version=(3, 9))


def test_one_upload_posts_one_event_shaped_like_the_watchers(bridge, airflow_api):
    event = _upload("incoming/2024/a.log", "req-1")
    result = bridge.main_handler(event, {"request_id": "scf-1"})
    assert result == {"posted": 1, "duplicates": 0, "ignored": 0, "asset_id": ASSET_ID}
    assert airflow_api.count("POST", "/api/v2/assets/events") == 1
    (stored,) = airflow_api.events
    extra = stored["extra"]
    assert extra["source"] == "scf-cos-asset-bridge"
    assert extra["scf_request_id"] == "scf-1"
    assert len(extra["idempotency_key"]) == 32
    payload = extra["payload"]
    # The keys and value formats of COSObjectEventTrigger's events (triggers/cos.py run()).
    watcher = COSObject(
        bucket=BUCKET,
        key="incoming/2024/a.log",
        size=123,
        etag='"0cc175b9c0f1b6a831c399e269772661"',
        last_modified=datetime.fromisoformat(payload["last_modified"]),
    ).to_dict()
    watcher["url"] = f"cos://{BUCKET}/incoming/2024/a.log"
    watcher["previous_etag"] = None
    assert payload == watcher
    assert datetime.fromisoformat(payload["last_modified"]).utcoffset().total_seconds() == 0


def test_the_same_event_twice_posts_once(bridge, airflow_api):
    event = _upload("incoming/a.log", "req-1")
    assert bridge.main_handler(event, {"request_id": "scf-1"})["posted"] == 1
    second = bridge.main_handler(event, {"request_id": "scf-1"})
    assert second == {"posted": 0, "duplicates": 1, "ignored": 0, "asset_id": ASSET_ID}
    assert airflow_api.count("POST", "/api/v2/assets/events") == 1
    assert len(airflow_api.events) == 1


def test_a_new_upload_of_the_same_bytes_is_a_new_event(bridge, airflow_api):
    bridge.main_handler(_upload("incoming/a.log", "req-1"), {})
    bridge.main_handler(_upload("incoming/a.log", "req-2"), {})
    assert len(airflow_api.events) == 2


def test_a_401_fetches_a_new_token_and_repeats_the_request(bridge, airflow_api):
    bridge.main_handler(_upload("incoming/a.log", "req-1"), {})
    assert airflow_api.tokens_issued == 1
    airflow_api.valid_tokens.clear()  # revoked, or expired on the server's clock
    result = bridge.main_handler(_upload("incoming/b.log", "req-2"), {})
    assert result["posted"] == 1
    assert airflow_api.tokens_issued == 2
    assert len(airflow_api.events) == 2


def test_a_token_is_reused_until_shortly_before_it_expires(bridge, airflow_api):
    bridge.main_handler(_upload("incoming/a.log", "req-1"), {})
    bridge.main_handler(_upload("incoming/b.log", "req-2"), {})
    assert airflow_api.tokens_issued == 1
    airflow_api.token_lifetime = 30  # inside the 60 s margin: replaced before each request
    bridge._tokens.clear()
    bridge.main_handler(_upload("incoming/c.log", "req-3"), {})
    # One new token for each of the two requests (list the events, post one).
    assert airflow_api.tokens_issued == 3


def test_a_failure_after_the_post_then_the_retry_posts_once(bridge, airflow_api):
    event = _upload("incoming/a.log", "req-1")
    airflow_api.fail_after_post = 1
    with pytest.raises(bridge.AirflowAPIError, match="HTTP 503"):
        bridge.main_handler(event, {"request_id": "scf-1"})  # SCF retries a failed attempt
    assert len(airflow_api.events) == 1
    posts = airflow_api.count("POST", "/api/v2/assets/events")
    retry = bridge.main_handler(event, {"request_id": "scf-1"})
    assert retry["duplicates"] == 1 and retry["posted"] == 0
    assert airflow_api.count("POST", "/api/v2/assets/events") == posts
    assert len(airflow_api.events) == 1


def test_a_500_from_the_event_listing_is_waited_out(bridge, airflow_api, monkeypatch):
    monkeypatch.setattr(bridge, "LISTING_RETRY_DELAYS", (0.01, 0.01, 0.01))
    event = _upload("incoming/a.log", "req-1")
    bridge.main_handler(event, {})
    airflow_api.listing_errors = 2
    assert bridge.main_handler(event, {})["duplicates"] == 1
    assert len(airflow_api.events) == 1
    airflow_api.listing_errors = 10  # longer than the function waits: SCF retries it
    with pytest.raises(bridge.AirflowAPIError, match="HTTP 500"):
        bridge.main_handler(event, {})
    assert len(airflow_api.events) == 1


def test_the_dedupe_check_reads_every_page(bridge, airflow_api, monkeypatch):
    monkeypatch.setattr(bridge, "PAGE", 2)
    events = [_upload(f"incoming/{n}.log", f"req-{n}") for n in range(5)]
    for event in events:
        bridge.main_handler(event, {})
    assert bridge.main_handler(events[0], {})["duplicates"] == 1  # the oldest: the last page
    assert len(airflow_api.events) == 5


def test_no_such_asset_is_skipped_not_retried(bridge, airflow_api, monkeypatch):
    monkeypatch.setenv("AIRFLOW_ASSET_URI", f"cos://{BUCKET}/other")
    result = bridge.main_handler(_upload("other/a.log", "req-1"), {})
    assert result["skipped"] == "no such asset"
    assert airflow_api.events == []


def test_other_events_are_ignored(bridge, airflow_api):
    event = _upload("incoming/a.log", "req-1")
    event["Records"][0]["event"]["eventName"] = "cos:ObjectRemove:Delete"
    assert bridge.main_handler(event, {}) == {"posted": 0, "duplicates": 0, "ignored": 1}
    assert airflow_api.requests == []
