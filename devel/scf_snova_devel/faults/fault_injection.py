"""A test-only SCF handler around the COS import function (``index.main_handler``) that makes
chosen attempts of an event fail, to show that the import stays exactly-once under SCF's retries.

It is copied into a test's code package next to ``functions/cos_import`` and deployed with
``Handler=fault_injection.main_handler``; nothing in ``functions/`` knows about it. It runs inside
the function (Python 3.9, the package's own imports), never on the host.

``FAULT_PLAN`` (environment) says what each attempt of an event does, comma-separated, attempt
0 first; attempts beyond the plan run normally:

- ``before_commit``: the first object's rows and ledger row are written, then the load fails
  inside its transaction, before the commit (the loader rolls it back);
- ``after_commit``: the first object's load commits, then the invocation fails;
- ``none``: run normally.

The attempt number is counted where every attempt can see it, whichever instance runs it: each
attempt first lists and then writes ``<FAULT_STATE_PREFIX><request id>/<n>`` in
``FAULT_STATE_BUCKET``, with the function's own COS settings (``cos_source``).
"""

import os
from contextlib import contextmanager

import index
import snova_loader
from cos_source import CosSettings, CosSource


class InjectedFault(RuntimeError):
    """The failure this wrapper injects."""


def _attempt(cos, bucket, prefix, request_id):
    folder = f"{prefix}{request_id}/"
    listed = cos.client.list_objects(Bucket=bucket, Prefix=folder, MaxKeys=1000)
    attempt = len(listed.get("Contents") or [])
    cos.client.put_object(Bucket=bucket, Key=f"{folder}{attempt}", Body=b"")
    return attempt


@contextmanager
def _patched(owner, name, make):
    original = getattr(owner, name)
    setattr(owner, name, make(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def _fail_before_commit(record):
    def wrapper(self, cur, entry):
        record(self, cur, entry)
        raise InjectedFault(
            f"injected failure before the commit of {entry.key} (rows and ledger row written)"
        )

    return wrapper


def _fail_after_commit(load):
    def wrapper(self, bucket, key):
        result = load(self, bucket, key)
        if result["status"] == "loaded":
            raise InjectedFault(f"injected failure after the commit of {key}")
        return result

    return wrapper


@contextmanager
def _fault(kind):
    if kind == "before_commit":
        with _patched(snova_loader.LoadLedger, "record", _fail_before_commit):
            yield
    elif kind == "after_commit":
        with _patched(snova_loader.SnovaObjectLoader, "load", _fail_after_commit):
            yield
    elif kind in ("", "none"):
        yield
    else:
        raise ValueError(f"unknown FAULT_PLAN entry {kind!r}")


def main_handler(event, context):
    env = os.environ
    cos = CosSource(CosSettings.from_environ(env))
    attempt = _attempt(
        cos,
        env["FAULT_STATE_BUCKET"],
        env.get("FAULT_STATE_PREFIX", "attempts/"),
        context["request_id"],
    )
    plan = [p.strip() for p in env.get("FAULT_PLAN", "").split(",") if p.strip()]
    kind = plan[attempt] if attempt < len(plan) else "none"
    print(f"fault injection: attempt {attempt} of {context['request_id']}: {kind}")
    with _fault(kind):
        return index.main_handler(event, context)
