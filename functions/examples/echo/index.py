"""An SCF function for the examples and tests: it echoes its event and can misbehave on request.

Event keys (all optional):

- ``fail``: raise ``ValueError`` with this message (status 430);
- ``sleep``: sleep this many seconds first (past the function's Timeout: status 433);
- ``print_bytes``: print about this many bytes of numbered lines, then ``END-OF-OUTPUT``.

The return value is JSON: the event, the ``GREETING`` variable, whether ``DB_PASSWORD`` is set
(never its value) and the execution's request id.
"""

import os
import time


def main_handler(event, context):
    print("echo received keys:", sorted(event) if isinstance(event, dict) else type(event).__name__)
    event = event if isinstance(event, dict) else {"value": event}
    if event.get("sleep"):
        time.sleep(float(event["sleep"]))
    if event.get("print_bytes"):
        written, line_no = 0, 0
        while written < int(event["print_bytes"]):
            line = f"line {line_no:06d} " + "x" * 90
            print(line)
            written += len(line) + 1
            line_no += 1
        print("END-OF-OUTPUT")
    if event.get("fail"):
        raise ValueError(event["fail"])
    return {
        "event": event,
        "greeting": os.environ.get("GREETING"),
        "has_db_password": bool(os.environ.get("DB_PASSWORD")),
        "request_id": context["request_id"],
    }
