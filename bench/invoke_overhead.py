"""4. Invoke overhead: ``SCFInvokeFunctionOperator`` (sync) against a bare SDK ``Invoke`` of the
same no-op function on the emulator.

Both sides run in this process against the emulator (the function itself runs in the emulator's
child process, as every invocation does). A new operator is built for every invocation, as each
task instance gets its own; the bare SDK side is measured twice: building its client for every
call (what a hand-written task does) and reusing one client (the bare minimum). The emulator
counts the API actions each side sends.

Run alone: ``python -m bench.invoke_overhead [--reps N]``.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from typing import Any

from bench.common import (
    Section,
    Verdict,
    interleave,
    load_average,
    median,
    publish_as_asked,
    script_parser,
    spread,
)

GOAL = 1.1
NOOP = "def main_handler(event, context):\n    return {}\n"


class ActionCounter:
    """Counts the SCF API actions (``X-TC-Action``) the emulator serves while installed."""

    def __init__(self, emulator) -> None:
        self._scf = emulator.scf
        self._original = emulator.scf.handle
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()

    def __enter__(self) -> ActionCounter:
        def counting(exchange) -> None:
            with self._lock:
                self.counts[exchange.headers.get("X-TC-Action", "?")] += 1
            self._original(exchange)

        self._scf.handle = counting
        return self

    def __exit__(self, *exc) -> None:
        self._scf.handle = self._original

    def take(self) -> dict[str, int]:
        with self._lock:
            value = dict(self.counts)
            self.counts.clear()
        return value


def _deploy(env, name: str) -> None:
    from airflow_scf_snova.hooks.scf import SCFHook
    from airflow_scf_snova.scf.packaging import package_directory

    code = env.workdir("noop")
    (code / "index.py").write_text(NOOP)
    hook = SCFHook()
    hook.create_function(
        name,
        hook.zip_code(package_directory(code).data),
        handler="index.main_handler",
        runtime="Python3.9",
        timeout=3,
    )
    hook.wait_for_function_status(name, poll_interval=0.02)


def _bare_client(env):
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.scf.v20180416.scf_client import ScfClient

    cfg = env.emulator.config
    http = HttpProfile(protocol="http", endpoint=f"127.0.0.1:{env.emulator.port}")
    return ScfClient(
        credential.Credential(cfg.secret_id, cfg.secret_key),
        cfg.region,
        ClientProfile(httpProfile=http),
    )


def _bare_invoke(client, name: str) -> Any:
    from tencentcloud.scf.v20180416 import models

    request = models.InvokeRequest()
    request.FunctionName = name
    request.Namespace = "default"
    request.InvocationType = "RequestResponse"
    request.ClientContext = "{}"
    request.LogType = "Tail"
    response = client.Invoke(request)
    if response.Result.InvokeResult != 0:
        raise RuntimeError(f"the no-op function failed: {response.Result.ErrMsg}")
    return response.Result.RetMsg


def run(env, reps: int = 30, warmup: int = 3) -> Section:
    """Invoke the no-op function ``reps`` times per side, interleaved.

    :param env: a :class:`bench.env.BenchEnv` with the emulator (the ``tencentcloud_default``
        connection points at it).
    """
    from airflow_scf_snova.operators.scf import SCFInvokeFunctionOperator

    load_before = load_average()
    name = f"bench-noop-{uuid.uuid4().hex[:8]}"
    _deploy(env, name)
    reused = _bare_client(env)
    counter = ActionCounter(env.emulator)

    def timed(fn) -> dict[str, Any]:
        counter.take()
        started = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "actions": counter.take(), "value": value}

    def operator() -> Any:
        task = SCFInvokeFunctionOperator(
            task_id=f"invoke_{uuid.uuid4().hex[:6]}",
            function_name=name,
            payload={},
            do_xcom_push=False,
        )
        return task.execute({})

    sides = {
        "SCFInvokeFunctionOperator": lambda: timed(operator),
        "bare SDK, new client per call": lambda: timed(
            lambda: _bare_invoke(_bare_client(env), name)
        ),
        "bare SDK, one client": lambda: timed(lambda: _bare_invoke(reused, name)),
    }
    with counter:
        results = interleave(sides, reps, warmup=warmup)

    stats = {}
    rows = []
    for side, values in results.items():
        seconds = [v["seconds"] * 1000 for v in values]
        actions = collections.Counter()
        for v in values:
            actions.update(v["actions"])
        per_call = ", ".join(f"{k} x{n / len(values):g}" for k, n in sorted(actions.items()))
        stats[side] = median(seconds)
        rows.append([side, median(seconds), spread(seconds), per_call])
    ours = stats["SCFInvokeFunctionOperator"]
    verdicts = [
        Verdict(
            f"Invoke: operator <= {GOAL}x a bare SDK Invoke (one client, reused)",
            f"{ours:.1f} ms vs {stats['bare SDK, one client']:.1f} ms",
            f"{ours / stats['bare SDK, one client']:.2f}x",
            ours <= GOAL * stats["bare SDK, one client"],
        ),
        Verdict(
            f"Invoke: operator <= {GOAL}x a bare SDK Invoke (client built per call, as a task)",
            f"{ours:.1f} ms vs {stats['bare SDK, new client per call']:.1f} ms",
            f"{ours / stats['bare SDK, new client per call']:.2f}x",
            ours <= GOAL * stats["bare SDK, new client per call"],
        ),
    ]

    def chart(plt, fig) -> None:
        ax = fig.add_subplot(1, 1, 1)
        data = [[v["seconds"] * 1000 for v in results[side]] for side in results]
        ax.boxplot(data, vert=False, showfliers=False)
        ax.set_yticks(range(1, len(results) + 1), list(results), fontsize=8)
        ax.set_xlabel("wall time of one sync invoke of a no-op function (ms)")
        ax.set_xlim(left=0)

    method = f"""
A no-op Python function (`return {{}}`) is deployed on the emulator and invoked synchronously
({reps} rounds after {warmup} warm-up rounds; a round is one invoke per side, in an order rotated
every round). Every invoke starts a Python process in the emulator, as SCF's runtime does for a cold
start, which dominates both sides. The operator side builds a new `SCFInvokeFunctionOperator` and
calls `execute()` (hook from the connection, payload check, the call(s), the log written to the
task log, the return value decoded); `do_xcom_push=False`, so no XCom is pushed (the bare side
pushes none either). *API actions per call* are counted by the emulator.
"""
    return Section(
        name="invoke_overhead",
        title="4. Invoke overhead",
        method=method,
        headers=["Side", "Wall (ms, median)", "Range (ms)", "API actions per call"],
        rows=rows,
        verdicts=verdicts,
        chart=chart,
        load_before=load_before,
        load_after=load_average(),
    )


def main(argv: list[str] | None = None) -> None:
    args = script_parser(__doc__, reps=30).parse_args(argv)
    from bench.env import BenchEnv

    with BenchEnv(start_snova=False) as env:
        section = run(env, reps=args.reps)
    publish_as_asked(section, args)


if __name__ == "__main__":
    main()
