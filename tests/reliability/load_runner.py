"""Run one ``COSToSnovaOperator`` load in this process, as a worker's task process would.

Used by the reliability tests as a child process (``python load_runner.py '<json spec>'``) so that
the test can terminate its database backend or ``kill -9`` it, and as the function of the
concurrent-load process pool (:func:`run_load`).

The spec: ``{"operator": {COSToSnovaOperator kwargs}, "run_id": str, "conns": {conn_id: uri},
"gate": {"key", "after", "fifo"}}``. With a gate, the object ``key`` is streamed normally until
``after`` bytes have gone into COPY; then the process prints ``REACHED`` and blocks reading the
FIFO ``fifo`` until the test opens it for writing (or kills the process). Nothing else is changed:
the real operator, hook, SDK and database driver run. Prints ``RESULT <json>`` (the operator's
return value) or ``ERROR <json>`` (exception type, message, object key) and exits 0 or 1.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _install_gate(key: str, after: int, fifo: str, claim=None) -> None:
    """Wrap the hook's object stream of ``key``: no real part can pause a stream at a known byte
    deterministically, so this is the one seam (the stream itself stays the real one).

    :param claim: called when the gate is reached; when it returns false, the stream passes
        without stopping (a gate that holds one process only, whichever gets there first).
    """
    from airflow_scf_snova.hooks.cos import COSHook

    original = COSHook.open_object

    class GatedStream:
        def __init__(self, stream) -> None:
            self._stream = stream
            self._read = 0
            self._passed = False

        def read(self, size: int = -1) -> bytes:
            if not self._passed and self._read >= after:
                self._passed = True
                if claim is not None and not claim():
                    return self._stream.read(size if size and size > 0 else 65536)
                print("REACHED", flush=True)
                with open(fifo) as gate:  # blocks until the test opens the writing end
                    gate.read()
            data = self._stream.read(size if size and size > 0 else 65536)
            self._read += len(data)
            return data

        def close(self) -> None:
            self._stream.close()

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.close()

    def open_object(self, bucket, obj_key, byte_range=None, if_match=None):
        stream = original(self, bucket, obj_key, byte_range, if_match)
        return GatedStream(stream) if obj_key == key else stream

    COSHook.open_object = open_object


def run_load(spec: dict) -> dict:
    """Run the load described by ``spec``; returns ``{"ok", "result" | "error", "seconds"}``."""
    for conn_id, uri in (spec.get("conns") or {}).items():
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = uri
    gate = spec.get("gate")
    if gate:
        _install_gate(gate["key"], int(gate["after"]), gate["fifo"])
    from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

    kwargs = dict(spec["operator"])
    kwargs.setdefault("task_id", "load")
    started = time.monotonic()
    try:
        operator = COSToSnovaOperator(**kwargs)
        result = operator.execute({"run_id": spec.get("run_id", "reliability")})
    except Exception as err:
        return {
            "ok": False,
            "error": {
                "type": type(err).__name__,
                "message": str(err),
                "key": getattr(err, "key", None),
            },
            "seconds": time.monotonic() - started,
        }
    return {"ok": True, "result": result, "seconds": time.monotonic() - started}


def main() -> int:
    outcome = run_load(json.loads(sys.argv[1]))
    if outcome["ok"]:
        print("RESULT " + json.dumps(outcome["result"]), flush=True)
        return 0
    print("ERROR " + json.dumps(outcome["error"]), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
