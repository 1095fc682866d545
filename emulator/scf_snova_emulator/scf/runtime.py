"""SCF extra ``runtime``: run a Python function in a child process, as SCF's Python runtimes do.

The child is an interpreter of the function's own runtime (:mod:`.interpreters`: CPython 3.9
for ``Python3.9``, never the emulator's own Python unless its version is the runtime's) running
:mod:`.bootstrap` isolated (``-I -S``) in the extracted code package: a function imports the
standard library, its own package and its layers, nothing else. When the emulator runs as root,
the child runs as ``nobody``, so the code package (read-only files) and the rest of the machine
cannot be written; ``/tmp`` can. Its environment is minimal: a few variables passed through
(``PATH``, locale, proxies, CA bundles), the SCF system variables and the function's own
Environment. The request and the result travel through inherited file descriptors; stdout and
stderr go to a file, never a pipe, so a chatty function cannot block. The Timeout clock starts
when the handler is called (module import is the init phase, limited by InitTimeout); on expiry
the whole process group is killed.
"""

from __future__ import annotations

import json
import os
import pwd
import select
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .interpreters import Interpreters

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
#: Who functions run as when the emulator runs as root (SCF runs them as an unprivileged user).
FUNCTION_USER = "nobody"
#: The most output kept per invocation; beyond it the beginning is dropped (with a note).
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
#: Variables of the emulator's environment a function also sees.
PASSTHROUGH = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


@dataclass(frozen=True)
class RunRequest:
    """One execution.

    :param run_dir: scratch directory for the request, result and output files.
    :param env: SCF system variables plus the function's Environment.
    :param timeout: seconds the handler may run.
    :param init_timeout: seconds the module import may take.
    :param memory_size: MB; a peak RSS above it fails the invocation with 434.
    :param runtime: the function's runtime, e.g. ``Python3.9`` (chooses the interpreter).
    :param opt_dir: the function's layers, merged (SCF's ``/opt``), or ``None``.
    """

    request_id: str
    runtime: str
    code_dir: Path
    opt_dir: Path | None
    run_dir: Path
    handler: str
    event: object
    context: dict
    env: dict[str, str]
    timeout: int
    init_timeout: int
    memory_size: int


@dataclass(frozen=True)
class RunOutcome:
    """What happened.

    :param status: ``success``, ``failed`` or ``timeout``.
    :param status_code: 200, 430 (exception), 433 (timeout), 434 (memory), 405 (process died).
    :param ret_msg: the JSON-encoded return value, or the error JSON.
    :param err_msg: the error JSON, or ``""``.
    :param output: everything the function wrote (stdout, stderr, logging, tracebacks).
    :param mem_usage: peak RSS in bytes (0 when unknown).
    """

    status: str
    status_code: int
    ret_msg: str
    err_msg: str
    output: str
    duration_ms: float
    mem_usage: int


def _read_output(path: Path) -> str:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if size <= MAX_OUTPUT_BYTES:
            return fh.read().decode("utf-8", errors="replace")
        fh.seek(size - MAX_OUTPUT_BYTES)
        tail = fh.read().decode("utf-8", errors="replace")
    return f"[emulator: the first {size - MAX_OUTPUT_BYTES} bytes of output were dropped]\n{tail}"


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def error_json(request_id: str, status_code: int, message: str, stack: str | None = None) -> str:
    """The error object SCF returns as a failed invocation's result."""
    error: dict = {"errorCode": -1, "errorMessage": message, "requestId": request_id}
    if stack is not None:
        error["stackTrace"] = stack
    error["statusCode"] = status_code
    return json.dumps(error, ensure_ascii=False)


def _function_user() -> tuple[int, int] | None:
    """``(uid, gid)`` of :data:`FUNCTION_USER` when this process runs as root, else ``None``."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(FUNCTION_USER)
    return entry.pw_uid, entry.pw_gid


class PythonRuntime:
    """Starts and supervises function processes.

    :param interpreters: which interpreter runs each runtime.
    :param sandbox: a directory every user can read, where the bootstrap is copied (SCF's
        ``/var/runtime``); default: the bootstrap is run where it is installed.
    """

    def __init__(self, interpreters: Interpreters | None = None, sandbox: Path | None = None):
        self.interpreters = interpreters or Interpreters()
        self._user = _function_user()
        self._bootstrap = BOOTSTRAP
        if sandbox is not None:
            runtime_dir = Path(sandbox) / "runtime"
            runtime_dir.mkdir(parents=True, exist_ok=True)
            runtime_dir.chmod(0o755)
            self._bootstrap = runtime_dir / BOOTSTRAP.name
            shutil.copyfile(BOOTSTRAP, self._bootstrap)
            self._bootstrap.chmod(0o444)
        self._lock = threading.Lock()
        self._running: dict[int, subprocess.Popen] = {}
        self._stopped: set[int] = set()
        self._closed = False
        self._requests: dict[str, subprocess.Popen] = {}  # request id -> its process
        self._handling: set[str] = set()  # requests whose handler runs (init is over)
        self._terminate: dict[str, bool] = {}  # request id -> graceful, for terminate()

    def _environment(self, request: RunRequest, ready_write: int) -> dict[str, str]:
        roots = [str(request.code_dir)] + ([str(request.opt_dir)] if request.opt_dir else [])
        env = {name: os.environ[name] for name in PASSTHROUGH if name in os.environ}
        env.update(request.env)
        env.update(
            PYTHONPATH=os.pathsep.join(roots),  # as SCF sets it (isolation ignores it here)
            LD_LIBRARY_PATH=os.pathsep.join(roots),
            PYTHONDONTWRITEBYTECODE="x",
            SCF_EMULATOR_READY_FD=str(ready_write),
        )
        return env

    def run(self, request: RunRequest) -> RunOutcome:
        """Run the handler to completion, failure or timeout (blocks)."""
        python, problem = self.interpreters.find(request.runtime)
        if python is None:
            error = error_json(request.request_id, 405, problem or "no interpreter")
            return RunOutcome("failed", 405, error, error, "", 0.0, 0)
        result_path = request.run_dir / "result.json"
        output_path = request.run_dir / "output.log"
        request_path = request.run_dir / "request.json"
        request_path.write_text(
            json.dumps(
                {
                    "handler": request.handler,
                    "event": request.event,
                    "context": request.context,
                    "code_dir": str(request.code_dir),
                    "opt_dir": str(request.opt_dir) if request.opt_dir else None,
                }
            ),
            "utf-8",
        )
        ready_read, ready_write = os.pipe()
        request_fd = os.open(request_path, os.O_RDONLY)
        result_fd = os.open(result_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        fds = (ready_write, request_fd, result_fd)
        user = {}
        if self._user is not None:
            user = {"user": self._user[0], "group": self._user[1], "extra_groups": []}
        started = time.monotonic()
        with open(output_path, "wb") as output:
            try:
                process = subprocess.Popen(
                    [python, "-I", "-S", "-B", "-u", str(self._bootstrap), *map(str, fds[1:])],
                    cwd=request.code_dir,
                    env=self._environment(request, ready_write),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    pass_fds=fds,
                    start_new_session=True,
                    **user,
                )
            finally:
                for fd in fds:
                    os.close(fd)
            with self._lock:
                self._running[process.pid] = process
                self._requests[request.request_id] = process
                closing = self._closed
                if closing:
                    self._stopped.add(process.pid)
                kill_now = self._terminate.get(request.request_id) is False
            if closing or kill_now:  # stopping, or terminated before it started
                self._kill(process)
            try:
                phase = self._supervise(process, ready_read, request)
            finally:
                os.close(ready_read)
                with self._lock:
                    self._running.pop(process.pid, None)
                    self._requests.pop(request.request_id, None)
                    self._handling.discard(request.request_id)
                    self._terminate.pop(request.request_id, None)
                    stopped = process.pid in self._stopped
                    self._stopped.discard(process.pid)
        elapsed_ms = (time.monotonic() - started) * 1000.0
        text = _read_output(output_path)
        return self._outcome(request, phase, stopped, process, result_path, text, elapsed_ms)

    def _supervise(self, process: subprocess.Popen, ready_read: int, request: RunRequest) -> str:
        ready, _, _ = select.select([ready_read], [], [], request.init_timeout)
        if not ready:
            self._kill(process)
            return "init_timeout"
        os.read(ready_read, 1)
        with self._lock:
            self._handling.add(request.request_id)
            sigterm = self._terminate.get(request.request_id) is True
        if sigterm:  # a graceful terminate() asked for during the init phase
            _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=request.timeout)
        except subprocess.TimeoutExpired:
            self._kill(process)
            return "timeout"
        return "done"

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        _signal_group(process, signal.SIGKILL)
        process.wait()

    def terminate(self, request_id: str, graceful: bool = False) -> None:
        """Stop the execution of ``request_id``, now or as soon as it starts: SIGKILL to its
        process group, or (``graceful``) SIGTERM once its handler runs."""
        with self._lock:
            self._terminate[request_id] = graceful
            process = self._requests.get(request_id)
            handling = request_id in self._handling
        if process is not None and not graceful:
            _signal_group(process, signal.SIGKILL)
        elif process is not None and handling:
            _signal_group(process, signal.SIGTERM)

    def _outcome(
        self,
        request: RunRequest,
        phase: str,
        stopped: bool,
        process: subprocess.Popen,
        result_path: Path,
        output: str,
        elapsed_ms: float,
    ) -> RunOutcome:
        rid = request.request_id

        def failure(status: str, code: int, message: str, duration: float, stack=None, mem=0):
            error = error_json(rid, code, message, stack)
            return RunOutcome(status, code, error, error, output, duration, mem)

        if stopped:
            return failure("failed", 405, "the emulator stopped while the function ran", elapsed_ms)
        if phase == "timeout":
            message = f"Invoking task timed out after {request.timeout} seconds"
            return failure("timeout", 433, message, request.timeout * 1000.0)
        if phase == "init_timeout":
            message = f"Initializing task timed out after {request.init_timeout} seconds"
            return failure("timeout", 433, message, elapsed_ms)
        try:
            result = json.loads(result_path.read_text("utf-8"))
        except (OSError, ValueError):
            message = f"the function's process exited unexpectedly (exit code {process.returncode})"
            return failure("failed", 405, message, elapsed_ms)
        duration = float(result.get("duration_ms", elapsed_ms))
        mem_usage = int(result.get("maxrss_kb", 0)) * 1024
        if mem_usage > request.memory_size * 1024 * 1024:
            message = f"Task memory exceeded {request.memory_size} MB"
            return failure("failed", 434, message, duration, mem=mem_usage)
        if not result.get("ok"):
            stack = (
                result.get("stack") or f"{result.get('error_type')}: {result.get('error_message')}"
            )
            return failure("failed", 430, "user code exception caught", duration, stack, mem_usage)
        return RunOutcome("success", 200, result["ret"], "", output, duration, mem_usage)

    def close(self) -> None:
        """Kill every running function, and any that starts from now on."""
        with self._lock:
            self._closed = True
        self.stop_all()

    def stop_all(self) -> None:
        """Kill every running function (a reset, or the emulator is stopping)."""
        with self._lock:
            running = list(self._running.values())
            self._stopped.update(p.pid for p in running)
        for process in running:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
