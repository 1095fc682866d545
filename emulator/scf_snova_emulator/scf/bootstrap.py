"""SCF extra ``bootstrap``: run one SCF invocation in this (child) process,
``python bootstrap.py REQUEST_JSON``.

Started by :mod:`.runtime` with the working directory set to the extracted code package. Uses the
standard library only and never imports the emulator. Steps:

1. import the handler's module from the package (the init phase);
2. tell the parent the handler starts, by writing one byte to the file descriptor named in
   ``SCF_EMULATOR_READY_FD``, so the parent's Timeout clock covers the handler only;
3. call ``handler(event, context)``; stdout, stderr and ``logging`` all go to the one output
   file the parent gave us as stdout/stderr;
4. write ``{"ok", "ret" | "error_type", "error_message", "stack", "duration_ms",
   "maxrss_kb"}`` to the request's ``result_path``;
5. kill its own process group (itself and whatever the function left running).
"""

import importlib
import json
import logging
import os
import resource
import signal
import sys
import time
import traceback


def _signal_ready():
    fd = os.environ.pop("SCF_EMULATOR_READY_FD", None)
    if fd is not None:
        try:
            os.write(int(fd), b"s")
            os.close(int(fd))
        except OSError:
            pass


def _write_result(path, result):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    os.replace(tmp, path)


def _peak_rss_kb():
    """This process's peak RSS in KB. ``VmHWM`` where /proc exists: ``ru_maxrss`` survives
    exec, so it would report the emulator's own peak (the process we were forked from)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _configure_logging(request_id):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t" + request_id + "\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main(request_path):
    with open(request_path, encoding="utf-8") as fh:
        request = json.load(fh)
    code_dir = os.getcwd()
    # sys.path[0] is this script's directory (the emulator's package): the function must not
    # see it. The code package comes first, as /var/user does on SCF.
    sys.path[0] = code_dir
    _configure_logging(request["context"]["request_id"])
    module_name, _, function_name = request["handler"].rpartition(".")
    result = {"ok": False}
    started = None
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, function_name)
        _signal_ready()
        started = time.monotonic()
        value = function(request["event"], request["context"])
        result["duration_ms"] = (time.monotonic() - started) * 1000.0
        try:
            result["ret"] = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"the return value is not JSON serializable: {exc}") from exc
        result["ok"] = True
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are user errors too
        if started is not None:
            result["duration_ms"] = (time.monotonic() - started) * 1000.0
        stack = traceback.format_exc()
        sys.stdout.flush()
        sys.stderr.write(stack)
        result.update(
            ok=False,
            phase="invoke" if started is not None else "init",
            error_type=type(exc).__name__,
            error_message=str(exc),
            stack=stack.rstrip("\n"),
        )
    finally:
        _signal_ready()
        sys.stdout.flush()
        sys.stderr.flush()
        result["maxrss_kb"] = _peak_rss_kb()
        _write_result(request["result_path"], result)


if __name__ == "__main__":
    main(sys.argv[1])
    # The invocation is over once the result is written: skip interpreter teardown (atexit
    # handlers, non-daemon threads) and take down any process the function started, which share
    # our process group. Done from here, before the parent reaps us, so the group id cannot have
    # been reused by another invocation.
    try:
        os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(0)
